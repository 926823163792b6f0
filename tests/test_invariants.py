"""The graph never lies, whatever the order of events: a hypothesis state machine records,
re-records with late states, links existing products to new inputs, records the runs of jobs
(from JSON or YAML manifests, start times spelled in other UTC offsets, online or spooled
offline and synced later), invalidates and revalidates, in random orders, and after every step
checks validity, states, the Runs per job and their facts, and the status counters against a
reference model kept here (networkx)."""
from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import networkx as nx
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from latteprov import graph, invalidate, manifest, model, spool, status
from latteprov.graph import GraphBatch
from latteprov.store import Store

ENSEMBLE = "a09m310"
# product -> its inputs: two roots, a diamond below them
INPUTS = {0: (), 1: (), 2: (0, 1), 3: (2,), 4: (1,), 5: (3, 4)}
STATES = st.sampled_from(model.STATES)
# job -> the product it makes; each job has one start instant, spelled in several offsets
JOBS = {0: 3, 1: 4, 2: 5}
START = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)
OFFSETS = st.sampled_from([timedelta(0), timedelta(hours=-5), timedelta(hours=1, minutes=30)])


def row(batch: GraphBatch, i: int, state: str | None) -> str:
    return batch.add("DerivedDataset", name=f"d{i}", state=state, step="t", inputs_key=str(i), ensemble=ENSEMBLE)


class Events(RuleBasedStateMachine):
    """Recording, invalidation and revalidation against the real Neo4j, and the model."""

    store = None  # set by the test below (hypothesis builds the machine itself)

    def __init__(self) -> None:
        super().__init__()
        self.dag = nx.DiGraph()  # input -> product
        self.dag.add_edges_from((j, i) for i, inputs in INPUTS.items() for j in inputs)
        self.state: dict[int, str] = {}  # recorded products and their states
        self.roots: set[int] = set()  # active invalidations
        self.uid: dict[int, str] = {}
        self.runs: dict[int, dict] = {}  # job -> {state, code_version}, as the graph must hold it
        self.spooled: list[tuple] = []  # offline job records not synced yet, in order
        self.spool_dir = Path(tempfile.mkdtemp(prefix="latteprov-spool-"))
        self.offline = Store(self.store.settings.with_(spool_dir=self.spool_dir))

    def teardown(self) -> None:
        self.offline.close()

    @initialize()
    def empty(self) -> None:
        self.store.clear()

    def closure_of(self, i: int) -> set[int]:
        return nx.ancestors(self.dag, i) | {i}

    # -- events ----------------------------------------------------------------------------------
    @rule(i=st.integers(0, 5), state=STATES)
    def record(self, i: int, state: str) -> None:
        """Record product i with a state (again, maybe, with a late one), its inputs with it."""
        batch = GraphBatch()
        closure = nx.ancestors(self.dag, i) | {i}
        for j in sorted(closure):
            self.uid[j] = row(batch, j, state if j == i else None)
            for k in INPUTS[j]:
                batch.link(self.uid[j], self.uid[k], "input")
        graph.write(self.store, batch)
        for j in closure - {i}:
            self.state.setdefault(j, "done")
        self.apply_state(i, state)

    def apply_state(self, i: int, state: str) -> None:
        old = self.state.get(i)
        if old is None or model.STATE_RANK[state] > model.STATE_RANK[old]:
            self.state[i] = state

    @precondition(lambda self: len(self.state) >= 2)
    @rule(data=st.data())
    def link_late(self, data: st.DataObject) -> None:
        """An existing product is recorded, late, to derive from another existing one too
        (a smaller number: the DAG stays acyclic)."""
        i = data.draw(st.sampled_from(sorted(k for k in self.state if k > min(self.state))))
        j = data.draw(st.sampled_from(sorted(k for k in self.state if k < i)))
        batch = GraphBatch()
        batch.link(self.uid[i], self.uid[j], "late")
        graph.write(self.store, batch)
        self.dag.add_edge(j, i)

    @precondition(lambda self: self.state)
    @rule(job=st.sampled_from(sorted(JOBS)), state=st.sampled_from(["running", "done", "failed"]),
          code=st.sampled_from([None, "lalibe-1.2", "lalibe-1.3"]), offset=OFFSETS, yaml=st.booleans(),
          offline=st.booleans())
    def record_job(self, job: int, state: str, code: str | None, offset: timedelta, yaml: bool, offline: bool) -> None:
        """A job's run recorded from a manifest (again, maybe, with other facts), online or spooled."""
        product = JOBS[job]
        inputs = sorted(self.dag.predecessors(product))
        if any(k not in self.state for k in inputs):
            return  # a manifest names its inputs, which must exist
        start = START + timedelta(hours=job)
        spelled = start.astimezone(timezone(offset)).isoformat()
        out = {"kind": "DerivedDataset", "name": f"d{product}",
               "props": {"step": "t", "inputs_key": str(product), "ensemble": ENSEMBLE},
               "inputs": {"input": [f"d{k}" for k in inputs]}}
        run = {"kind": "solve", "host": "node1", "job_id": 100 + job, "started_at": spelled, "exit_state": state,
               **({"ended_at": (start + timedelta(minutes=30)).isoformat()} if state != "running" else {}),
               **({"code_version": code} if code else {}), "outputs": [out]}
        text = _yaml(run) if yaml else json.dumps(run)
        result = manifest.record(self.offline if offline else self.store, ["-"], offline=offline, stdin=text)
        assert result.runs == 1
        if offline:
            self.spooled.append((job, state, code))
        else:
            self.apply_job(job, state, code)

    def apply_job(self, job: int, state: str, code: str | None) -> None:
        for k in self.closure_of(JOBS[job]) - {JOBS[job]}:
            self.state.setdefault(k, "done")
        self.uid[JOBS[job]] = graph.entity("DerivedDataset", step="t", inputs_key=str(JOBS[job]), ensemble=ENSEMBLE)["uid"]
        self.apply_state(JOBS[job], state)
        run = self.runs.setdefault(job, {"state": state, "code_version": code})
        if model.STATE_RANK[state] > model.STATE_RANK[run["state"]]:
            run["state"] = state
        run["code_version"] = run["code_version"] or code

    @precondition(lambda self: self.spooled)
    @rule()
    def sync(self) -> None:
        report = spool.sync(self.store, self.spool_dir)
        assert not report.rejected and not report.busy
        for job, state, code in self.spooled:
            self.apply_job(job, state, code)
        self.spooled = []

    @precondition(lambda self: self.state)
    @rule(data=st.data())
    def invalidate(self, data: st.DataObject) -> None:
        i = data.draw(st.sampled_from(sorted(self.state)))
        invalidate.invalidate(self.store, self.uid[i], "bad", "test")
        self.roots.add(i)

    @precondition(lambda self: self.roots)
    @rule(data=st.data())
    def revalidate(self, data: st.DataObject) -> None:
        i = data.draw(st.sampled_from(sorted(self.roots)))
        invalidate.revalidate(self.store, self.uid[i], "fixed", "test")
        self.roots.discard(i)

    # -- what must hold after every step -------------------------------------------------------
    def valid(self, i: int) -> bool:
        return not self.closure_of(i) & self.roots

    @invariant()
    def validity_and_states_are_the_models(self) -> None:
        rows = self.store.run_text("MATCH (n:DerivedDataset) RETURN n.name AS name, n.valid AS valid, n.state AS state")
        got = {int(r["name"][1:]): (r["valid"], r["state"]) for r in rows}
        assert got == {i: (self.valid(i), s) for i, s in self.state.items()}

    @invariant()
    def one_run_per_job_with_the_models_state_and_facts(self) -> None:
        rows = self.store.run_text("MATCH (r:Run) RETURN r.job_id AS job, r.exit_state AS state, "
                                   "r.code_version AS code, r.ended_at IS NOT NULL AS ended")
        got = sorted((int(r["job"]) - 100, r["state"], r["code"], r["ended"]) for r in rows)
        assert got == sorted((job, run["state"], run["code_version"], run["state"] in model.ENDED_STATES)
                             for job, run in self.runs.items())

    @invariant()
    def status_counters_are_the_models(self) -> None:
        found = [r for r in status.status(self.store) if r["ensemble"] == ENSEMBLE and r["kind"] == "DerivedDataset"]
        if not self.state:
            assert found == [] or found[0]["total"] == 0
            return
        (counted,) = found
        assert counted["total"] == len(self.state)
        assert counted["invalid"] == sum(not self.valid(i) for i in self.state)
        for s in model.STATES:
            assert counted[s] == sum(v == s for v in self.state.values()), s


def _yaml(run: dict) -> str:
    """The manifest as YAML written by hand: times unquoted (YAML reads them as datetimes)."""
    out = [f"kind: {run['kind']}", f"host: {run['host']}", f"job_id: {run['job_id']}",
           f"started_at: {run['started_at']}", f"exit_state: {run['exit_state']}"]
    out += [f"{k}: {run[k]}" for k in ("ended_at", "code_version") if k in run]
    (o,) = run["outputs"]
    out += ["outputs:", f"  - kind: {o['kind']}", f"    name: {o['name']}",
            f"    props: {json.dumps(o['props'])}", f"    inputs: {json.dumps(o['inputs'])}"]
    return "\n".join(out) + "\n"


def test_validity_states_runs_and_counters_hold_in_any_order_of_events(store) -> None:
    Events.store = store
    machine = Events.TestCase
    machine.settings = settings(max_examples=15, stateful_step_count=16, deadline=None,
                                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    machine().runTest()
