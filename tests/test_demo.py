"""``latteprov demo --no-serve``: the campaign loaded, one configuration invalidated, the URL and
three commands printed; and a second run changes nothing and does not fail."""
from __future__ import annotations

import re

from latteprov import frontier, lineage
from latteprov.cli import demo


def graph_size(store) -> tuple[int, int, int]:
    nodes = store.run_text("MATCH (n) RETURN count(n) AS n")[0]["n"]
    edges = store.run_text("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
    events = store.run_text("MATCH (i:Invalidation) RETURN count(i) AS n")[0]["n"]
    return nodes, edges, events


def test_demo_loads_invalidates_and_prints_where_to_look(cli, store) -> None:
    result = cli("demo", "--no-serve", "--port", "5123")
    assert result.exit_code == 0, result.output
    url = re.search(r"http://127\.0\.0\.1:5123/graph\?node=(Baryon3pt:\w+)", result.output)
    assert url, result.output
    showcase = lineage.details(store, url.group(1))["node"]
    assert showcase["kind"] == "Baryon3pt" and showcase["valid"] is False
    assert lineage.details(store, demo.BAD_CONFIG)["node"]["valid"] is False
    assert f"latteprov lineage {url.group(1)}" in result.output and "latteprov status" in result.output
    assert store.run_text("MATCH (e:Ensemble) RETURN count(e) AS n")[0]["n"] >= 2


def test_demo_twice_is_idempotent(cli, store) -> None:
    assert cli("demo", "--no-serve").exit_code == 0
    first = graph_size(store)
    again = cli("demo", "--no-serve")
    assert again.exit_code == 0, again.output
    assert graph_size(store) == first  # same nodes, edges and one invalidation event
    assert first[2] == 1


def test_demo_plans_a_campaign_with_ready_and_queued_work(cli, store, settings) -> None:
    result = cli("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    answer = frontier.ready(store)
    steps = {g["step"]: (g["ready"], g["queued"]) for g in answer["groups"]}
    assert steps["source"] == (3 * 4 - demo.SOURCE_TASKS, demo.SOURCE_TASKS)  # flows of 3 configurations done
    assert steps["flow"] == (2, 0)
    tasks = sorted((settings.data_dir / "demo-metaq" / "todo").glob("src_*.sh"))
    assert len(tasks) == demo.SOURCE_TASKS
    assert "latteprov ready" in result.output and "demo-metaq" in result.output


def test_the_real_file_is_recorded_at_one_path_whatever_the_installation(store, tmp_path) -> None:
    """The demo ingests its copy of the shipped file, not the package's path (which changes
    with each virtual environment): running it again records no second file."""
    from latteprov.cli import demo

    demo.load_real_file(store, tmp_path / "demo")
    again = demo.load_real_file(store, tmp_path / "demo")
    assert " 0 nodes created" in again
    paths = {r["path"] for r in store.run_text("MATCH (f:DataFile) RETURN DISTINCT f.path AS path")}
    assert paths == {str(tmp_path / "demo" / "a15m310-devel.h5")}
