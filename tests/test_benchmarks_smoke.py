"""The benchmark suite's agreement checks on tier S: Neo4j, SQLite, PostgreSQL and the
file-name baseline give the same answers (correctness only; timings are benchmarks/' job).

PostgreSQL is started here as a throwaway cluster; without it this test fails, it does not skip.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from latteprov import synth

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import relational, suite  # noqa: E402
from benchmarks.filenames import FileList  # noqa: E402


def file_list(tier: str, seed: int) -> FileList:
    return FileList(list(synth.names(tier, seed)),
                    {e.tag: e.long_tag for e in synth.ensembles(synth.TIERS[tier].ensembles)})


def test_every_system_gives_the_same_answers_on_tier_s(store, tmp_path) -> None:
    synth.write(store, "S", 0)
    with relational.sqlite(tmp_path / "s.sqlite") as lite, relational.postgres_cluster() as conninfo, \
            relational.postgres(conninfo) as pg:
        relational.load([lite, pg], synth.campaign("S", 0))
        res = suite.agreement(store, "S", 0, [lite, pg], file_list("S", 0))
    assert {"lineage of a correlator: PostgreSQL", "downstream of a configuration: regex over file names",
            "status aggregation: SQLite", "invalidate a fermion action: PostgreSQL",
            "status after invalidation: PostgreSQL"} <= set(res.checks)
    assert res.facts["invalidated entities"] > 100
    assert store.run_text("MATCH (n:Entity {valid: false}) RETURN count(n) AS n")[0]["n"] \
        == res.facts["invalidated entities"]


def test_a_lost_derivation_row_is_caught(store, tmp_path) -> None:
    synth.write(store, "S", 0)
    with relational.sqlite(tmp_path / "s.sqlite") as lite:
        relational.load([lite], synth.campaign("S", 0))
        lite.conn.execute("DELETE FROM derivation WHERE role = 'seqprop'")
        lite.conn.commit()
        with pytest.raises(suite.Disagreement, match="lineage of a correlator: SQLite"):
            suite.agreement(store, "S", 0, [lite], file_list("S", 0))


def test_a_file_missing_from_the_listing_is_caught(store) -> None:
    synth.write(store, "S", 0)
    names = list(synth.names("S", 0))
    files = FileList([n for n in names if not n.startswith("prop_")],
                     {e.tag: e.long_tag for e in synth.ensembles(2)})
    with pytest.raises(suite.Disagreement, match="regex"):
        suite.agreement(store, "S", 0, [], files)


def test_without_relational_baselines_every_neo4j_figure_is_still_measured(store) -> None:
    # Tier XL runs with --no-sql: the figures must not depend on a baseline being there.
    synth.write(store, "S", 0)
    res = suite.agreement(store, "S", 0, [], file_list("S", 0), timing=True)
    measured = {f.figure for f in res.figures if f.system == "Neo4j (latteprov API)" and f.value is not None}
    assert {"lineage of a correlator p50", "downstream of a configuration p99", "status aggregation",
            "invalidate a fermion action"} <= measured
    assert not any("SQL" in f.baseline for f in res.figures)


def test_wait_idle_waits_for_a_busy_process_and_not_for_an_idle_one() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert suite.wait_idle(busy.pid, quiet=2, limit=4) >= 4  # gave up at the limit
        assert idle.stdout.readline() == "up\n"  # past its start-up, which uses CPU
        assert suite.wait_idle(idle.pid, quiet=2, limit=30) < 30  # returned because it was calm
    finally:
        busy.kill()
        idle.kill()


def test_the_names_script_loads_and_links_the_same_in_sqlite_and_postgres(tmp_path) -> None:
    from benchmarks import names_sql

    names = list(synth.names("S", 0))
    long_to_short = {e.long_tag: e.tag for e in synth.ensembles(synth.TIERS["S"].ensembles)}
    lite = names_sql.sqlite_rate(names, long_to_short, tmp_path / "names.sqlite")
    with relational.postgres_cluster() as conninfo:
        copy = names_sql.postgres_copy_rate(names, long_to_short, conninfo)
    assert lite["rows"] == copy["rows"] == len(names)  # every name of the campaign parsed
    assert lite["links"] == copy["links"] > len(names)


def test_web_load_benchmark_runs_at_a_tiny_size(store) -> None:
    """benchmarks/web_load.py end to end on a sliver of tier S: the production server starts,
    readers and a writer run, every answer is a 200 (figures are not checked: no timings here)."""
    from benchmarks import web_load

    args = web_load.parse_args(["--tier", "S/4", "--readers", "3", "--writers", "1", "--duration", "3",
                                "--warmup", "0.5", "--think", "0.1", "--writer-pause", "0.1",
                                "--client-procs", "1"])
    (figures,) = web_load.bench(store, args, None)
    assert figures["requests"] > 0 and figures["errors"] == 0, figures
    assert figures["runs_failed"] == 0, figures
    assert store.run_text("MATCH (r:Run {command: 'web_load writer'}) RETURN count(r) AS n")[0]["n"] >= 1
