"""The bulk writer: identity, idempotence, all-or-nothing batches, refused cycles."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from latteprov import graph
from latteprov.graph import CycleError, GraphBatch, GraphError
from latteprov import schema


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


@pytest.mark.parametrize("first, events", [
    ("planned", [("running", "running"), ("planned", "running"), ("done", "done")]),
    # a re-run that succeeds lifts a failed product; nothing leaves done
    ("failed", [("running", "failed"), ("done", "done"), ("failed", "done")]),
])
def test_state_moves_forward_only(store, first: str, events: list[tuple[str, str]]) -> None:
    b = GraphBatch()
    uid = b.add("QuarkSmearing", name="s", state=first, radius=1.0, steps=1)
    graph.write(store, b)
    for state, expected in events:
        again = GraphBatch()
        again.add("QuarkSmearing", name="s", state=state, radius=1.0, steps=1)
        graph.write(store, again)
        assert store.run_text("MATCH (n {uid: $u}) RETURN n.state AS s", u=uid)[0]["s"] == expected


def test_a_late_start_event_never_reopens_a_finished_run_or_product(store) -> None:
    end = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)
    done = GraphBatch()
    product = done.add("QuarkSmearing", name="s", state="done", radius=1.0, steps=1)
    done.runs.append(graph.run_row("run:late", started_at=end - timedelta(hours=1), ended_at=end, exit_state="done"))
    graph.write(store, done)
    for batch_states in (["running"], ["planned"], ["done", "running"]):  # alone, or after the end in one batch
        late = GraphBatch()
        late.add("QuarkSmearing", name="s", state="running", radius=1.0, steps=1)
        for state in batch_states:
            late.runs.append(graph.run_row("run:late", started_at=end - timedelta(hours=1),
                                           ended_at=end if state == "done" else None, exit_state=state))
        graph.write(store, late)
        run = store.run_text("MATCH (r:Run) RETURN r.exit_state AS s, r.ended_at AS e")[0]
        assert run["s"] == "done" and run["e"].to_native() == end
        assert store.run_text("MATCH (n {uid: $u}) RETURN n.state AS s", u=product)[0]["s"] == "done"


def test_init_fills_file_statuses_of_graphs_written_before_they_existed(store) -> None:
    batch = chain("a")
    batch.add_file(batch.entities[0]["uid"], "/data/a.h5", status="on_tape")
    graph.write(store, batch)
    store.run_text("MATCH (n:Entity) REMOVE n.file_statuses", write=True)
    schema.install(store)
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


ZONES = [timezone.utc, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30)),
         ZoneInfo("Europe/Berlin"), ZoneInfo("America/Los_Angeles")]


def test_datetimes_written_as_scalars_read_back_as_the_driver_would_have_stored_them(store) -> None:
    """Run and file times travel as [epoch seconds, nanosecond, zone] and are rebuilt by the
    server: instant, microseconds and zone (named or offset) must survive, on create and update."""
    batch, expected = GraphBatch(), {}
    for i, zone in enumerate(ZONES):
        start = datetime(2024, 3, 31, 0, 59, 59, 123456 * i % 1_000_000, tzinfo=zone)  # around a DST change
        end = start + timedelta(days=200, microseconds=7)
        uid = f"run:t{i}"
        batch.runs.append(graph.run_row(uid, started_at=start, ended_at=end, exit_state="failed"))
        batch.add_file(None, f"/data/t{i}.h5", checked_at=end, mtime=start)
        expected[uid] = (start, end)
    graph.write(store, batch)
    later = datetime(2025, 1, 1, 12, 0, 0, 1, tzinfo=ZoneInfo("Asia/Tokyo"))
    update = GraphBatch()  # existing nodes go through merge_runs / merge_files
    update.runs.append(graph.run_row("run:t0", started_at=later, ended_at=later, exit_state="done"))  # a re-run
    update.add_file(None, "/data/t0.h5", checked_at=later)
    graph.write(store, update)
    expected["run:t0"] = (expected["run:t0"][0], later)  # started_at is kept, ended_at moves

    runs = {r["uid"]: r for r in store.run_text("MATCH (r:Run) RETURN r.uid AS uid, r.started_at AS s, r.ended_at AS e")}
    for uid, (start, end) in expected.items():
        got_start, got_end = runs[uid]["s"].to_native(), runs[uid]["e"].to_native()
        assert (got_start, got_end) == (start, end)
        assert got_start.utcoffset() == start.utcoffset() and got_end.utcoffset() == end.utcoffset()
    odd = GraphBatch()  # an offset with seconds (historical zones) is kept to the second
    odd.runs.append(graph.run_row("run:lmt", started_at=datetime(1900, 1, 1, tzinfo=timezone(-timedelta(hours=1, minutes=2, seconds=3)))))
    graph.write(store, odd)
    assert store.run_text("MATCH (r:Run {uid: 'run:lmt'}) RETURN toString(r.started_at) AS s")[0]["s"] \
        == "1900-01-01T00:00:00-01:02:03"
    bare = GraphBatch()  # a run first known without a start time gets the one given later
    bare.runs.append(graph.run_row("run:late"))
    graph.write(store, bare)
    told = GraphBatch()
    told.runs.append(graph.run_row("run:late", started_at=later))
    graph.write(store, told)
    assert store.run_text("MATCH (r:Run {uid: 'run:late'}) RETURN r.started_at AS s")[0]["s"].to_native() == later
    zone_names = store.run_text("MATCH (r:Run) WHERE r.uid IN ['run:t3', 'run:t0'] "
                                "RETURN r.uid AS uid, r.started_at.timezone AS s, r.ended_at.timezone AS e")
    assert {z["uid"]: (z["s"], z["e"]) for z in zone_names} == {"run:t3": ("Europe/Berlin", "Europe/Berlin"),
                                                             "run:t0": ("Z", "Asia/Tokyo")}
    files = {f["path"]: f for f in store.run_text("MATCH (f:DataFile) RETURN f.path AS path, f.checked_at AS c, f.mtime AS m")}
    assert files["/data/t0.h5"]["c"].to_native() == later
    assert files["/data/t1.h5"]["m"].to_native() == expected["run:t1"][0]


def test_split_times_leaves_naive_datetimes_and_other_values_to_the_driver() -> None:
    naive = datetime(2024, 1, 1)
    plain, times = graph.split_times({"a": naive, "b": 3, "c": datetime(1969, 12, 31, 23, 59, 59, 500000, timezone.utc)})
    assert plain == {"a": naive, "b": 3}
    assert times == {"c": [-1, 500_000_000, "Z"]}
    odd = timezone(-timedelta(hours=1, minutes=2, seconds=3))  # historical offsets have seconds
    assert graph.split_times({"t": datetime(1900, 1, 1, tzinfo=odd)})[1]["t"][2] == "-01:02:03"


def test_init_drops_the_indexes_an_older_version_created_and_keeps_the_constraints(store) -> None:
    """entity_valid (slowed invalidation) and derived_from_role (misled the planner) are dropped
    from stores that have them; the uniqueness constraints every write relies on stay."""
    store.run_text("CREATE INDEX entity_valid IF NOT EXISTS FOR (n:Entity) ON (n.valid)", write=True)
    store.run_text("CREATE INDEX derived_from_role IF NOT EXISTS FOR ()-[r:DERIVED_FROM]-() ON (r.role)", write=True)
    schema.install(store)
    names = {r["name"] for r in store.run_text("SHOW INDEXES YIELD name RETURN name")}
    assert not names & {"entity_valid", "derived_from_role"}
    assert {"entity_uid_unique", "run_uid_unique", "datafile_uid_unique", "entity_search_name", "tally_key"} <= names


def test_a_link_that_breaks_the_link_rules_names_the_node_and_the_rule(store) -> None:
    b = GraphBatch()
    b.runs.append(graph.run_row("run:solve-7", kind="solve", name="solve job 7", exit_state="done"))
    graph.write(store, b)
    bad = GraphBatch()
    product = bad.add("QuarkSmearing", name="s", radius=1.0, steps=1)
    bad.link(product, "run:solve-7", "input")  # a run is not an input: it is what made the product
    with pytest.raises(GraphError, match=r"DERIVED_FROM edge to solve job 7 \(run:solve-7\), a Run: "
                                         r"DERIVED_FROM joins Entity -> Entity \(a product derives from its inputs"):
        graph.write(store, bad)
    backwards = GraphBatch()
    product = backwards.add("QuarkSmearing", name="t", radius=2.0, steps=2)
    backwards.link("run:solve-7", product, type="GENERATED_BY")
    with pytest.raises(GraphError, match=r"GENERATED_BY edge from solve job 7 .* a Run: GENERATED_BY joins Entity -> Run"):
        graph.write(store, backwards)
    assert count(store) == 0
