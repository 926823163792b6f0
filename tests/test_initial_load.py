"""The bulk first load (``--initial``): into an empty local database through neo4j-admin, the
same graph as the transactional path (uids, properties, edges, status tallies) for a synthetic
campaign and for its file names; refused with one line, nothing written, when the database is
not empty or not the local one."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange_support import fingerprint
from latteprov import synth
from latteprov.cli import main
from latteprov.config import load_settings
from latteprov.ingest import conventions
from latteprov.ingest.names import ingest_names
from latteprov.server import manager
from latteprov.store import Store


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> dict[str, str]:
    """The environment of a user whose database is the local server of their data directory
    (what 'latteprov db start' runs): no NEO4J_URI, the server found from the data directory."""
    data = tmp_path_factory.mktemp("local-data")
    values = {k: v for k, v in env.items() if k != "NEO4J_URI"}
    values.update(LATTEPROV_DATA_DIR=str(data), LATTEPROV_SPOOL=str(data / "spool"))
    settings = load_settings(values)
    manager.start(settings.server_dir, settings.cache_dir, port=manager.free_port(), auth=False,
                  page_cache="64m", heap="512m")
    yield values
    manager.stop(settings.server_dir)


def _run(env: dict[str, str], *args: str):
    clean = {k: None for k in os.environ if k.startswith("NEO4J_")}  # the test server's, if set
    return CliRunner(env={**clean, **env}).invoke(main, [str(a) for a in args], catch_exceptions=False)


def _emptied(env: dict[str, str]) -> Store:
    store = Store(load_settings(env))
    store.clear()
    return store


def test_synth_initial_is_the_transactional_graph(store, local) -> None:
    _emptied(local).close()
    loaded = _run(local, "synth", "--tier", "S", "--initial")
    assert loaded.exit_code == 0, loaded.output
    expected = synth.counts("S")
    assert f"{expected['nodes']} nodes and {expected['edges']} edges loaded by neo4j-admin" in loaded.output
    synth.write(store, "S", 0)  # the transactional path, into the tests' own server
    with Store(load_settings(local)) as bulk:
        assert fingerprint(bulk, skip_props=("created_at",)) == fingerprint(store, skip_props=("created_at",))
    # not empty now: refused, one line, nothing changed
    again = _run(local, "synth", "--tier", "S", "--initial")
    assert again.exit_code == 1 and again.output.count("\n") == 1
    assert "--initial needs an empty database" in again.output


def test_names_initial_is_the_transactional_graph(store, local, tmp_path: Path) -> None:
    _emptied(local).close()
    names = tmp_path / "names.txt"
    names.write_text("\n".join(synth.names("S", 0)) + "\n")
    loaded = _run(local, "ingest", "names", "--initial", "--from-list", names)
    assert loaded.exit_code == 0, loaded.output
    report = ingest_names(store, conventions.load(), names.read_text().splitlines())
    assert report.matched == len(names.read_text().splitlines())
    with Store(load_settings(local)) as bulk:
        assert fingerprint(bulk, skip_props=("created_at",)) == fingerprint(store, skip_props=("created_at",))
    assert f"{report.written.entities_created} nodes created" in loaded.output


def test_initial_into_a_server_that_is_not_the_local_one_is_refused(store, env, tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("\n".join(synth.names("S", 0)) + "\n")
    for args in (("ingest", "names", "--initial", "--from-list", names), ("synth", "--initial")):
        refused = _run(env, *args)
        assert refused.exit_code == 1 and refused.output.count("\n") == 1, refused.output
        assert "--initial loads only the local server" in refused.output
    assert store.run_text("MATCH (n) WHERE NOT n:Lock AND NOT n:Tally RETURN count(n) AS n")[0]["n"] == 0


def test_a_batch_the_checks_refuse_leaves_the_database_empty(local, tmp_path: Path) -> None:
    _emptied(local).close()
    names = tmp_path / "names.txt"  # an unknown MILC long tag is a problem line; a bad origin is refused
    names.write_text("prop_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t620.lime\n")
    refused = _run(local, "ingest", "names", "--initial", "--from-list", names)
    assert refused.exit_code == 1 and refused.output.count("\n") == 1, refused.output
    with Store(load_settings(local)) as after:
        assert after.run_text("MATCH (n) WHERE NOT n:Lock AND NOT n:Tally RETURN count(n) AS n")[0]["n"] == 0
    assert not list((load_settings(local).server_dir).glob("bulk-*"))


def test_initial_and_dry_run_or_write_exclude_each_other(local) -> None:
    assert _run(local, "synth", "--initial", "--write").exit_code == 2
    assert _run(local, "ingest", "names", "--initial", "--dry-run", "x").exit_code == 2


def test_an_ensemble_extent_after_products_outside_it_is_refused_as_the_write_path_does(store, tmp_path: Path) -> None:
    """Order of events: a source placed at t=100 on an ensemble not yet known, then the
    ensemble with nt=96. The transactional path refuses the second batch; so does the CSV
    writer of the bulk first load (no database needed: it refuses before any import)."""
    from datetime import datetime, timezone

    from latteprov import bulkload
    from latteprov.checks import CheckError
    from latteprov.graph import GraphBatch

    first = GraphBatch()
    first.add("Source", name="far", ensemble="zz01m100", stream="a", config=1, x=0, y=0, z=0, t=100)
    second = GraphBatch()
    second.add("Ensemble", name="zz01m100", tag="zz01m100", nx=32, nt=96)
    from latteprov import graph

    graph.write(store, first)
    with pytest.raises(CheckError, match="already recorded, has origin t=100"):
        graph.write(store, second)
    with pytest.raises(CheckError, match="already recorded, has origin t=100"):
        with bulkload.CsvWriter(tmp_path / "csv", datetime.now(timezone.utc)) as writer:
            writer.put(first)
            writer.put(second)
