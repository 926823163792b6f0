"""Recording runs through the Python API: runs, inputs, outputs, files, failures, planned work,
and the fall-back to the offline spool when the database cannot be reached."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from latteprov import graph, record, spool
from latteprov.checks import CheckError
from latteprov.errors import InputError, NotFound
from latteprov.server.manager import free_port
from latteprov.store import Store, StoreUnavailable

KEY = dict(ensemble="a09m310", stream="e", config=300, flow_time=1.0, smear_width=3.5, smear_steps=45)


def one(store, query: str, **params):
    rows = store.run_text(query, **params)
    assert len(rows) == 1, rows
    return rows[0]


@pytest.fixture
def inputs(store) -> dict[str, str]:
    """A flowed configuration and a valence action already in the graph."""
    b = graph.GraphBatch()
    cfg = b.add("GaugeConfig", name="cfg300_wflow1.0", ensemble="a09m310", stream="e", config=300, flow_time=1.0)
    action = b.add("MobiusDW", name="mdwf", quark_mass=0.00951, M5=1.1, L5=6, b5=1.25, c5=0.25, alpha5=1.5)
    graph.write(store, b)
    return {"gauge": cfg, "action": action}


@pytest.fixture
def down(settings, tmp_path) -> Store:
    """A store pointing at a port where nothing listens, spooling under tmp_path."""
    dead = Store(settings.with_(uri=f"bolt://127.0.0.1:{free_port()}", spool_dir=tmp_path / "spool"))
    yield dead
    dead.close()


def test_a_run_records_its_agent_times_inputs_outputs_and_files(store, inputs, tmp_path) -> None:
    lime = tmp_path / "prop.lime"
    with record.run("solve", command="lalibe prop.ini", code_version="lalibe-1.2", job_id="4711",
                    params={"tol": 1e-8}, inputs=[inputs["gauge"]], store=store) as r:
        src = r.used(graph.entity("Source", name="src", x=3, y=3, z=19, t=62, **KEY))
        prop = r.output("OneToAll", name="prop", inputs={"gauge": inputs["gauge"], "action": inputs["action"],
                                                          "source": src},
                        M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951, x=3, y=3, z=19, t=62, **KEY)
        lime.write_bytes(b"x" * 1234)
        r.file(prop, lime)
        r.file(prop, tmp_path / "never-written.h5")
    run = one(store, "MATCH (r:Run {uid: $uid}) RETURN r", uid=r.uid)["r"]
    assert run["run_kind"] == "solve" and run["exit_state"] == "done" and run["job_id"] == "4711"
    assert run["host"] and run["user"] and run["code_version"] == "lalibe-1.2"
    assert run["started_at"] <= run["ended_at"] and json.loads(run["params"]) == {"tol": 1e-8}
    assert one(store, "MATCH (p:OneToAll) RETURN p.state AS s")["s"] == "done"
    used = store.run_text("MATCH (:Run {uid: $uid})-[:USED]->(x) RETURN x.name AS n ORDER BY n", uid=r.uid)
    assert [u["n"] for u in used] == ["cfg300_wflow1.0", "mdwf", "src"]
    roles = store.run_text("MATCH (:OneToAll)-[d:DERIVED_FROM]->(x) RETURN d.role AS r ORDER BY r")
    assert [x["r"] for x in roles] == ["action", "gauge", "source"]
    files = {f["name"]: f for f in store.run_text(
        "MATCH (:OneToAll)-[:STORED_AT]->(f) RETURN f.name AS name, f.size AS size, f.status AS status")}
    assert files["prop.lime"] == {"name": "prop.lime", "size": 1234, "status": "on_disk"}
    assert files["never-written.h5"]["status"] == "missing"
    assert one(store, "MATCH (p:OneToAll)-[:GENERATED_BY]->(r:Run) RETURN r.uid AS u")["u"] == r.uid


def test_an_exception_marks_the_run_and_its_outputs_failed_and_propagates(store, inputs) -> None:
    with pytest.raises(RuntimeError, match="solver diverged"):
        with record.run("solve", store=store, inputs=[inputs["gauge"]]) as r:
            r.output("OneToAll", name="prop", inputs={"gauge": inputs["gauge"]},
                     M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951, x=0, y=0, z=0, t=0, **KEY)
            raise RuntimeError("solver diverged")
    assert r.state == "failed"
    assert one(store, "MATCH (r:Run) RETURN r.exit_state AS s")["s"] == "failed"
    assert one(store, "MATCH (p:OneToAll) RETURN p.state AS s")["s"] == "failed"


def test_a_run_is_in_the_graph_as_running_while_its_payload_runs(store, inputs) -> None:
    with record.run("solve", store=store, inputs=[inputs["gauge"]]) as r:
        row = one(store, "MATCH (r:Run {uid: $uid})-[:USED]->(c) RETURN r.exit_state AS s, c.uid AS c", uid=r.uid)
        assert row == {"s": "running", "c": inputs["gauge"]}


def test_sigterm_in_the_payload_marks_the_run_failed_and_exits_143(store, env) -> None:
    # What a batch system does at the wall-clock limit, before SIGKILL.
    script = ("import latteprov, time\n"
              "with latteprov.run('solve') as r:\n"
              "    r.output('QuarkSmearing', name='smear', radius=3.5, steps=45)\n"
              "    print(r.uid, flush=True)\n"
              "    time.sleep(120)\n")
    job = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, **env},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    uid = job.stdout.readline().strip()
    assert uid.startswith("Run:"), job.stderr.read()
    job.send_signal(signal.SIGTERM)
    assert job.wait(timeout=60) == 143
    assert one(store, "MATCH (s:QuarkSmearing)-[:GENERATED_BY]->(r:Run {uid: $uid}) "
                      "RETURN s.state AS s, r.exit_state AS e, r.ended_at IS NOT NULL AS ended", uid=uid) \
        == {"s": "failed", "e": "failed", "ended": True}


def test_the_sigterm_handler_is_only_ours_inside_the_block(store, inputs) -> None:
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with record.run("solve", store=store, inputs=[inputs["gauge"]]):
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    own = lambda signum, frame: None  # noqa: E731  a job that handles SIGTERM itself keeps its handler
    signal.signal(signal.SIGTERM, own)
    try:
        with record.run("solve", store=store, inputs=[inputs["gauge"]]):
            assert signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_an_unknown_input_uid_fails_before_the_payload_and_writes_nothing(store) -> None:
    ran = []
    with pytest.raises(graph.GraphError, match="GaugeConfig:00000000000000000000"):
        with record.run("solve", store=store, inputs=["GaugeConfig:00000000000000000000"]):
            ran.append(1)
    assert not ran
    assert one(store, "MATCH (n) RETURN count(n) AS n")["n"] == 0


def test_an_inconsistent_output_is_refused_at_once_and_fails_the_run(store, inputs) -> None:
    with pytest.raises(CheckError, match="alpha5 = b5 \\+ c5"):
        with record.run("setup", store=store) as r:
            r.output("MobiusDW", name="bad", quark_mass=0.01, M5=1.1, L5=6, b5=1.25, c5=0.25, alpha5=3.0)
    assert one(store, "MATCH (r:Run {uid: $uid}) RETURN r.exit_state AS s", uid=r.uid)["s"] == "failed"
    assert one(store, "MATCH (m:MobiusDW) RETURN count(m) AS n")["n"] == 1  # only the fixture's


def test_declare_records_planned_work_and_set_state_moves_it(store, inputs) -> None:
    uid = record.declare(store, "OneToAll", name="prop_planned", inputs={"gauge": "cfg300_wflow1.0"},
                         M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951, x=1, y=2, z=3, t=4, **KEY)
    assert record.declare(store, "OneToAll", name="prop_planned",
                          M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951, x=1, y=2, z=3, t=4, **KEY) == uid
    row = one(store, "MATCH (p:OneToAll)-[:DERIVED_FROM {role: 'gauge'}]->(c) RETURN p.state AS s, c.uid AS c")
    assert row == {"s": "planned", "c": inputs["gauge"]}
    assert record.set_state(store, [uid], "running") == 1
    assert one(store, "MATCH (p:OneToAll) RETURN p.state AS s")["s"] == "running"


def test_set_state_refuses_unknown_uids_and_states(store) -> None:
    with pytest.raises(NotFound, match="OneToAll:11111111111111111111"):
        record.set_state(store, ["OneToAll:11111111111111111111"], "done")
    with pytest.raises(InputError, match="'complete' is not one of planned, queued, running, done, failed"):
        record.set_state(store, [], "complete")


def test_offline_true_spools_started_before_the_payload_and_finished_after(store, settings, tmp_path, capsys) -> None:
    spool_dir = tmp_path / "spool"
    offline_store = Store(settings.with_(spool_dir=spool_dir))
    with record.run("contract", store=offline_store, offline=True) as r:
        [path] = spool.pending(spool_dir)
        events, _ = spool.read_events(path)
        assert [e.kind for e in events] == ["started"]
        r.output("QuarkSmearing", name="s", radius=3.5, steps=45)
        assert [e.kind for e in spool.read_events(path)[0]] == ["started", "output"]
    assert [e.kind for e in spool.read_events(path)[0]] == ["started", "output", "finished"]
    assert f"run {r.uid} recorded offline in {path}" in capsys.readouterr().err
    assert one(store, "MATCH (n) RETURN count(n) AS n")["n"] == 0
    offline_store.close()


def test_an_unreachable_database_falls_back_to_the_spool_and_sync_replays_it(store, down, capsys) -> None:
    with record.run("solve", store=down, job_id="77") as r:
        prop = r.output("OneToAll", name="prop", M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951,
                        x=0, y=0, z=0, t=0, **KEY)
    assert "Neo4j cannot be reached" in capsys.readouterr().err
    assert one(store, "MATCH (n) RETURN count(n) AS n")["n"] == 0
    report = spool.sync(store, down.settings.spool_dir)
    assert [f.events for f in report.files] == [3] and not report.unfinished
    row = one(store, "MATCH (p {uid: $p})-[:GENERATED_BY]->(r:Run) RETURN p.state AS s, r.exit_state AS e, r.job_id AS j", p=prop)
    assert row == {"s": "done", "e": "done", "j": "77"}


def test_offline_false_with_the_database_down_raises(down) -> None:
    with pytest.raises(StoreUnavailable):
        with record.run("solve", store=down, offline=False):
            pass
    assert not spool.pending(down.settings.spool_dir)


def test_importing_latteprov_stays_cheap_and_exports_the_api() -> None:
    code = "import sys, latteprov; assert 'latteprov.record' not in sys.modules and 'neo4j' not in sys.modules; " \
           "print(latteprov.run.__module__, latteprov.declare.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["latteprov.record", "latteprov.record"]
