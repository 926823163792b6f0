"""Concurrent writers against one server: no duplicate, no lost run, no error, no cycle.

The workload is benchmarks/concurrency.py's, at CI size; the benchmark runs the issue's size.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from latteprov.graph import GraphBatch
from latteprov import graph

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import concurrency  # noqa: E402

PROCESSES, RUNS = 4, 50


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(store, settings) -> None:
    result = concurrency.run_workload(settings, PROCESSES, RUNS)
    assert result["errors"] == []
    found = concurrency.audit(store, PROCESSES, RUNS)
    assert found == {"duplicate_uids": 0, "duplicate_edges": 0, "missing_entities": [],
                     "unexpected_entities": [], "lost_runs": [], "unfinished_runs": []}
    assert store.run_text("MATCH (r:Run) RETURN count(r) AS n")[0]["n"] == PROCESSES * RUNS
    print(f"\n{PROCESSES}x{RUNS} runs: {result['runs_per_second']:.1f} runs/s, "
          f"{result['retries']} transactions retried")


def test_deadlocks_are_retried_by_managed_transactions(store) -> None:
    store.run_text("CREATE (:Probe {name: 'a', n: 0}), (:Probe {name: 'b', n: 0})", write=True)
    both_hold_one = threading.Barrier(2, timeout=30)
    attempts = {"ab": 0, "ba": 0}
    errors: list[BaseException] = []

    def cross(first: str, second: str):
        key = first + second

        def work(tx) -> None:
            attempts[key] += 1
            tx.run("MATCH (p:Probe {name: $n}) SET p.n = p.n + 1", n=first).consume()
            if attempts[key] == 1:
                both_hold_one.wait()  # each holds its first lock and now asks for the other's
            tx.run("MATCH (p:Probe {name: $n}) SET p.n = p.n + 1", n=second).consume()

        def thread() -> None:
            try:
                store.write_tx(work)
            except BaseException as exc:  # reported below: none may escape
                errors.append(exc)

        return threading.Thread(target=thread)

    threads = [cross("a", "b"), cross("b", "a")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sum(attempts.values()) >= 3  # one of them was chosen as the deadlock victim and ran again
    assert store.run_text("MATCH (p:Probe) RETURN sum(p.n) AS n")[0]["n"] == 4


@pytest.mark.parametrize("rounds", [20])
def test_concurrent_opposite_edges_never_close_a_cycle(store, settings, rounds: int) -> None:
    batch = GraphBatch()
    pairs = [(batch.add("QuarkSmearing", name=f"a{i}", radius=float(i), steps=1),
              batch.add("QuarkSmearing", name=f"b{i}", radius=float(i), steps=2)) for i in range(rounds)]
    graph.write(store, batch)
    outcomes = concurrency.race(settings, pairs)
    assert all(sorted(pair) == ["cycle", "ok"] for pair in outcomes), outcomes
    edges = store.run_text("MATCH (a)-[:DERIVED_FROM]->(b) RETURN a.uid AS a, b.uid AS b")
    assert len(edges) == rounds
    assert not store.run_text("MATCH p = (a)-[:DERIVED_FROM]->+(a) RETURN p LIMIT 1")
