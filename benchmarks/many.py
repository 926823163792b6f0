"""``python -m benchmarks.many --tier L``: lean listings and many questions in one go, timed.

A throwaway local server gets the tier's synthetic campaign through the bulk first load
(``synth --initial``'s path), PostgreSQL 15 the same campaign (benchmarks.relational). Then:

- downstream of ``--configs`` random configurations (5 warm-up), p50 and p99 of
  :func:`latteprov.lineage.downstream` with every property and with ``--fields
  uid,name,kind,valid,state``;
- the lineage of ``--count`` random correlators (3-pt, else 2-pt): one by one (the first
  ``--one-by-one`` of them, per question), batched with :func:`latteprov.lineage.lineage_many`
  (every property, and lean), and PostgreSQL's recursive CTE asked one by one for all of
  them; the batched answers are checked to be the one-by-one ones (as sets of ancestors, and
  equal to PostgreSQL's).

Prints the figures as JSON with the load average before and after.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from latteprov import bulkload, lineage, synth
from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store

from benchmarks import relational

LEAN = ["uid", "name", "kind", "valid", "state"]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", default="L")
    parser.add_argument("--configs", type=int, default=200)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--one-by-one", type=int, default=500)
    parser.add_argument("--no-sql", dest="sql", action="store_false")
    parser.add_argument("--page-cache", default="4g")
    args = parser.parse_args()
    out: dict = {"tier": args.tier.upper(), "load_before": os.getloadavg()}
    data = Path(tempfile.mkdtemp(prefix="latteprov-many-"))
    env = {"LATTEPROV_DATA_DIR": str(data), "LATTEPROV_CONFIG": str(data / "none.toml")}
    settings = load_settings(env)
    rng = random.Random(0)
    try:
        manager.start(settings.server_dir, settings.cache_dir, port=manager.free_port(), auth=False,
                      page_cache=args.page_cache, heap="2g")
        settings = load_settings(env)
        with Store(settings) as store:
            load = bulkload.initial_load(store, settings, synth.campaign(args.tier, 0))
        out["initial_load_s"] = load.bulk.seconds
        with Store(settings) as store:
            configs = [r["uid"] for r in store.run_text("MATCH (c:GaugeConfig {flow_time: 0.0}) RETURN c.uid AS uid")]
            asked = rng.sample(configs, min(args.configs, len(configs)))
            for uid in asked[:5]:
                lineage.downstream(store, uid)
                lineage.downstream(store, uid, fields=LEAN)
            full, lean = [], []
            for uid in asked:
                t = time.perf_counter()
                answer = lineage.downstream(store, uid)
                full.append(1000 * (time.perf_counter() - t))
                t = time.perf_counter()
                lean_answer = lineage.downstream(store, uid, fields=LEAN)
                lean.append(1000 * (time.perf_counter() - t))
                assert [n["uid"] for n in answer["nodes"]] == [n["uid"] for n in lean_answer["nodes"]]
            out["downstream_of_a_configuration_ms"] = {
                "descendants_p50": statistics.median(len(lineage.downstream(store, u, fields=LEAN, all_nodes=True)["nodes"])
                                                     for u in asked[:20]),
                "all_properties": {"p50": round(_pct(full, 0.5), 2), "p99": round(_pct(full, 0.99), 2)},
                "lean": {"p50": round(_pct(lean, 0.5), 2), "p99": round(_pct(lean, 0.99), 2)}}
            kind = "Baryon3pt" if store.run_text("MATCH (n:Baryon3pt) RETURN n.uid LIMIT 1") else "Baryon2pt"
            correlators = [r["uid"] for r in store.run_text(f"MATCH (n:{kind}) RETURN n.uid AS uid")]
            chosen = rng.sample(correlators, min(args.count, len(correlators)))
            out["correlators"] = {"kind": kind, "asked": len(chosen), "of": len(correlators)}
            lineage.lineage_many(store, chosen[:100])
            t = time.perf_counter()
            single = [lineage.lineage(store, uid) for uid in chosen[:args.one_by_one]]
            per_question = 1000 * (time.perf_counter() - t) / len(single)
            t = time.perf_counter()
            batched = lineage.lineage_many(store, chosen)
            batched_s = time.perf_counter() - t
            t = time.perf_counter()
            batched_lean = lineage.lineage_many(store, chosen, fields=LEAN)
            lean_s = time.perf_counter() - t
            assert batched[:len(single)] == single
            assert [[n["uid"] for n in a["nodes"]] for a in batched_lean] == [[n["uid"] for n in a["nodes"]] for a in batched]
            out["lineage_of_many_correlators"] = {
                "one_by_one_ms_each": round(per_question, 2),
                "one_by_one_extrapolated_s": round(per_question * len(chosen) / 1000, 1),
                "batched_s": round(batched_s, 2), "batched_lean_s": round(lean_s, 2)}
            ancestors = [{n["uid"] for n in a["nodes"] if n["kind"] != "Run"} - {a["root"]} for a in batched]
        if args.sql:
            with relational.postgres_cluster() as conninfo, relational.postgres(conninfo) as pg:
                t = time.perf_counter()
                relational.load([pg], synth.campaign(args.tier, 0))
                out["postgres_load_s"] = round(time.perf_counter() - t, 1)
                for uid in chosen[:100]:
                    pg.ancestors(uid)
                t = time.perf_counter()
                answers = [pg.ancestors(uid) for uid in chosen]
                pg_s = time.perf_counter() - t
                assert answers == ancestors, "PostgreSQL and Neo4j disagree on a lineage"
                out["lineage_of_many_correlators"]["postgres_one_by_one_s"] = round(pg_s, 2)
                out["lineage_of_many_correlators"]["postgres_ms_each"] = round(1000 * pg_s / len(chosen), 2)
    finally:
        manager.stop(settings.server_dir)
        shutil.rmtree(data, ignore_errors=True)
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
