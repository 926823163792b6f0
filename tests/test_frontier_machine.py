"""The frontier holds whatever the order of events: a hypothesis state machine records outcomes,
invalidates, revalidates, writes METAQ tasks and loses task files in random orders against the
real Neo4j, and after every step compares ``ready``, every product's state and the queued
counter with a reference model kept here (networkx):

    ready = products of a step, planned or failed, or done and invalidated themselves and not
            recomputed since, whose inputs are all done and valid
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import networkx as nx
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from latteprov import campaign, frontier, invalidate, metaq, model, plan, status
from planning_data import CAMPAIGN, RAW_CONFIG, record_outcome

# One configuration, flow -> source -> prop -> spec: 7 products.
SMALL = CAMPAIGN.replace("last = 305", "last = 300").split("[steps.seqsrc]")[0]
STEPS = ("flow", "source", "prop", "spec")


class Frontier(RuleBasedStateMachine):
    """Events against the graph and the model; the frontier compared after each."""

    store = None   # set by the test (hypothesis builds the machine itself)
    folder = None

    @initialize()
    def planned(self) -> None:
        self.store.clear()
        path = Path(self.folder) / "campaign.toml"
        path.write_text(SMALL)
        plan.plan(self.store, campaign.load(path))
        self.metaq = Path(tempfile.mkdtemp(dir=self.folder))
        rows = self.store.run_text("MATCH (n:Entity) RETURN n.uid AS uid, n.name AS name, n.campaign_step AS step")
        self.step = {r["uid"]: r["step"].split("/")[1] for r in rows if r["step"]}
        self.name = {r["uid"]: r["name"] for r in rows}
        self.raw = next(r["uid"] for r in rows if r["name"] == RAW_CONFIG)
        self.dag = nx.DiGraph()  # input -> product, every entity
        self.dag.add_nodes_from(self.name)
        self.dag.add_edges_from((e["b"], e["a"]) for e in self.store.run_text(
            "MATCH (a:Entity)-[:DERIVED_FROM]->(b:Entity) RETURN a.uid AS a, b.uid AS b"))
        self.state = dict.fromkeys(self.step, "planned")
        self.roots: set[str] = set()
        self.clock = 0
        self.last_run: dict[str, int] = {}
        self.last_invalidated: dict[str, int] = {}

    # -- the model ---------------------------------------------------------------------------
    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def valid(self, uid: str) -> bool:
        return not (nx.ancestors(self.dag, uid) | {uid}) & self.roots

    def done(self, uid: str) -> bool:
        return self.state.get(uid, "done") == "done"  # what no step makes is done

    def expected(self) -> dict[str, str]:
        out = {}
        for uid, state in self.state.items():
            if not all(self.done(i) and self.valid(i) for i in self.dag.predecessors(uid)):
                continue
            if state in ("planned", "failed"):
                out[uid] = state
            elif state == "done" and not self.valid(uid) and \
                    self.last_run.get(uid, -1) < self.last_invalidated[uid]:
                out[uid] = "recompute"
        return out

    # -- events --------------------------------------------------------------------------------
    @rule(step=st.sampled_from(STEPS), data=st.data(), state=st.sampled_from(["done", "failed", "running"]))
    def record(self, step: str, data: st.DataObject, state: str) -> None:
        uid = data.draw(st.sampled_from(sorted(u for u, s in self.step.items() if s == step)))
        record_outcome(self.store, [uid], state)
        if model.STATE_RANK[state] > model.STATE_RANK[self.state[uid]]:
            self.state[uid] = state
        self.last_run[uid] = self.tick()

    @rule(data=st.data())
    def invalidate(self, data: st.DataObject) -> None:
        """Mostly a done product (what a bad result is), else any product or the raw configuration."""
        done = sorted(u for u, s in self.state.items() if s == "done")
        uid = data.draw(st.sampled_from(done) if done and data.draw(st.booleans())
                        else st.sampled_from(sorted([*self.step, self.raw])))
        invalidate.invalidate(self.store, uid, "bad", "test")
        if uid not in self.roots:  # invalidating again reuses the event that holds
            self.roots.add(uid)
            self.last_invalidated[uid] = self.tick()

    @precondition(lambda self: self.roots)
    @rule(data=st.data())
    def revalidate(self, data: st.DataObject) -> None:
        uid = data.draw(st.sampled_from(sorted(self.roots)))
        invalidate.revalidate(self.store, uid, "fine", "test")
        self.roots.discard(uid)
        self.tick()

    @rule(step=st.sampled_from([None, *STEPS]))
    def write_tasks(self, step: str | None) -> None:
        due = {u: why for u, why in self.expected().items() if step is None or self.step[u] == step}
        written = metaq.write_tasks(self.store, self.metaq, step=step)
        assert sorted(n for t in written["tasks"] for n in t["products"]) == sorted(self.name[u] for u in due)
        replanned = {d for u, why in due.items() if why == "recompute" for d in nx.descendants(self.dag, u)
                     if d in self.step and d not in due and self.state[d] in ("done", "failed")}
        for uid in due:
            self.state[uid] = "queued"
        for uid in replanned:
            self.state[uid] = "planned"
        assert written["replanned"] == len(replanned)

    @precondition(lambda self: "queued" in self.state.values())
    @rule(data=st.data())
    def lose_task(self, data: st.DataObject) -> None:
        """A task file deleted by hand: tasks scan plans its products again."""
        uid = data.draw(st.sampled_from(sorted(u for u, s in self.state.items() if s == "queued")))
        lost: list[str] = []
        for path in self.metaq.rglob("*.sh"):
            if uid in metaq.read_products(path):
                lost = metaq.read_products(path)
                path.unlink()
        metaq.scan(self.store, self.metaq)
        for other in lost:
            if self.state[other] == "queued":
                self.state[other] = "planned"

    # -- what must hold after every step -------------------------------------------------------
    @invariant()
    def frontier_states_and_counters_are_the_models(self) -> None:
        got = {p["uid"]: p["why"] for g in frontier.ready(self.store)["groups"] for p in g["products"]}
        assert got == self.expected()
        rows = self.store.read("entity_states", uids=list(self.state))
        assert {r["uid"]: r["state"] for r in rows} == self.state
        queued = sum(r["queued"] for r in status.status(self.store))
        assert queued == sum(s == "queued" for s in self.state.values())


def test_the_frontier_holds_in_any_order_of_events(store, tmp_path) -> None:
    Frontier.store, Frontier.folder = store, str(tmp_path)
    machine = Frontier.TestCase
    machine.settings = settings(max_examples=15, stateful_step_count=14, deadline=None,
                                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    try:
        machine().runTest()
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
