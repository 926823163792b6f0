"""The bulk writer: identity, idempotence, all-or-nothing batches, refused cycles."""
from __future__ import annotations

import pytest

from latteprov import graph
from latteprov.graph import CycleError, GraphBatch, GraphError


def chain(*names: str) -> GraphBatch:
    batch = GraphBatch()
    uids = [batch.add("QuarkSmearing", name=n, radius=float(i), steps=i) for i, n in enumerate(names)]
    for a, b in zip(uids, uids[1:]):
        batch.link(b, a, "input")
    return batch


def count(store, label: str = "Entity") -> int:
    return store.run_text(f"MATCH (n:{label}) RETURN count(n) AS n")[0]["n"]


def test_recording_twice_leaves_one_node(store) -> None:
    graph.write(store, chain("a", "b", "c"))
    result = graph.write(store, chain("a", "b", "c"))
    assert result.entities_created == 0 and result.entities_matched == 3
    assert count(store) == 3
    assert store.run_text("MATCH ()-[r:DERIVED_FROM]->() RETURN count(r) AS n")[0]["n"] == 2


def test_equal_values_of_other_types_give_one_uid() -> None:
    a = graph.entity("MobiusDW", quark_mass="0.00951", M5=1.1, L5="6", b5=1.25, c5=0.25)
    b = graph.entity("MobiusDW", quark_mass=0.00951, M5="1.1", L5=6.0, b5="1.25", c5=0.25)
    assert a["uid"] == b["uid"]


def test_cycle_is_refused_and_names_it(store) -> None:
    batch = chain("a", "b", "c")
    graph.write(store, batch)
    first, last = batch.entities[0]["uid"], batch.entities[-1]["uid"]
    closing = GraphBatch()
    closing.link(first, last, "input")
    with pytest.raises(CycleError, match="a -> c -> b -> a|cycle"):
        graph.write(store, closing)
    assert store.run_text("MATCH ()-[r:DERIVED_FROM]->() RETURN count(r) AS n")[0]["n"] == 2


def test_self_loop_is_refused(store) -> None:
    batch = chain("a")
    batch.link(batch.entities[0]["uid"], batch.entities[0]["uid"], "input")
    with pytest.raises(CycleError):
        graph.write(store, batch)
    assert count(store) == 0


def test_unknown_endpoint_rolls_back_the_whole_batch(store) -> None:
    batch = chain("a", "b")
    batch.link(batch.entities[0]["uid"], "QuarkSmearing:doesnotexist", "input")
    with pytest.raises(GraphError, match="doesnotexist"):
        graph.write(store, batch)
    assert count(store) == 0


def test_conflicting_properties_are_reported_not_overwritten(store) -> None:
    graph.write(store, chain("a"))
    again = GraphBatch()
    row = graph.entity("QuarkSmearing", name="a", radius=0.0, steps=0)
    row["props"]["smearing_type"] = "point"  # same uid, different description
    again.entities.append(row)
    result = graph.write(store, again)
    assert result.conflicts and "smearing_type" in result.conflicts[0]
    assert store.run_text("MATCH (n:QuarkSmearing) RETURN n.smearing_type AS t")[0]["t"] == "gaussian"


def test_state_moves_forward_only(store) -> None:
    b = GraphBatch()
    uid = b.add("QuarkSmearing", name="s", state="planned", radius=1.0, steps=1)
    graph.write(store, b)
    for state, expected in (("running", "running"), ("planned", "running"), ("done", "done")):
        again = GraphBatch()
        again.add("QuarkSmearing", name="s", state=state, radius=1.0, steps=1)
        graph.write(store, again)
        assert store.run_text("MATCH (n {uid: $u}) RETURN n.state AS s", u=uid)[0]["s"] == expected


def test_init_fills_file_statuses_of_graphs_written_before_they_existed(store) -> None:
    batch = chain("a")
    batch.add_file(batch.entities[0]["uid"], "/data/a.h5", status="on_tape")
    graph.write(store, batch)
    store.run_text("MATCH (n:Entity) REMOVE n.file_statuses", write=True)
    store.install_schema()
    assert store.run_text("MATCH (n:Entity) RETURN n.file_statuses AS s") == [{"s": ["on_tape"]}]
