"""The graph never lies, whatever the order of events: a hypothesis state machine records,
re-records with late states, invalidates and revalidates products of a small DAG in random
orders, and after every step checks validity, states and the status counters against a
reference model kept here (networkx)."""
from __future__ import annotations

import networkx as nx
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from latteprov import graph, invalidate, model, status
from latteprov.graph import GraphBatch

ENSEMBLE = "a09m310"
# product -> its inputs: two roots, a diamond below them
INPUTS = {0: (), 1: (), 2: (0, 1), 3: (2,), 4: (1,), 5: (3, 4)}
STATES = st.sampled_from(model.STATES)


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

    @initialize()
    def empty(self) -> None:
        self.store.clear()

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
        old = self.state.get(i)
        if old is None or model.STATE_RANK[state] > model.STATE_RANK[old]:
            self.state[i] = state

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
        return not (nx.ancestors(self.dag, i) | {i}) & self.roots

    @invariant()
    def validity_and_states_are_the_models(self) -> None:
        rows = self.store.run_text("MATCH (n:DerivedDataset) RETURN n.name AS name, n.valid AS valid, n.state AS state")
        got = {int(r["name"][1:]): (r["valid"], r["state"]) for r in rows}
        assert got == {i: (self.valid(i), s) for i, s in self.state.items()}

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


def test_validity_states_and_counters_hold_in_any_order_of_events(store) -> None:
    Events.store = store
    machine = Events.TestCase
    machine.settings = settings(max_examples=12, stateful_step_count=14, deadline=None,
                                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    machine().runTest()
