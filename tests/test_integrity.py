"""The graph never lies: one regression test per kind of wrong answer, each asserting the right
value (validity whatever the order of events, one Run per job, facts merged not dropped, hostile
numbers refused before anything is written or spooled, offline as strict as online)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from latteprov import graph, invalidate, record, spool, tally
from latteprov.errors import InputError
from latteprov.graph import GraphBatch
from latteprov.spool import SpoolWriter

KEY = {"ensemble": "a09m310", "stream": "e", "config": 300, "flow_time": 1.0}
PROP = {**KEY, "smear_width": 3.5, "smear_steps": 45, "M5": 1.1, "L5": 6, "alpha5": 1.5, "quark_mass": 0.00951,
        "x": 3, "y": 3, "z": 19}


def write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def snapshot(store) -> list:
    """Every node's labels and properties and every edge: what a refused input must leave alone."""
    nodes = store.run_text("MATCH (n) WHERE NOT n:Lock RETURN labels(n) AS l, properties(n) AS p ORDER BY n.uid, n.kind, n.ensemble")
    edges = store.run_text("MATCH (a)-[r]->(b) RETURN a.uid AS a, type(r) AS t, r.role AS r, b.uid AS b ORDER BY a, t, r, b")
    return [nodes, edges]


def validity(store) -> dict[str, bool]:
    return {r["n"]: r["v"] for r in store.run_text("MATCH (n:Entity) RETURN n.name AS n, n.valid AS v")}


def tallies_match_a_recount(store) -> None:
    """The status counters kept by the write path equal a full recount."""
    kept = store.read("tally_read", ensemble=None)[0]["rows"]
    tally.recount(store)
    assert store.read("tally_read", ensemble=None)[0]["rows"] == kept


def spooled(settings) -> list[Path]:
    return spool.pending(settings.spool_dir) if settings.spool_dir.is_dir() else []


# -- validity whatever the order of events ---------------------------------------------------
@pytest.fixture
def chain(store) -> dict[str, str]:
    """cfg -> prop -> spec, and an action A nothing uses yet."""
    b = GraphBatch()
    cfg = b.add("GaugeConfig", name="cfg", **KEY)
    prop = b.add("OneToAll", name="prop", t=10, **PROP)
    spec = b.add("Baryon2pt", name="spec", particle="proton", spin="spin_up", parity=1, snk="SS", t=10,
                 **{k: v for k, v in PROP.items() if k not in ("alpha5",)})
    action = b.add("MobiusDW", name="A", quark_mass=0.00951, M5=1.1, L5=6, b5=1.25, c5=0.25, alpha5=1.5)
    b.link(prop, cfg, "gauge")
    b.link(spec, prop, "light")
    graph.write(store, b)
    return {"cfg": cfg, "prop": prop, "spec": spec, "A": action}


def test_an_existing_product_that_gains_an_invalid_input_becomes_invalid_with_its_downstream(store, chain) -> None:
    invalidate.invalidate(store, chain["A"], "solver bug", "test")
    b = GraphBatch()
    b.link(chain["prop"], chain["A"], "action")  # recorded late: prop was computed with A
    graph.write(store, b)
    assert validity(store) == {"cfg": True, "prop": False, "spec": False, "A": False}
    tallies_match_a_recount(store)
    invalidate.revalidate(store, chain["A"], "solver fixed", "test")
    assert all(validity(store).values())
    tallies_match_a_recount(store)


def test_an_existing_product_that_gains_a_new_input_made_of_an_invalid_one_becomes_invalid(store, chain) -> None:
    invalidate.invalidate(store, chain["A"], "solver bug", "test")
    b = GraphBatch()  # a new source made with A, and the existing prop recorded as made of it
    src = b.add("Source", name="src", t=10, **{k: PROP[k] for k in ("x", "y", "z", "smear_width", "smear_steps")}, **KEY)
    b.link(src, chain["A"], "action")
    b.link(chain["prop"], src, "source")
    graph.write(store, b)
    assert validity(store) == {"cfg": True, "prop": False, "spec": False, "A": False, "src": False}
    tallies_match_a_recount(store)


def test_a_product_planned_before_an_invalidation_and_finished_after_stays_invalid(cli, store, chain, tmp_path) -> None:
    planned = record.declare(store, "Baryon2pt", name="later", state="planned", inputs={"light": chain["prop"]},
                             particle="proton", spin="spin_dn", parity=1, snk="SS", t=10,
                             **{k: v for k, v in PROP.items() if k != "alpha5"})
    invalidate.invalidate(store, chain["cfg"], "bad plaquette", "test")
    manifest = {"kind": "contract", "job_id": 7, "started_at": "2026-11-25T06:00:00Z", "ended_at": "2026-11-25T07:00:00Z",
                "outputs": [{"kind": "Baryon2pt", "name": "later", "props": {
                    "particle": "proton", "spin": "spin_dn", "parity": 1, "snk": "SS", "t": 10,
                    **{k: v for k, v in PROP.items() if k != "alpha5"}}, "inputs": {"light": "prop"}}]}
    result = cli("record", write(tmp_path, "done.json", manifest))
    assert result.exit_code == 0, result.output
    row = store.run_text("MATCH (n {uid: $u}) RETURN n.state AS s, n.valid AS v", u=planned)[0]
    assert row == {"s": "done", "v": False}
    assert json.loads(cli("find", "Baryon2pt", "valid=false", "--format", "json").output)[-1]["name"] in ("later", "spec")
    assert {r["name"] for r in json.loads(cli("find", "Baryon2pt", "valid=false", "--format", "json").output)} == {"spec", "later"}
    tallies_match_a_recount(store)


# -- one Run per job; facts merged, not dropped ----------------------------------------------
RUN = {"kind": "solve", "host": "frontier01234", "job_id": "1874533", "command": "lalibe prop.xml",
       "ended_at": "2026-11-25T08:00:00Z", "outputs": [{"kind": "QuarkSmearing", "name": "smear",
                                                       "props": {"radius": 3.5, "steps": 45}}]}


def runs(store) -> list[dict]:
    return store.run_text("MATCH (r:Run) RETURN r.uid AS uid, r.code_version AS code, r.params AS params, "
                          "r.exit_state AS state, toString(r.ended_at) AS ended ORDER BY uid")


def test_one_job_recorded_from_json_yaml_and_another_utc_offset_is_one_run(cli, store, tmp_path) -> None:
    json_path = write(tmp_path, "run.json", {**RUN, "started_at": "2026-11-25T06:00:00Z"})
    yaml_path = write(tmp_path, "run.yaml", "\n".join([
        "kind: solve", "host: frontier01234", "job_id: 1874533", "command: lalibe prop.xml",
        "started_at: 2026-11-25T01:00:00-05:00", "ended_at: 2026-11-25T08:00:00Z",
        "outputs:", "  - kind: QuarkSmearing", "    name: smear", "    props: {radius: 3.5, steps: 45}", ""]))
    offset = write(tmp_path, "run.jsonl", json.dumps({**RUN, "job_id": 1874533, "started_at": "2026-11-25T07:30:00+01:30"}) + "\n")
    for path in (json_path, yaml_path, offset):
        result = cli("record", path)
        assert result.exit_code == 0, result.output
    assert len(runs(store)) == 1
    # Another start of the same job id on the same host is another run (ids are reused).
    result = cli("record", write(tmp_path, "rerun.json", {**RUN, "started_at": "2026-11-26T06:00:00Z",
                                                         "ended_at": "2026-11-26T08:00:00Z"}))
    assert result.exit_code == 0 and len(runs(store)) == 2


def test_the_start_and_the_end_of_a_job_recorded_apart_are_one_run(cli, store, tmp_path) -> None:
    start = {k: v for k, v in RUN.items() if k not in ("ended_at", "outputs")}
    cli("record", write(tmp_path, "start.json", {**start, "started_at": "2026-11-25T06:00:00Z", "exit_state": "running"}))
    result = cli("record", write(tmp_path, "end.json", {**RUN, "started_at": "2026-11-25T06:00:00+00:00"}))
    assert result.exit_code == 0, result.output
    assert [(r["state"], r["ended"]) for r in runs(store)] == [("done", "2026-11-25T08:00:00Z")]
    # and the Python API uses the same key: a job id and a start instant name one run
    with record.run("solve", store=store, job_id="55") as r:
        first = r.uid
    with record.run("solve", store=store, job_id="55") as r:
        assert r.uid != first  # another start


def test_recording_a_run_again_adds_what_it_lacked_and_reports_what_differs(cli, store, tmp_path) -> None:
    base = {**RUN, "started_at": "2026-11-25T06:00:00Z"}
    assert cli("record", write(tmp_path, "a.json", {**base, "params": {"tolerance": 1e-8}})).exit_code == 0
    more = {**base, "code_version": "lalibe-1.2", "params": {"tolerance": 1e-8, "max_iter": 5000}}
    result = cli("record", write(tmp_path, "b.json", more))
    assert result.exit_code == 0, result.output
    (run,) = runs(store)
    assert run["code"] == "lalibe-1.2" and json.loads(run["params"]) == {"max_iter": 5000, "tolerance": 1e-8}
    other = {**base, "code_version": "lalibe-1.3", "params": {"tolerance": 1e-10}}
    result = cli("record", write(tmp_path, "c.json", other))
    assert result.exit_code == 3
    lines = [line for line in result.output.splitlines() if line.startswith("conflict:")]
    assert lines == ["conflict: Run solve 1874533: code_version recorded 'lalibe-1.2', given 'lalibe-1.3' (the recorded value is kept)",
                     "conflict: Run solve 1874533: params.tolerance recorded 1e-08, given 1e-10 (the recorded value is kept)"]
    (run,) = runs(store)
    assert run["code"] == "lalibe-1.2" and json.loads(run["params"])["tolerance"] == 1e-8


def test_recording_an_entity_again_adds_what_it_lacked_and_reports_what_differs(cli, store, tmp_path) -> None:
    def ensemble(props: dict) -> Path:
        return write(tmp_path, f"e{len(props)}.json", {"kind": "setup", "job_id": 1, "started_at": "2026-11-25T06:00:00Z",
                                                    "outputs": [{"kind": "Ensemble", "name": "a99m999", "props": props}]})
    assert cli("record", ensemble({"tag": "a99m999"})).exit_code == 0
    assert cli("record", ensemble({"tag": "a99m999", "nx": 32, "nt": 96})).exit_code == 0
    assert store.run_text("MATCH (e:Ensemble) RETURN e.nx AS nx, e.nt AS nt") == [{"nx": 32, "nt": 96}]
    result = cli("record", ensemble({"tag": "a99m999", "nx": 48, "nt": 96, "beta": 6.0}))
    assert result.exit_code == 3
    assert "conflict: Ensemble a99m999: nx recorded 32, given 48 (the recorded value is kept)" in result.output
    assert store.run_text("MATCH (e:Ensemble) RETURN e.nx AS nx, e.beta AS beta") == [{"nx": 32, "beta": 6.0}]


@pytest.mark.parametrize("changes,message", [
    ({"exit_state": "running", "ended_at": "2026-11-25T08:00:00Z"}, "an end time (2026-11-25T08:00:00+00:00) goes with exit state failed or done, not running"),
    ({"started_at": "2026-11-25T09:00:00Z"}, "ends (2026-11-25T08:00:00+00:00) before it starts (2026-11-25T09:00:00+00:00)"),
])
def test_an_end_time_that_disagrees_with_the_state_or_the_start_is_refused(cli, store, tmp_path, changes, message) -> None:
    result = cli("record", write(tmp_path, "bad.json", {**RUN, "started_at": "2026-11-25T06:00:00Z", **changes}))
    assert result.exit_code == 1 and message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert runs(store) == []


# -- hostile numbers, refused before anything is written or spooled --------------------------
ENSEMBLE = '{"kind": "Ensemble", "name": "e", "props": {"tag": "a99m999"%s}}'


@pytest.mark.parametrize("manifest,message", [
    ('{"kind": "setup", "outputs": [%s]}' % (ENSEMBLE % ', "beta": NaN'), "Ensemble.beta: nan is not a finite number"),
    ('{"kind": "setup", "outputs": [%s]}' % (ENSEMBLE % ', "beta": -Infinity'), "Ensemble.beta: -inf is not a finite number"),
    ('{"kind": "setup", "outputs": [%s]}' % (ENSEMBLE % ', "nx": 9223372036854775808'),
     "Ensemble.nx: 9223372036854775808 is beyond 64-bit integers"),
    ('{"kind": "setup", "params": {"tol": [1, NaN]}, "outputs": [%s]}' % (ENSEMBLE % ""), "params.tol[1]: nan is not a finite number"),
    ('{"kind": "setup", "params": {"seed": -9223372036854775809}, "outputs": [%s]}' % (ENSEMBLE % ""),
     "params.seed: -9223372036854775809 is beyond 64-bit integers"),
])
@pytest.mark.parametrize("offline", [False, True])
def test_hostile_numbers_are_one_line_online_and_offline_and_nothing_is_written_or_spooled(
        cli, store, settings, tmp_path, manifest, message, offline) -> None:
    before, files = snapshot(store), spooled(settings)
    result = cli("record", *(["--offline"] if offline else []), write(tmp_path, "m.json", manifest))
    assert result.exit_code == 1 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert snapshot(store) == before and spooled(settings) == files


def test_minus_zero_is_stored_as_zero_and_never_matches_a_negative_filter(cli, store) -> None:
    b = GraphBatch()
    b.add("GaugeConfig", name="cfg", ensemble="a09m310", stream="e", config=300, flow_time=-0.0)
    graph.write(store, b)
    assert json.loads(cli("find", "GaugeConfig", "flow_time<0", "--format", "json").output) == []
    assert len(json.loads(cli("find", "GaugeConfig", "flow_time=0", "--format", "json").output)) == 1
    shown = cli("show", "cfg", "--format", "json").output
    assert '"flow_time": 0.0' in shown and "-0.0" not in shown


def test_a_spool_with_a_number_beyond_64_bits_is_rejected_and_the_good_files_behind_it_sync(cli, store, tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    # A spool written by an older version or by hand: its value never went through the checks.
    line = {"event": "declared", "run": None, "at": {"$datetime": "2026-11-25T06:00:00+00:00"},
            "batch": {"entities": [{"uid": "GaugeConfig:" + "1" * 20, "labels": ["Entity", "GaugeConfig"], "state": None,
                                    "props": {"uid": "GaugeConfig:" + "1" * 20, "kind": "GaugeConfig", "name": "big",
                                              "ensemble": "a09m310", "stream": "e", "config": 2**64}}],
                      "runs": [], "files": [], "edges": []}}
    spool_dir.mkdir()
    (spool_dir / "a-big.jsonl").write_text(json.dumps(line) + "\n")
    with SpoolWriter(spool_dir, "b-good") as writer:
        b = GraphBatch()
        b.add("QuarkSmearing", name="s", radius=1.0, steps=1)
        writer.append("declared", b)
    result = cli("sync", spool_dir)
    assert result.exit_code == 1 and "a-big.jsonl" in result.output and "Traceback" not in result.output
    assert (spool_dir / "rejected" / "a-big.jsonl").exists() and spool.pending(spool_dir) == []
    assert [r["n"] for r in store.run_text("MATCH (n:Entity) RETURN n.name AS n")] == ["s"]


# -- offline is as strict as online ----------------------------------------------------------
def test_an_origin_outside_a_known_lattice_is_refused_offline_before_spooling(cli, store, settings, tmp_path) -> None:
    manifest = {"kind": "solve", "outputs": [{"kind": "OneToAll", "name": "prop", "props": {**PROP, "t": 96}}]}
    files = spooled(settings)
    result = cli("record", "--offline", write(tmp_path, "p.json", manifest))
    assert result.exit_code == 1
    assert "origin t=96 is outside the lattice 0 <= t < 96 of ensemble a09m310" in result.output
    assert spooled(settings) == files


def test_the_api_refuses_bad_params_before_the_payload_runs(store) -> None:
    ran = []
    with pytest.raises(InputError, match="params.mass: nan is not a finite number"):
        with record.run("solve", store=store, params={"mass": float("nan")}):
            ran.append(1)
    assert ran == [] and runs(store) == []


# -- a record and an invalidation at the same time ---------------------------------------------
@pytest.mark.parametrize("action", ["invalidate", "revalidate"])
def test_a_record_committing_while_an_invalidation_runs_gets_the_right_validity(store, chain, action) -> None:
    """The record reads the configuration's validity, the invalidation (or revalidation) runs its
    batches, then the record commits: the products it made must follow the new validity."""
    import threading
    import time

    if action == "revalidate":
        invalidate.invalidate(store, chain["cfg"], "bad", "test")
    b = GraphBatch()
    kids = []
    for t in range(40):
        uid = b.add("OneToAll", name=f"late{t}", t=t, **PROP)
        b.link(uid, chain["cfg"], "gauge")
        kids.append(uid)
    with store.session(write=True) as session:
        tx = session.begin_transaction()
        graph.write_in_tx(tx, b)  # holds the DAG lock, has read cfg's validity, not committed
        other = threading.Thread(target=lambda: getattr(invalidate, action)(store, chain["cfg"], "race", "test"))
        other.start()
        time.sleep(1.5)  # the batched marking has run by now; the settle waits for the DAG lock
        tx.commit()
    other.join(60)
    assert not other.is_alive()
    want = action == "revalidate"
    rows = store.run_text("UNWIND $uids AS u MATCH (n:Entity {uid: u}) RETURN n.valid AS v", uids=kids)
    assert len(rows) == len(set(kids)) and all(r["v"] is want for r in rows)
    tallies_match_a_recount(store)


# -- rows of one node in one batch, end times, and spool lines of any shape --------------------------
def test_rows_of_one_node_in_one_record_merge_as_if_recorded_one_after_the_other(cli, store, tmp_path) -> None:
    out = {"kind": "QuarkSmearing", "name": "smear", "props": {"radius": 3.5, "steps": 45}}
    late = [{**RUN, "started_at": "2026-11-25T06:00:00Z", "outputs": [out]},
            {**{k: v for k, v in RUN.items() if k != "ended_at"}, "exit_state": "running",
             "started_at": "2026-11-25T01:00:00-05:00", "outputs": [out]}]
    assert cli("record", write(tmp_path, "late.json", late)).exit_code == 0
    assert store.run_text("MATCH (n:QuarkSmearing) RETURN n.state AS s") == [{"s": "done"}]  # the furthest state
    assert [r["state"] for r in runs(store)] == ["done"]
    twice = [{"kind": "setup", "job_id": 9, "started_at": "2026-11-25T06:00:00Z", "params": {"a": 1},
              "outputs": [{"kind": "Ensemble", "name": "a96m1", "props": {"tag": "a96m1", "nx": 24, "beta": 6.1}}]},
             {"kind": "setup", "job_id": 9, "started_at": "2026-11-25T06:00:00Z", "params": {"a": 2, "b": 3},
              "outputs": [{"kind": "Ensemble", "name": "a96m1", "props": {"tag": "a96m1", "nx": 32, "nt": 64}}]}]
    result = cli("record", write(tmp_path, "twice.json", twice))
    assert result.exit_code == 3
    assert "conflict: Ensemble a96m1: nx given 24 and 32 (the first is kept)" in result.output
    assert "params.a given 1, given 2 (the first is kept)" in result.output
    assert store.run_text("MATCH (e:Ensemble) RETURN e.nx AS nx, e.nt AS nt, e.beta AS beta") == [{"nx": 24, "nt": 64, "beta": 6.1}]
    assert json.loads(store.run_text("MATCH (r:Run {job_id: '9'}) RETURN r.params AS p")[0]["p"]) == {"a": 1, "b": 3}


def test_a_different_end_time_is_a_conflict_and_an_end_before_a_start_recorded_apart_is_refused(cli, store, tmp_path) -> None:
    base = {**RUN, "started_at": "2026-11-25T06:00:00Z"}
    assert cli("record", write(tmp_path, "e1.json", {**base, "ended_at": "2026-11-25T07:00:00Z"})).exit_code == 0
    result = cli("record", write(tmp_path, "e2.json", {**base, "ended_at": "2026-11-25T09:00:00Z"}))
    assert result.exit_code == 3 and "ended_at recorded '2026-11-25T07:00:00+00:00', given '2026-11-25T09:00:00+00:00'" in result.output
    end_only = {"kind": "solve", "uid": "ebs1", "ended_at": "2026-11-25T05:00:00Z", "exit_state": "done"}
    assert cli("record", write(tmp_path, "x1.json", end_only)).exit_code == 0
    result = cli("record", write(tmp_path, "x2.json", {"kind": "solve", "uid": "ebs1", "exit_state": "running",
                                                     "started_at": "2026-11-25T06:00:00Z"}))
    assert result.exit_code == 1 and "ends (2026-11-25T05:00:00+00:00) before it starts (2026-11-25T06:00:00+00:00)" in result.output
    both = [{"kind": "solve", "uid": "ebs2", "ended_at": "2026-11-25T05:00:00Z", "exit_state": "done"},
            {"kind": "solve", "uid": "ebs2", "exit_state": "running", "started_at": "2026-11-25T06:00:00Z"}]
    assert cli("record", write(tmp_path, "z.json", both)).exit_code == 1
    assert not store.run_text("MATCH (r:Run {uid: 'ebs2'}) RETURN r")


def test_a_datetime_filter_skips_nodes_without_the_property_and_reads_any_iso_spelling(cli, store) -> None:
    b = GraphBatch(runs=[graph.run_row("run:a", started_at=datetime(2026, 11, 25, 6, tzinfo=timezone.utc)),
                         graph.run_row("run:b", exit_state="done", started_at=datetime(2026, 11, 25, 6, tzinfo=timezone.utc),
                                       ended_at=datetime(2026, 11, 25, 8, tzinfo=timezone.utc))])
    graph.write(store, b)
    for flt in ("ended_at>2026-01-01T00:00:00Z", "ended_at=2026-11-25 08:00:00Z", "ended_at=2026-11-25T03:00:00-05:00"):
        result = cli("find", "Run", flt, "--format", "json")
        assert result.exit_code == 0, result.output
        assert [r["uid"] for r in json.loads(result.output)] == ["run:b"], flt
    result = cli("find", "Run", "started_at=2026-11-25T06:00:00+23:59")
    assert result.exit_code == 1 and "a UTC offset is at most 18 hours" in result.output


@pytest.mark.parametrize("props,message", [
    ({"step": "s", "inputs_key": "p1", "state": "planned"}, "props.state: give state beside props, not inside them"),
    ({"step": "s", "inputs_key": "p1", "name": "x"}, "props.name: give name beside props, not inside them"),
    ({"step": "s", "inputs_key": "p1", "file_statuses": ["on_disk"]}, "file_statuses is kept by latteprov, not given"),
    ({"step": "s", "inputs_key": "p1", "valid": False}, "valid is kept by latteprov, not given"),
])
def test_props_the_write_path_keeps_or_that_clash_are_one_line(cli, store, tmp_path, props, message) -> None:
    manifest = {"kind": "x", "outputs": [{"kind": "DerivedDataset", "name": "P1", "props": props}]}
    result = cli("record", write(tmp_path, "m.json", manifest))
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_a_lone_surrogate_and_an_offset_beyond_18_hours_are_refused_online_and_offline(cli, store, settings, tmp_path) -> None:
    files = spooled(settings)
    for offline in ([], ["--offline"]):
        bad_name = write(tmp_path, "s.json", '{"kind": "x", "outputs": [{"kind": "QuarkSmearing", "name": "\\ud800", '
                                            '"props": {"radius": 1.0, "steps": 1}}]}')
        result = cli("record", *offline, bad_name)
        assert result.exit_code == 1 and "not valid Unicode text" in result.output, result.output
        result = cli("record", *offline, write(tmp_path, "o.json", {**RUN, "started_at": "2026-11-25T06:00:00+23:59"}))
        assert result.exit_code == 1 and "a UTC offset is at most 18 hours" in result.output
    assert spooled(settings) == files


def spool_line(batch: dict) -> str:
    return json.dumps({"event": "declared", "run": None, "at": {"$datetime": "2026-11-25T06:00:00+00:00"}, "batch": batch}) + "\n"


SMEAR = {"uid": "QuarkSmearing:" + "5" * 20, "labels": ["Entity", "Action", "QuarkSmearing"], "state": None,
         "props": {"uid": "QuarkSmearing:" + "5" * 20, "kind": "QuarkSmearing", "name": "s", "radius": 1.0, "steps": 1}}


@pytest.mark.parametrize("name,batch,reason", [
    ("nan-params", {"runs": [{"uid": "Run:" + "1" * 20, "props": {"uid": "Run:" + "1" * 20, "params": '{"a": NaN}'},
                              "mutable": {"exit_state": "done"}}]}, "params: NaN is not a finite number"),
    ("end-before-start", {"runs": [{"uid": "Run:" + "2" * 20, "props": {"uid": "Run:" + "2" * 20,
                                    "started_at": {"$datetime": "2026-11-25T06:00:00+00:00"}},
                                    "mutable": {"exit_state": "done", "ended_at": {"$datetime": "2026-11-25T05:00:00+00:00"}}}]},
     "before it starts"),
    ("running-with-end", {"runs": [{"uid": "Run:" + "3" * 20, "props": {"uid": "Run:" + "3" * 20},
                                    "mutable": {"exit_state": "running", "ended_at": {"$datetime": "2026-11-25T05:00:00+00:00"}}}]},
     "goes with exit state failed or done, not running"),
    ("unknown-property", {"entities": [{**SMEAR, "props": {**SMEAR["props"], "z": 1.0}}]}, "QuarkSmearing has no property 'z'"),
    ("no-kind", {"entities": [{**SMEAR, "props": {"uid": SMEAR["uid"], "name": "s"}}]}, "props.kind is missing"),
    ("not-a-list", {"entities": "nope"}, "batch.entities is not a list"),
    ("lone-surrogate", {"entities": [{**SMEAR, "props": {**SMEAR["props"], "name": "\ud800"}}]}, "not valid Unicode text"),
])
def test_a_spool_line_of_any_shape_is_rejected_with_its_reason_never_a_traceback(cli, store, tmp_path, name, batch, reason) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / f"a-{name}.jsonl").write_text(spool_line(batch))
    (spool_dir / "b-good.jsonl").write_text(spool_line({"entities": [SMEAR]}))
    result = cli("sync", spool_dir)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert reason in (spool_dir / "rejected" / f"a-{name}.jsonl.reason").read_text()
    assert (spool_dir / "done" / "b-good.jsonl").exists()


def test_minus_zero_in_a_spool_line_is_stored_as_zero(cli, store, tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / "a.jsonl").write_text(spool_line({"entities": [{**SMEAR, "props": {**SMEAR["props"], "radius": -0.0}}]}))
    assert cli("sync", spool_dir).exit_code == 0
    assert str(store.run_text("MATCH (n:QuarkSmearing) RETURN n.radius AS r")[0]["r"]) == "0.0"


def test_two_syncs_of_one_directory_at_once_replay_everything_once_without_a_traceback(store, settings, tmp_path) -> None:
    import threading

    spool_dir = tmp_path / "spool"
    for i in range(12):
        with SpoolWriter(spool_dir, f"f{i:02d}") as writer:
            b = GraphBatch()
            b.add("QuarkSmearing", name=f"s{i}", radius=float(i), steps=i)
            writer.append("declared", b)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            spool.sync(store, spool_dir)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and spool.pending(spool_dir) == []
    assert len(list((spool_dir / "done").iterdir())) == 12
    assert store.run_text("MATCH (n:QuarkSmearing) RETURN count(n) AS n") == [{"n": 12}]
