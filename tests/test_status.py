"""The status report: one row per (ensemble, kind) with state, validity and file counts."""
from __future__ import annotations

import json

import pytest
from rich.console import Console

from latteprov import graph, model, status, tally
from latteprov.cli.output import status_table
from latteprov.errors import NotFound
from latteprov.graph import GraphBatch
from latteprov.ingest import datafiles
from latteprov.ingest.scan import scan


def test_rows_have_exactly_the_documented_keys(store, campaign) -> None:
    rows = status.status(store)
    assert all(tuple(r) == status.COLUMNS for r in rows)
    assert {(r["ensemble"], r["kind"]) for r in rows} >= {("a09m310", "OneToAll"), ("a12m310", "Baryon3pt"),
                                                          (None, "MobiusDW")}


def test_counts_per_ensemble_and_kind(store, campaign) -> None:
    rows = {(r["ensemble"], r["kind"]): r for r in status.status(store, "a09m310")}
    props = rows[("a09m310", "OneToAll")]
    assert (props["total"], props["done"], props["planned"], props["invalid"]) == (4, 4, 0, 0)
    assert (props["on_disk"], props["on_tape"], props["missing"], props["unknown"]) == (2, 2, 0, 0)
    seq = rows[("a09m310", "Sequential")]
    assert (seq["total"], seq["planned"], seq["done"], seq["on_disk"]) == (4, 4, 0, 0)  # no files: no file counts
    assert {e for e, _ in rows} == {"a09m310"}


def test_states_and_file_statuses_are_counted(store) -> None:
    b = GraphBatch()
    for i, (state, file_status) in enumerate([("planned", None), ("queued", None), ("running", "unknown"),
                                              ("done", "on_disk"), ("done", "wrong_size"), ("failed", "missing")]):
        uid = b.add("Source", name=f"s{i}", state=state, ensemble="e1", stream="a", config=1, x=i, y=0, z=0, t=0)
        if file_status:
            b.add_file(uid, f"/data/s{i}", host="h", status=file_status)
    graph.write(store, b)
    (row,) = status.status(store, "e1")
    assert row == {"ensemble": "e1", "kind": "Source", "total": 6, "planned": 1, "queued": 1, "running": 1, "done": 2,
                   "failed": 1, "invalid": 0, "on_disk": 1, "on_tape": 0, "missing": 1, "wrong_size": 1,
                   "unknown": 1}


def test_file_counts_follow_rewrites_and_scans(store, tmp_path) -> None:
    """Each file of a product counts once, and a changed file status shows (write path and scan)."""
    (tmp_path / "a.lime").write_bytes(b"x")
    b = GraphBatch()
    uid = b.add("Source", name="s", ensemble="e2", stream="a", config=1, x=0, y=0, z=0, t=0)
    b.add_file(uid, str(tmp_path / "a.lime"), host=datafiles.host(), status="unknown")
    b.add_file(uid, str(tmp_path / "gone.lime"), host=datafiles.host(), status="on_tape")
    graph.write(store, b)

    def files() -> tuple[int, ...]:
        (row,) = status.status(store, "e2")
        return tuple(row[c] for c in ("on_disk", "on_tape", "missing", "wrong_size", "unknown"))

    assert files() == (0, 1, 0, 0, 1)
    again = GraphBatch()
    again.add_file(None, str(tmp_path / "gone.lime"), host=datafiles.host(), status="wrong_size")
    graph.write(store, again)
    assert files() == (0, 0, 0, 1, 1)
    scan(store, [str(tmp_path)])
    assert files() == (1, 0, 1, 0, 0)


def test_unknown_ensemble_is_not_found(store, campaign) -> None:
    with pytest.raises(NotFound, match="a99m999"):
        status.status(store, "a99m999")


def test_status_command_table_and_json(cli, store, campaign) -> None:
    table = cli("status", "--ensemble", "a12m310")
    assert table.exit_code == 0 and "completion by ensemble and kind" in table.output and "a09m310" not in table.output
    assert json.loads(cli("status", "--format", "json").output) == status.status(store)


def test_status_command_unknown_ensemble(cli, campaign) -> None:
    result = cli("status", "--ensemble", "nope")
    assert result.exit_code == 1 and result.output == "Error: no entities of ensemble 'nope'\n"


def test_every_view_of_completion_speaks_the_models_vocabulary(client, store) -> None:
    """The tallies, the scan, the CLI table and the dashboard take their states and file
    statuses from the model: one of each in a tiny graph shows in every one of them."""
    b = GraphBatch()
    for i, state in enumerate(model.STATES):
        uid = b.add("Source", name=f"v{i}", state=state, ensemble="e3", stream="a", config=1, x=i, y=0, z=0, t=0)
        b.add_file(uid, f"/data/v{i}", host="h", status=model.FILE_STATUSES[i % len(model.FILE_STATUSES)])
    graph.write(store, b)
    (row,) = status.status(store, "e3")
    assert row == status.scan(store, "e3")[0]
    assert all(row[s] == 1 for s in model.STATES)
    (tally_node,) = store.run_text("MATCH (t:Tally {ensemble: 'e3'}) RETURN properties(t) AS p")
    assert set(tally_node["p"]) == {"ensemble", "kind", *tally.COUNTS}
    console = Console(width=300, record=True)
    console.print(status_table([row]))
    header = next(line for line in console.export_text().splitlines() if "┃ ensemble" in line)
    for word in (*model.STATES, *(f.replace("_", " ") for f in model.FILE_STATUSES)):
        assert word in header
    page = client.get("/dashboard?ensemble=e3").get_data(as_text=True)
    for word in (*model.STATES, *(f.replace("_", " ") for f in model.FILE_STATUSES)):
        assert word in page


def test_a_tally_written_before_a_state_existed_counts_it_zero(store, campaign) -> None:
    """Tally nodes lack the columns of states added later (queued): the report reads 0."""
    store.run_text("MATCH (t:Tally) REMOVE t.queued", write=True)
    assert all(r["queued"] == 0 for r in status.status(store))
    assert status.status(store) == status.scan(store)
