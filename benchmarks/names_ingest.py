"""``python -m benchmarks.names_ingest --tier M``: onboarding a campaign's file names, timed.

In one run, on a throwaway local server (the one ``latteprov db start`` would run from a
temporary data directory):

1. parsing and building alone (no database): the campaign's first ``--sample`` names matched,
   enriched and built into rows, best of 3 (CPU time of this process);
2. the bulk first load: every name of the tier through ``ingest names --initial``'s path
   (:class:`latteprov.bulkload.InitialLoad`: CSV files, ``neo4j-admin database import full``,
   the server restarted, init), wall time per part;
3. the transactional path into that existing graph: the first ``--sample`` names of the same
   tier with another seed (new sources, propagators and correlators of configurations the graph
   holds: an incremental ingest) through ``ingest_names``, with client and server CPU seconds;
   with ``--profile`` the client under cProfile, its top functions printed;
4. ``synth --initial`` of ``--synth-tier`` (default: the same tier) into an emptied server.

Prints the figures as JSON, with the load average before and after.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from latteprov import bulkload, synth
from latteprov.config import load_settings
from latteprov.ingest import conventions
from latteprov.ingest.builder import Builder
from latteprov.ingest.names import NamesReport, ingest_names, parse_names
from latteprov.server import manager
from latteprov.store import Store


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parse_build(conv: conventions.Conventions, names: list[str]) -> float:
    """Names per CPU second of matching, enriching and building (best of 3)."""
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        builder = Builder(conv)
        for found, _path in parse_names(conv, names, NamesReport()):
            builder.build(found.spec, found.fields, found.raw)
            if len(builder.batch) >= 10_000:
                builder.take()
        builder.resolve_groups()
        best = min(best, time.process_time() - t)
    return len(names) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", default="M")
    parser.add_argument("--synth-tier", default=None)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--page-cache", default="4g")
    parser.add_argument("--heap", default="2g")
    args = parser.parse_args()
    out: dict = {"tier": args.tier.upper(), "load_before": os.getloadavg()}
    ensemble_map = Path(tempfile.mkstemp(suffix=".txt")[1])
    ensemble_map.write_text("".join(f"{e.tag} {e.long_tag}\n"
                                    for e in synth.ensembles(synth.tier_shape(args.tier).ensembles)))
    conv = conventions.load(ensemble_map=ensemble_map)
    names = list(synth.names(args.tier, 0))
    out["names"] = len(names)
    sample = names[:args.sample]
    out["parse_build_names_per_cpu_s"] = round(parse_build(conv, sample))

    data = Path(tempfile.mkdtemp(prefix="latteprov-names-bench-"))
    env = {"LATTEPROV_DATA_DIR": str(data), "LATTEPROV_CONFIG": str(data / "none.toml")}
    settings = load_settings(env)
    try:
        info, _ = manager.start(settings.server_dir, settings.cache_dir, port=manager.free_port(), auth=False,
                                page_cache=args.page_cache, heap=args.heap)
        settings = load_settings(env)
        with Store(settings) as store:
            t = time.perf_counter()
            sink = bulkload.InitialLoad(store, settings)
            sink.check()
            report = ingest_names(store, conv, names, sink=sink)
            wall = time.perf_counter() - t
        out["initial"] = {"names": report.names, "matched": report.matched, "seconds": round(wall, 1),
                          "names_per_s": round(report.names / wall), "parts_s": sink.bulk.seconds,
                          "nodes": sink.bulk.nodes, "relationships": sink.bulk.relationships}
        pid = manager.running(settings.server_dir).pid
        fresh = list(itertools.islice(synth.names(args.tier, 1), args.sample))
        with Store(settings) as store:
            store.read("bench_round_trip")
            server_cpu, client_cpu, t = _cpu(pid), time.process_time(), time.perf_counter()
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            report = ingest_names(store, conv, fresh)
            if profiler:
                profiler.disable()
            wall = time.perf_counter() - t
            out["transactional"] = {
                "names": report.names, "seconds": round(wall, 1), "names_per_s": round(report.names / wall),
                "created": report.written.entities_created, "matched": report.written.entities_matched,
                "edges": report.written.edges_written,
                "client_cpu_s": round(time.process_time() - client_cpu, 1),
                "server_cpu_s": round(_cpu(pid) - server_cpu, 1)}
            if profiler:
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
                out["transactional"]["profile"] = text.getvalue().splitlines()[-25:]
            store.clear()
        tier = (args.synth_tier or args.tier).upper()
        with Store(settings) as store:
            t = time.perf_counter()
            load = bulkload.initial_load(store, settings, synth.campaign(tier, 0))
            wall = time.perf_counter() - t
        rows = load.bulk.nodes + load.bulk.relationships
        out["synth_initial"] = {"tier": tier, "rows": rows, "seconds": round(wall, 1),
                                "rows_per_s": round(rows / wall), "parts_s": load.bulk.seconds}
    finally:
        manager.stop(settings.server_dir)
        shutil.rmtree(data, ignore_errors=True)
        ensemble_map.unlink(missing_ok=True)
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
