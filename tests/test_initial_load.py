"""The bulk first load (``--initial``): into an empty local database through neo4j-admin, the
same graph as the transactional path (uids, properties, edges, status tallies) for a synthetic
campaign and for its file names; refused with one line, nothing written, when the database is
not empty or not the local one."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange_support import fingerprint
from latteprov import synth
from latteprov.cli import main
from latteprov.cli.output import DOCUMENT, GRAPH
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


def test_synth_initial_is_the_transactional_graph(store, local, env) -> None:
    _emptied(local).close()
    loaded = _run(local, "synth", "--tier", "S", "--initial")
    assert loaded.exit_code == 0, loaded.output
    expected = synth.counts("S")
    assert f"{expected['nodes']} nodes and {expected['edges']} edges loaded by neo4j-admin" in loaded.output
    synth.write(store, "S", 0)  # the transactional path, into the tests' own server
    with Store(load_settings(local)) as bulk:
        assert fingerprint(bulk, skip_props=("created_at",)) == fingerprint(store, skip_props=("created_at",))
    _same_answers(store, local, env)
    # not empty now: refused, one line, nothing changed
    again = _run(local, "synth", "--tier", "S", "--initial")
    assert again.exit_code == 1 and again.output.count("\n") == 1
    assert "--initial needs an empty database" in again.output


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)?(?:\[[^\]]*\])?")


def _same_answers(store: Store, local: dict[str, str], env: dict[str, str]) -> None:
    """lineage, downstream and show answer byte for byte alike (but the load's created_at) in
    every format from the bulk-loaded graph and the transactional one, for a node of each kind."""
    uids = [r["uid"] for r in store.run_text("MATCH (n:Entity) WITH n.kind AS kind, min(n.uid) AS uid "
                                             "RETURN uid ORDER BY uid")]
    runs = [r["uid"] for r in store.run_text("MATCH (r:Run) RETURN min(r.uid) AS uid")]
    assert len(uids) > 5
    listed, shown = Path(local["LATTEPROV_DATA_DIR"]) / "uids.txt", Path(local["LATTEPROV_DATA_DIR"]) / "shown.txt"
    listed.write_text("\n".join(uids) + "\n")
    shown.write_text("\n".join(uids + runs) + "\n")
    asks = [(command, fmt, args) for command in ("lineage", "downstream") for fmt in GRAPH
            for args in (["--from-list", listed], ["--from-list", listed, "--depth", "1"])]
    asks += [("show", fmt, ["--from-list", shown]) for fmt in DOCUMENT]
    for command, fmt, args in asks:
        answers = [_run(where, command, *args, "--format", fmt) for where in (local, env)]
        assert [a.exit_code for a in answers] == [0, 0], answers[0].output
        bulk, transactional = (_TIMESTAMP.sub("T", a.output) for a in answers)
        assert bulk == transactional, (command, fmt, args)


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


def test_a_problem_name_anywhere_in_the_list_loads_nothing(local, tmp_path: Path) -> None:
    """The transactional ingest takes the good names and reports the problem lines; the bulk
    first load, which runs once into an empty database, takes every name or none: a problem
    name first, in the middle or last refuses the whole list, naming its line."""
    _emptied(local).close()
    good = list(synth.names("S", 0))[:30]
    bad = "l9999f211b630m0074m037m440e.300"  # an unknown MILC long tag
    for names, line in (([bad, *good], 1), ([*good, bad, *good, "", ""], 31), ([*good, "", bad], 32)):
        listed = tmp_path / "mixed.txt"
        listed.write_text("\n".join(names) + "\n")
        refused = _run(local, "ingest", "names", "--initial", "--from-list", listed)
        assert refused.exit_code == 1 and refused.output.count("\n") == 1, refused.output
        assert f"line(s) {line};" in refused.output and "nothing loaded" in refused.output
        with Store(load_settings(local)) as after:
            assert after.run_text("MATCH (n) WHERE NOT n:Lock AND NOT n:Tally RETURN count(n) AS n")[0]["n"] == 0
        assert not list((load_settings(local).server_dir).glob("bulk-*"))


def test_sigterm_during_the_load_is_ctrl_c(local) -> None:
    """SIGTERM (a batch system's kill, a closed session) while the files are written ends the
    load as Ctrl-C does: 'Aborted!', exit 1, the server running, the database empty, no files."""
    _emptied(local).close()
    server_dir = load_settings(local).server_dir
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
    proc = subprocess.Popen([sys.executable, "-c", "from latteprov.cli import main; main()", "synth", "--tier", "S",
                             "--initial"], env={**clean, **local}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not list(server_dir.glob("bulk-*/csv/nodes-*.csv")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, (out, err)
    assert err.strip().splitlines()[-1:] == ["Aborted!"] and "Traceback" not in err, err
    assert manager.running(server_dir) is not None
    with Store(load_settings(local)) as after:
        assert after.run_text("MATCH (n) WHERE NOT n:Lock AND NOT n:Tally RETURN count(n) AS n")[0]["n"] == 0
    assert not list(server_dir.glob("bulk-*"))


def test_when_neo4j_admin_fails_its_cause_is_the_one_line(local, tmp_path: Path) -> None:
    """neo4j-admin refusing its configuration: the error says why (its own words, no Java stack
    frames), the server runs again, the database is empty, no files are left."""
    _emptied(local).close()
    server_dir = load_settings(local).server_dir
    conf = server_dir / "db" / "conf" / "neo4j.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(list(synth.names("S", 0))[:20]) + "\n")
    conf.write_text("server.memory.heap.max_size=notasize\n")
    try:
        failed = _run(local, "ingest", "names", "--initial", "--from-list", names)
    finally:
        conf.unlink()
    assert failed.exit_code == 1 and failed.output.count("\n") == 1, failed.output
    assert "neo4j-admin database import failed" in failed.output and "'notasize' is not a valid size" in failed.output
    assert not re.search(r"(^|\| )(at |\.\.\. \d+ more)", failed.output.partition("): ")[2]), failed.output
    assert manager.running(server_dir) is not None
    with Store(load_settings(local)) as after:
        assert after.run_text("MATCH (n) WHERE NOT n:Lock AND NOT n:Tally RETURN count(n) AS n")[0]["n"] == 0
    assert not list(server_dir.glob("bulk-*"))


def test_neo4j_admin_cause_skips_java_stack_frames() -> None:
    output = ("Error evaluating value for setting 'x'. 'y' is not a valid size\n"
              + "\tat org.neo4j.configuration.SettingValueParsers$17.parse(SettingValueParsers.java:1)\n" * 8
              + "\t... 18 more\nRun with '--verbose' for a more detailed error message.\n")
    cause = manager.admin_failure(output)
    assert cause == "Error evaluating value for setting 'x'. 'y' is not a valid size"  # no exception line: the text
    assert manager.admin_failure("org.neo4j.X.BadException: refused\n\tat a.b(C.java:1)\n"
                                 "Caused by: java.io.IOException: disk full\n\t... 3 more\n") == \
        "refused (cause: disk full)"
    assert manager.admin_failure("") == "no output" and len(manager.admin_failure("z" * 10_000)) <= 1001


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
