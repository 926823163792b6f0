"""The bulk writer: identity, idempotence, all-or-nothing batches, refused cycles."""
from __future__ import annotations

import threading
import time

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


def test_new_products_get_their_files_statuses_and_old_ones_are_refreshed(store) -> None:
    batch = chain("a")
    product = batch.entities[0]["uid"]
    batch.add_file(product, "/data/a.h5", status="on_tape")
    batch.add_file(product, "/data/b.h5", status="on_disk")
    graph.write(store, batch)
    statuses = "MATCH (n:Entity) RETURN n.file_statuses AS s"
    assert sorted(store.run_text(statuses)[0]["s"]) == ["on_disk", "on_tape"]
    later = GraphBatch()  # an existing product, a new file and an existing file
    later.add_file(product, "/data/c.h5", status="missing")
    later.add_file(None, "/data/a.h5", status="on_disk")
    graph.write(store, later)
    assert sorted(store.run_text(statuses)[0]["s"]) == ["missing", "on_disk", "on_disk"]


def test_a_new_product_stored_at_an_existing_file_reads_its_status(store) -> None:
    first = GraphBatch()
    first.add_file(None, "/data/shared.h5", status="on_tape")
    graph.write(store, first)
    batch = chain("a")
    batch.link(batch.entities[0]["uid"], graph.file_uid("/data/shared.h5"), type="STORED_AT")
    graph.write(store, batch)
    assert store.run_text("MATCH (n:Entity) RETURN n.file_statuses AS s") == [{"s": ["on_tape"]}]


def test_a_run_given_twice_in_a_batch_keeps_its_last_end_state(store) -> None:
    batch = GraphBatch()
    batch.runs.append(graph.run_row("run:1", exit_state="running"))
    batch.runs.append(graph.run_row("run:1", exit_state="done"))
    graph.write(store, batch)
    assert store.run_text("MATCH (r:Run) RETURN r.exit_state AS s") == [{"s": "done"}]


def test_edges_between_old_nodes_are_not_doubled(store) -> None:
    batch = chain("a", "b")
    run = graph.run_row("run:1", exit_state="done")
    batch.runs.append(run)
    batch.link(batch.entities[1]["uid"], "run:1", type="GENERATED_BY")
    batch.link("run:1", batch.entities[0]["uid"], type="USED")
    batch.add_file(batch.entities[1]["uid"], "/data/b.h5", status="on_disk")
    graph.write(store, batch)
    result = graph.write(store, batch)  # everything exists now: every edge is MERGEd
    assert result.entities_created == 0 and result.edges_written == 4
    assert store.run_text("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n ORDER BY t") == [
        {"t": "DERIVED_FROM", "n": 1}, {"t": "GENERATED_BY", "n": 1}, {"t": "STORED_AT", "n": 1},
        {"t": "USED", "n": 1}]
    assert store.run_text("MATCH (n:Entity {name: 'b'}) RETURN n.file_statuses AS s") == [{"s": ["on_disk"]}]


def test_a_node_created_meanwhile_by_another_writer_makes_the_batch_retry_whole(store) -> None:
    """The batch looks its uids up, another transaction creates one of them before the batch's
    CREATE runs: the constraint refuses the CREATE, the batch is retried and matches the node."""
    batch = chain("a", "b")
    taken = batch.entities[0]
    outcome: list = []
    with store.driver.session() as session:
        tx = session.begin_transaction()
        tx.run("CREATE (n:Entity:Action:QuarkSmearing) SET n = $props, n.state = 'done', n.valid = true",
               props=taken["props"]).consume()
        writer = threading.Thread(target=lambda: outcome.append(graph.write(store, batch)))
        writer.start()
        deadline = time.monotonic() + 30
        while not store.run_text("SHOW TRANSACTIONS YIELD status WHERE status STARTS WITH 'Blocked' "
                                 "RETURN count(*) AS n")[0]["n"]:
            assert time.monotonic() < deadline, "the batch never waited on the other writer's node"
            time.sleep(0.05)
        tx.commit()
    writer.join(60)
    assert outcome and outcome[0].entities_created == 1 and outcome[0].entities_matched == 1
    assert count(store) == 2
    assert store.run_text("MATCH ()-[r:DERIVED_FROM]->() RETURN count(r) AS n")[0]["n"] == 1
