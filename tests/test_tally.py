"""Tallies: after every kind of write the counters equal a full scan of the entities."""
from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from latteprov import graph, record, spool, status, tally
from latteprov.errors import InputError
from latteprov.graph import GraphBatch
from latteprov.ingest import datafiles
from latteprov.ingest.scan import scan
from latteprov.spool import SpoolWriter
from latteprov import schema

HOST = datafiles.host()


def assert_exact(store) -> list[dict]:
    """The status report comes from the tallies and equals the scan; return it."""
    rows, from_tallies = status.report(store)
    assert from_tallies
    assert rows == status.scan(store)
    return rows


def source(b: GraphBatch, x: int, ensemble: str = "e1", state: str | None = None) -> str:
    return b.add("Source", name=f"{ensemble}-s{x}", state=state, ensemble=ensemble, stream="a", config=1,
                 x=x, y=0, z=0, t=0)


def lock_ticks(store) -> int:
    rows = store.run_text("MATCH (l:Lock {name: 'tally'}) RETURN l.tick AS tick")
    return rows[0]["tick"] if rows else 0


def test_new_entities_are_counted_per_ensemble_and_kind(store) -> None:
    b = GraphBatch()
    for x in range(3):
        source(b, x, state="planned")
    source(b, 0, ensemble="e2")
    b.add("QuarkSmearing", name="wf", radius=3.5, steps=45)
    graph.write(store, b)
    rows = {(r["ensemble"], r["kind"]): r for r in assert_exact(store)}
    assert (rows[("e1", "Source")]["total"], rows[("e1", "Source")]["planned"]) == (3, 3)
    assert rows[("e2", "Source")]["done"] == 1
    assert rows[(None, "QuarkSmearing")]["total"] == 1


def test_a_rewritten_batch_counts_nothing_twice(store) -> None:
    b = GraphBatch()
    uid = source(b, 0)
    b.add_file(uid, "/d/a", host="h", status="on_disk")
    graph.write(store, b)
    first = assert_exact(store)
    graph.write(store, b)
    assert assert_exact(store) == first and first[0]["total"] == 1 and first[0]["on_disk"] == 1


def test_state_moves_forward_and_the_counts_follow(store) -> None:
    b = GraphBatch()
    source(b, 0, state="planned")
    graph.write(store, b)
    later = GraphBatch()
    source(later, 0, state="running")
    graph.write(store, later)
    (row,) = assert_exact(store)
    assert (row["planned"], row["running"]) == (0, 1)
    again = GraphBatch()
    source(again, 0, state="planned")  # never demotes
    graph.write(store, again)
    assert assert_exact(store) == [row]


def test_files_stored_later_and_file_statuses_changed_later_are_counted(store) -> None:
    b = GraphBatch()
    one, two = source(b, 0), source(b, 1)
    graph.write(store, b)
    files = GraphBatch()
    files.add_file(one, "/d/a", host="h", status="on_tape")
    files.add_file(two, "/d/b", host="h", status="on_disk")
    graph.write(store, files)
    assert (assert_exact(store)[0]["on_tape"], assert_exact(store)[0]["on_disk"]) == (1, 1)
    moved = GraphBatch()
    moved.add_file(None, "/d/a", host="h", status="missing")  # the file alone: its product follows
    graph.write(store, moved)
    (row,) = assert_exact(store)
    assert (row["on_tape"], row["missing"], row["on_disk"]) == (0, 1, 1)
    shared = GraphBatch()
    shared.link(two, graph.file_uid("/d/a", "h"), type="STORED_AT")  # a second product of that file
    graph.write(store, shared)
    assert assert_exact(store)[0]["missing"] == 2


def test_one_batch_mixing_new_and_old_products_and_files_is_counted_exactly(store) -> None:
    """New entities are counted from what the write path creates, old ones by reading them:
    a batch crossing the two (new product at an old file, old product at a new file, a file
    changing status under an old product) must still equal the scan."""
    b = GraphBatch()
    old = source(b, 0, state="running")
    b.add_file(old, "/d/old", host="h", status="on_disk")
    graph.write(store, b)
    mixed = GraphBatch()
    new = source(mixed, 1, state="planned")
    mixed.link(new, graph.file_uid("/d/old", "h"), type="STORED_AT")  # new product, old file
    mixed.add_file(old, "/d/new", host="h", status="on_tape")  # old product, new file
    mixed.add_file(None, "/d/old", host="h", status="wrong_size")  # old file changes under both
    source(mixed, 0, state="done")  # and the old product moves on
    graph.write(store, mixed)
    (row,) = assert_exact(store)
    assert (row["total"], row["planned"], row["done"], row["running"]) == (2, 1, 1, 0)
    assert (row["wrong_size"], row["on_tape"], row["on_disk"]) == (2, 1, 0)


def test_a_refused_batch_changes_no_tally(store) -> None:
    b = GraphBatch()
    source(b, 0)
    graph.write(store, b)
    before = assert_exact(store)
    bad = GraphBatch()
    uid = source(bad, 1, state="failed")
    bad.link(uid, "Source:" + "0" * 20, "input")
    with pytest.raises(InputError, match="unknown node"):
        graph.write(store, bad)
    assert assert_exact(store) == before


def test_writes_that_touch_no_entity_leave_the_lock_alone(store) -> None:
    ticks = lock_ticks(store)
    graph.write(store, GraphBatch(runs=[graph.run_row("Run:" + "a" * 20)]))
    assert lock_ticks(store) == ticks
    b = GraphBatch()
    source(b, 0)
    graph.write(store, b)
    assert lock_ticks(store) == ticks + 1


def test_set_state_is_counted(store) -> None:
    b = GraphBatch()
    uids = [source(b, x, state="running") for x in range(3)]
    graph.write(store, b)
    record.set_state(store, uids[:2], "failed")
    (row,) = assert_exact(store)
    assert (row["running"], row["failed"]) == (1, 2)


def test_scan_is_counted(store, tmp_path) -> None:
    (tmp_path / "here").write_bytes(b"x")
    b = GraphBatch()
    uid = source(b, 0)
    b.add_file(uid, str(tmp_path / "here"), host=HOST, status="unknown")
    b.add_file(uid, str(tmp_path / "gone"), host=HOST, status="on_disk")
    graph.write(store, b)
    scan(store, [str(tmp_path)])
    (row,) = assert_exact(store)
    assert (row["on_disk"], row["missing"], row["unknown"]) == (1, 1, 0)


def test_sync_of_a_killed_job_counts_its_products_failed(store, tmp_path) -> None:
    run_uid = "Run:" + "b" * 20
    with SpoolWriter(tmp_path, "killed") as writer:
        writer.append("started", GraphBatch(runs=[graph.run_row(run_uid, kind="solve")]), run_uid)
        out = GraphBatch()
        uid = source(out, 0, state="running")
        out.link(uid, run_uid, type="GENERATED_BY")
        writer.append("output", out, run_uid)
    report = spool.sync(store, tmp_path)
    assert report.unfinished == [run_uid]
    (row,) = assert_exact(store)
    assert (row["running"], row["failed"]) == (0, 1)


def test_clear_leaves_complete_empty_tallies(store) -> None:
    b = GraphBatch()
    source(b, 0)
    graph.write(store, b)
    store.clear()
    assert store.run_text("MATCH (n) RETURN count(n) AS n") == [{"n": 0}]
    assert status.report(store) == ([], True)
    graph.write(store, b)  # the first write to a graph without entities starts complete tallies
    assert assert_exact(store)[0]["total"] == 1


def test_without_the_marker_status_scans_and_a_recount_restores_the_tallies(store) -> None:
    b = GraphBatch()
    source(b, 0, state="planned")
    graph.write(store, b)
    expected = assert_exact(store)
    # A store from before the tallies: no lock, no counters; writes from now on do not complete them.
    store.run_text("MATCH (n) WHERE n:Tally OR n:Lock DETACH DELETE n", write=True)
    assert status.report(store) == (expected, False)
    other = GraphBatch()
    source(other, 1, ensemble="e2")
    graph.write(store, other)
    expected = status.scan(store)
    assert status.report(store) == (expected, False)
    assert tally.recount(store) == 2
    assert status.report(store) == (expected, True)


def test_init_recounts_only_when_the_marker_is_missing(store) -> None:
    b = GraphBatch()
    source(b, 0)
    graph.write(store, b)
    store.run_text("MATCH (l:Lock {name: 'tally'}) REMOVE l.complete WITH l MATCH (t:Tally) DELETE t", write=True)
    schema.install(store)
    assert_exact(store)
    ticks = lock_ticks(store)
    schema.install(store)
    assert lock_ticks(store) == ticks


def test_status_command_says_when_it_scans_and_recount_builds_the_tallies(cli, store) -> None:
    b = GraphBatch()
    source(b, 0)
    graph.write(store, b)
    store.run_text("MATCH (l:Lock {name: 'tally'}) REMOVE l.complete", write=True)
    scanned = cli("status", "--format", "json")
    assert scanned.exit_code == 0 and "counted by a full scan" in scanned.stderr
    assert json.loads(scanned.stdout) == status.scan(store)
    rebuilt = cli("status", "--recount", "--format", "json")
    assert rebuilt.exit_code == 0 and rebuilt.stderr == ""
    assert json.loads(rebuilt.stdout) == status.scan(store)


def test_concurrent_writers_of_overlapping_batches_end_exact(store) -> None:
    states = ("planned", "running", "done", "failed")
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(6):
                b = GraphBatch()
                for x in range(8):  # every writer writes the same entities and files
                    uid = source(b, x, ensemble=f"e{x % 2}", state=states[(w + i + x) % 4])
                    b.add_file(uid, f"/d/{x}", host="h", status=("on_disk", "on_tape", "missing")[(w + i) % 3])
                graph.write(store, b)
                record.set_state(store, [b.entities[w]["uid"]], states[i % 4])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = assert_exact(store)
    assert sum(r["total"] for r in rows) == 8 and sum(r["on_disk"] + r["on_tape"] + r["missing"] for r in rows) == 8


# A random sequence of writes over a small universe: entities (two ensembles and a shared kind),
# files on disk in a temporary directory, state changes, scans, refused batches.
entity_ops = st.tuples(st.just("write"),
                       st.lists(st.tuples(st.integers(0, 5), st.sampled_from([None, "planned", "running", "done",
                                                                              "failed"])), max_size=5),
                       st.lists(st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(0, 5)),
                                          st.sampled_from(["on_disk", "on_tape", "missing", "wrong_size",
                                                           "unknown"])), max_size=3))
state_ops = st.tuples(st.just("set_state"), st.lists(st.integers(0, 5), min_size=1, max_size=3),
                      st.sampled_from(["planned", "running", "done", "failed"]))
disk_ops = st.tuples(st.just("disk"), st.integers(0, 3), st.booleans())
scan_ops = st.tuples(st.just("scan"))
bad_ops = st.tuples(st.just("refused"), st.integers(0, 5))


def _entity(b: GraphBatch, i: int, state: str | None) -> str:
    if i == 5:
        return b.add("QuarkSmearing", name="wf", state=state, radius=3.5, steps=45)
    return source(b, i, ensemble=f"e{i % 2}", state=state)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(entity_ops, state_ops, disk_ops, scan_ops, bad_ops), min_size=1, max_size=8))
def test_random_operation_sequences_keep_the_tallies_exact(store, ops) -> None:
    store.clear()
    written: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        path = [str(Path(tmp) / f"f{k}") for k in range(4)]
        for op in ops:
            if op[0] == "write":
                b = GraphBatch()
                uids = {i: _entity(b, i, state) for i, state in op[1]}
                for k, product, file_status in op[2]:
                    if product is not None and product not in uids:
                        uids[product] = _entity(b, product, None)
                    b.add_file(uids.get(product), path[k], host=HOST, status=file_status)
                graph.write(store, b)
                written |= set(uids.values())
            elif op[0] == "set_state":
                probe = GraphBatch()
                uids = [u for u in (_entity(probe, i, None) for i in op[1]) if u in written]
                if uids:
                    record.set_state(store, uids, op[2])
            elif op[0] == "disk" and op[2]:
                Path(path[op[1]]).write_bytes(b"x")
            elif op[0] == "disk":
                Path(path[op[1]]).unlink(missing_ok=True)
            elif op[0] == "scan":
                scan(store, [tmp])
            else:
                b = GraphBatch()
                b.link(_entity(b, op[1], "failed"), "Source:" + "0" * 20, "input")
                with pytest.raises(InputError):
                    graph.write(store, b)
            assert_exact(store)
