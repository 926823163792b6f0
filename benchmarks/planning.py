"""``latteprov plan`` and ``latteprov ready`` on a tier's campaign, against baselines in the same run.

The campaign has the tier's shape (``latteprov/synth.py``: tier L is a09m310, 784 configurations,
8 sources, 13 separations; ``L/4`` its first 196 configurations) as a campaign file: flow,
source, propagator, spectrum, coherent sequential source and propagator (proton and proton_np,
UU_up_up), form factor (A3, V4). Measured, in one run on one server:

- ``plan`` of the whole campaign into an empty graph: products per second;
  baseline: the naive way, neomodel ``save()`` per node and ``connect()`` per edge, on the rows
  of the first configurations (the same rows ``plan`` writes), per product;
- ``ready`` with the first step (flow) done and everything after it planned (median of 5 after
  a warm-up); baseline: a Python scan over all products, reading every product's state and
  validity and every DERIVED_FROM edge and computing the frontier in Python. Both answers are
  checked to be the same set of products.

    python -m benchmarks.planning --tier L/4
    python -m benchmarks.planning --tier L

Without ``NEO4J_URI`` a throwaway server is started (temporary home, free port, no auth).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter

from benchmarks.server import empty_store
from benchmarks.suite import naive_neomodel
from latteprov import campaign, data, frontier, plan, record, synth
from latteprov.store import Store, chunks

# The demo campaign's steps (flow, source, prop, spec, seqsrc, seqprop, formfac): the chain the
# benchmark plans on the tier's ensemble is the one `latteprov demo` plans.
STEPS = data.path("demo_campaign.toml").read_text()
STEPS = STEPS[STEPS.index("[steps.flow]"):]


def campaign_text(tier: str) -> str:
    """The campaign file of ``tier``'s shape (its first ensemble, a09m310)."""
    shape = synth.tier_shape(tier)
    last = 300 + 5 * (shape.configs - 1)
    return f"""name = "bench"
[ensembles.a09m310]
streams = ["e"]
configs = {{ first = 300, last = {last}, step = 5 }}
sources = {shape.sources}
smearing = {{ width = 3.5, steps = 45 }}
valence = {{ M5 = 1.1, L5 = 6, alpha5 = 1.5, quark_mass = 0.00951 }}
tseps = {list(range(3, 3 + max(shape.tseps, 1)))}
particles = ["proton", "proton_np"]
flav_spins = ["UU_up_up"]
currents = ["A3", "V4"]
""" + STEPS


def python_scan(store: Store) -> set[str]:
    """The baseline frontier: every step product and every DERIVED_FROM edge read into Python."""
    nodes = {r["uid"]: r for r in store.run_text(
        "MATCH (n:Entity) RETURN n.uid AS uid, n.state AS state, n.valid AS valid, n.campaign_step AS step")}
    inputs: dict[str, list[str]] = {}
    for r in store.run_text("MATCH (a:Entity)-[:DERIVED_FROM]->(b:Entity) RETURN a.uid AS a, b.uid AS b"):
        inputs.setdefault(r["a"], []).append(r["b"])
    return {u for u, n in nodes.items()
            if n["step"] and n["state"] in ("planned", "failed")
            and all(nodes[i]["state"] == "done" and nodes[i]["valid"] is not False for i in inputs.get(u, []))}


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    """Median seconds of ``repeat`` calls after one warm-up, and the last answer."""
    answer = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", default="L/4")
    parser.add_argument("--naive-configs", type=int, default=2, help="configurations the naive baseline writes")
    args = parser.parse_args()
    camp = campaign.loads(campaign_text(args.tier), f"tier {args.tier}")
    results: dict[str, object] = {"tier": args.tier}
    with empty_store() as store:
        # Baseline first, on its own graph: the rows plan writes for the first configurations.
        small = campaign.loads(campaign_text(args.tier).replace(
            f"last = {camp.ensembles[0].configs[-1]}", f"last = {300 + 5 * (args.naive_configs - 1)}"), "naive")
        counts: Counter = Counter()
        owners: list = []
        batches = list(plan.batches(small, counts, owners, 10 ** 9, None))
        start = time.perf_counter()
        naive_neomodel(store, batches)
        naive = time.perf_counter() - start
        results["naive_products"] = len(owners)
        results["naive_products_per_s"] = len(owners) / naive
        store.clear()

        report = plan.plan(store, camp)
        results.update(products=report.products, plan_seconds=report.seconds, plan_products_per_s=report.rate,
                       nodes_created=report.written.entities_created, edges=report.written.edges_written)
        again = plan.plan(store, camp)
        results.update(replan_seconds=again.seconds, replan_created=again.written.entities_created)

        flows = [r["uid"] for r in store.read("step_products", step="bench/flow", configs=None)]
        for part in chunks(flows, 10_000):
            record.set_state(store, part, "done")
        ready_all, answer = timed(lambda: frontier.ready(store))
        ready_50, _ = timed(lambda: frontier.ready(store, limit=50))
        scan_seconds, scanned = timed(lambda: python_scan(store), repeat=3)
        listed = {p["uid"] for g in answer["groups"] for p in g["products"]}
        assert listed == scanned, f"frontier {len(listed)} products, Python scan {len(scanned)}"
        results.update(ready=answer["total"], ready_seconds=ready_all, ready_limit50_seconds=ready_50,
                       python_scan_seconds=scan_seconds,
                       ready_by_step={g["step"]: g["ready"] for g in answer["groups"]})
    results["plan_vs_naive"] = results["plan_products_per_s"] / results["naive_products_per_s"]
    results["ready_vs_scan"] = results["python_scan_seconds"] / results["ready_seconds"]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
