"""Concurrent writers: N processes record runs with overlapping inputs against one server.

Every worker records its runs over the same few gauge configurations, actions, sources and
propagators, so the MERGEs of different processes collide all the time. Half the runs go through
:func:`latteprov.graph.write` (one batch each), half through :func:`latteprov.record.run` (the
job-script API: a started and a finished transaction). Afterwards the graph must hold exactly the
expected uids once each and every run, finished; no worker may have seen an error.

    python -m benchmarks.concurrency                 # the issue's size: 8 processes x 500 runs
    python -m benchmarks.concurrency -p 4 -n 50      # CI size

Without ``NEO4J_URI`` a throwaway server is started (temporary home, free port, no auth).
tests/test_concurrency.py runs the same workload at CI size.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import dataclass

from benchmarks.server import empty_store
from latteprov import graph, record
from latteprov.config import Settings
from latteprov.graph import CycleError, GraphBatch
from latteprov.store import Store

ENSEMBLE = "a09m310"
CONFIGS = 10  # few configurations, so that every process keeps hitting the same nodes
MASSES = (0.00951, 0.0725)  # light and strange valence quarks: two actions, two propagators per source


@dataclass(frozen=True)
class RunPlan:
    """One run of one worker: which shared inputs it uses and which propagator it makes."""

    uid: str
    worker: int
    index: int
    config: int
    mass: float


def plans(worker: int, runs: int) -> Iterator[RunPlan]:
    """The runs of ``worker``: deterministic, overlapping with every other worker's."""
    for index in range(runs):
        yield RunPlan(uid=f"Run:{worker:08x}{index:012x}", worker=worker, index=index,
                      config=(7 * worker + index) % CONFIGS + 1000, mass=MASSES[index % 2])


def inputs(plan: RunPlan) -> dict[str, dict]:
    """Entity rows for the run's inputs and product (identical across workers for equal plans)."""
    cfg = dict(ensemble=ENSEMBLE, stream="a", config=plan.config)
    smear = dict(smear_width=3.5, smear_steps=45)
    origin = dict(x=plan.config % 8, y=2, z=4, t=plan.config % 64)
    mobius = dict(quark_mass=plan.mass, M5=1.1, L5=6, alpha5=1.5)
    return {
        "gauge": graph.entity("GaugeConfig", name=f"l3296f211b630m0074m037m440{cfg['stream']}.{plan.config}",
                              flow_time=1.0, **cfg),
        "action": graph.entity("MobiusDW", name=f"mdwf_m{plan.mass}", b5=1.25, c5=0.25, **mobius),
        "source": graph.entity("Source", name=f"src_{plan.config}", flow_time=1.0, **cfg, **smear, **origin),
        "product": graph.entity("OneToAll", name=f"prop_{plan.config}_{plan.mass}", flow_time=1.0,
                                **cfg, **smear, **origin, **mobius),
    }


def expected_uids(workers: int, runs: int) -> tuple[set[str], set[str]]:
    """The entity uids and run uids the whole workload must leave in the graph."""
    entities, run_uids = set(), set()
    for worker in range(workers):
        for plan in plans(worker, runs):
            entities |= {row["uid"] for row in inputs(plan).values()}
            run_uids.add(plan.uid)
    return entities, run_uids


def _record_with_graph_write(store: Store, plan: RunPlan) -> None:
    rows = inputs(plan)
    batch = GraphBatch(entities=list(rows.values()))
    batch.runs.append(graph.run_row(plan.uid, kind="solve", job_id=f"{plan.worker}.{plan.index}",
                                    started_at=graph.now(), ended_at=graph.now(), exit_state="done"))
    product = rows["product"]["uid"]
    batch.link(rows["source"]["uid"], rows["gauge"]["uid"], "gauge")
    for role in ("gauge", "action", "source"):
        batch.link(product, rows[role]["uid"], role)
        batch.link(plan.uid, rows[role]["uid"], type="USED")
    batch.link(product, plan.uid, type="GENERATED_BY")
    graph.write(store, batch)


def _record_with_recorder(store: Store, plan: RunPlan) -> None:
    rows = inputs(plan)
    used = [rows[role] for role in ("gauge", "action", "source")]
    with record.run("solve", store=store, offline=False, uid=plan.uid, job_id=f"{plan.worker}.{plan.index}",
                    inputs=used) as run:
        product = rows["product"]["props"]
        run.output("OneToAll", name=product["name"],
                   inputs={role: rows[role]["uid"] for role in ("gauge", "action", "source")},
                   **{k: v for k, v in product.items() if k not in ("uid", "kind", "name")})


class RetryCounter(logging.Handler):
    """Counts the driver's 'Transaction failed and will be retried' warnings (its message does
    not carry the error code; tests/test_concurrency.py provokes a deadlock to see one retried)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.retries = 0

    def emit(self, record_: logging.LogRecord) -> None:
        if "will be retried" in record_.getMessage():
            self.retries += 1


def worker(settings: Settings, index: int, runs: int, start: "multiprocessing.synchronize.Barrier") -> dict:
    """Record the runs of worker ``index``; report errors, retries and time (a process entry point)."""
    counter = RetryCounter()
    logging.getLogger("neo4j.session").addHandler(counter)
    errors: list[str] = []
    with Store(settings) as store:
        store.check()
        start.wait()
        began = time.perf_counter()
        for plan in plans(index, runs):
            write = _record_with_graph_write if plan.index % 2 == 0 else _record_with_recorder
            try:
                write(store, plan)
            except Exception as exc:  # every error counts: none may reach the user
                errors.append(f"{plan.uid}: {type(exc).__name__}: {exc}")
        seconds = time.perf_counter() - began
    return {"worker": index, "errors": errors, "retries": counter.retries, "seconds": seconds}


def _call_worker(args: tuple) -> dict:
    return worker(*args)


def run_workload(settings: Settings, processes: int, runs: int) -> dict:
    """Run ``processes`` workers of ``runs`` runs each at once; totals and the wall time."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(processes)
        with ctx.Pool(processes) as pool:
            began = time.perf_counter()
            results = pool.map(_call_worker, [(settings, i, runs, barrier) for i in range(processes)])
            wall = time.perf_counter() - began
    return {"processes": processes, "runs": processes * runs, "wall_seconds": wall,
            "runs_per_second": processes * runs / wall,
            "errors": [e for r in results for e in r["errors"]],
            "retries": sum(r["retries"] for r in results)}


def audit(store: Store, processes: int, runs: int) -> dict:
    """What the graph holds against what the workload wrote: duplicates, missing, unfinished."""
    entities, run_uids = expected_uids(processes, runs)
    found = store.run_text("MATCH (n:Entity) RETURN n.uid AS uid")
    found_runs = store.run_text("MATCH (r:Run) RETURN r.uid AS uid, r.exit_state AS state, "
                                "EXISTS { (:Entity)-[:GENERATED_BY]->(r) } AS generated")
    duplicates = store.run_text("MATCH (n) WHERE n.uid IS NOT NULL WITH n.uid AS uid, count(*) AS c "
                                "WHERE c > 1 RETURN count(*) AS n")[0]["n"]
    edge_duplicates = store.run_text(
        "MATCH (a)-[r]->(b) WITH a, b, type(r) AS t, r.role AS role, count(*) AS c WHERE c > 1 "
        "RETURN count(*) AS n")[0]["n"]
    return {
        "duplicate_uids": duplicates,
        "duplicate_edges": edge_duplicates,
        "missing_entities": sorted(entities - {r["uid"] for r in found}),
        "unexpected_entities": sorted({r["uid"] for r in found} - entities),
        "lost_runs": sorted(run_uids - {r["uid"] for r in found_runs}),
        "unfinished_runs": sorted(r["uid"] for r in found_runs if r["state"] != "done" or not r["generated"]),
    }


def race_pair(settings: Settings, side: int, rounds: list[tuple[str, str]],
              start: "multiprocessing.synchronize.Barrier") -> list[str]:
    """For each (a, b): side 0 adds a -> b, side 1 adds b -> a, both at once; 'ok' or 'cycle' each."""
    outcomes = []
    with Store(settings) as store:
        store.check()
        for a, b in rounds:
            batch = GraphBatch()
            frm, to = (a, b) if side == 0 else (b, a)
            batch.link(frm, to, "input")
            start.wait()
            try:
                graph.write(store, batch)
                outcomes.append("ok")
            except CycleError:
                outcomes.append("cycle")
    return outcomes


def _call_race(args: tuple) -> list[str]:
    return race_pair(*args)


def race(settings: Settings, rounds: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Both sides of every round, as (side 0 outcome, side 1 outcome)."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(2)
        with ctx.Pool(2) as pool:
            left, right = pool.map(_call_race, [(settings, side, rounds, barrier) for side in (0, 1)])
    return list(zip(left, right))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-p", "--processes", type=int, default=8)
    parser.add_argument("-n", "--runs", type=int, default=500, help="runs per process")
    args = parser.parse_args()
    with empty_store() as store:
        settings = store.settings
        result = run_workload(settings, args.processes, args.runs)
        found = audit(store, args.processes, args.runs)
    print(f"{args.processes} processes x {args.runs} runs: {result['runs']} runs in "
          f"{result['wall_seconds']:.1f} s = {result['runs_per_second']:.1f} runs/s")
    print(f"errors reaching the user: {len(result['errors'])}; transactions retried by the driver: "
          f"{result['retries']}")
    print("duplicate uids: {duplicate_uids}, duplicate edges: {duplicate_edges}, missing entities: "
          "{m}, lost runs: {l}, unfinished runs: {u}".format(
              **found, m=len(found["missing_entities"]), l=len(found["lost_runs"]),
              u=len(found["unfinished_runs"])))
    for error in result["errors"][:5]:
        print("  ", error)

if __name__ == "__main__":
    main()
