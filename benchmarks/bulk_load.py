"""``python -m benchmarks.bulk_load --tier L``: the neo4j-admin round trip of a campaign, timed.

Writes the campaign through the bulk path into a throwaway server, exports it with ``latteprov
export --format neo4j-import``, runs the command that export prints with the neo4j-admin of
the fetched jars (``org.neo4j.cli.AdminTool``, what Neo4j's bin/neo4j-admin runs) into a
second throwaway home, starts a server there and runs ``latteprov init`` (constraints,
indexes, status tallies recounted). It then compares the two stores: node counts by label,
relationship counts by type, the status tallies and a sha256 over the sorted uids and edges
(``--no-checksum`` skips the last). Prints the timings as JSON.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from latteprov import export, synth
from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store

CLI = [sys.executable, "-c", "from latteprov.cli import main; main()"]


def _counts(store: Store) -> dict:
    labels = store.run_text("MATCH (n) WHERE NOT n:Lock UNWIND labels(n) AS l RETURN l, count(*) AS n ORDER BY l")
    types = store.run_text("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n ORDER BY t")
    tallies = store.run_text("MATCH (t:Tally) WHERE t.total > 0 RETURN properties(t) AS p "
                             "ORDER BY t.ensemble, t.kind")
    return {"labels": {r["l"]: r["n"] for r in labels}, "types": {r["t"]: r["n"] for r in types},
            "tallies": [r["p"] for r in tallies]}


def _checksum(store: Store) -> str:
    """sha256 over the sorted uids and the sorted edges (endpoint uids, type, role), streamed."""
    def read(tx) -> tuple[list[str], list[str]]:
        uids = [r[0] for r in tx.run("MATCH (n) WHERE n.uid IS NOT NULL RETURN n.uid")]
        edges = [f"{r[0]} {r[1]} {r[2] or ''} {r[3]}" for r in tx.run(
            "MATCH (a)-[r]->(b) RETURN a.uid, type(r), r.role, b.uid")]
        return uids, edges

    uids, edges = store.read_tx(read)
    digest = hashlib.sha256()
    for line in sorted(uids) + ["--"] + sorted(edges):
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", default="S", help="S, M, L, XL or a fraction such as L/4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-checksum", action="store_true")
    parser.add_argument("--heap", default="2g")
    parser.add_argument("--page-cache", default="2g")
    args = parser.parse_args()
    settings = load_settings()
    lib = manager.ensure_jars(settings.cache_dir)
    work = Path(tempfile.mkdtemp(prefix="latteprov-bulk-"))
    source_home, target_home, dump, bin_dir = work / "source", work / "target", work / "dump", work / "bin"
    bin_dir.mkdir()
    (bin_dir / "neo4j-admin").write_text(f'#!/bin/sh\nexec java -cp "{lib}/*" org.neo4j.cli.AdminTool "$@"\n')
    (bin_dir / "neo4j-admin").chmod(0o755)
    (target_home / "db").mkdir(parents=True)
    out: dict = {"tier": args.tier.upper(), "seed": args.seed, "expected": synth.counts(args.tier)}
    try:
        info, _ = manager.start(source_home, settings.cache_dir, port=manager.free_port(), auth=False,
                                page_cache=args.page_cache, heap=args.heap)
        env = {**os.environ, "NEO4J_URI": info.uri}
        with Store(load_settings(env)) as store:
            from latteprov import schema
            schema.install(store)
            t = time.perf_counter()
            written = synth.write(store, args.tier, args.seed)
            out["write_s"] = round(time.perf_counter() - t, 1)
            out["written"] = {"entities": written.entities_created, "edges": written.edges_written}
            t = time.perf_counter()
            result = export.neo4j_import(store, dump)
            out["export_s"] = round(time.perf_counter() - t, 1)
            out["export"] = {"nodes": result.nodes, "relationships": result.relationships,
                             "csv_mb": round(sum(f.stat().st_size for f in dump.iterdir()) / 1e6, 1)}
            source = _counts(store)
            if not args.no_checksum:
                out["source_sha256"] = _checksum(store)
        manager.stop(source_home)
        command = result.command()
        out["command"] = command
        t = time.perf_counter()
        loaded = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=work,
                                env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                                     "NEO4J_HOME": str(target_home / "db")})
        out["import_s"] = round(time.perf_counter() - t, 1)
        if loaded.returncode != 0:
            sys.exit(f"neo4j-admin failed ({loaded.returncode}): {(loaded.stdout + loaded.stderr)[-2000:]}")
        done = re.search(r"IMPORT DONE in (.*?)\.\s*$", loaded.stdout, re.M)
        peak = re.search(r"Peak memory usage: (.*)", loaded.stdout)
        out["import_reported"] = done.group(1).strip() if done else None
        out["import_peak_memory"] = peak.group(1).strip() if peak else None
        info, _ = manager.start(target_home, settings.cache_dir, port=manager.free_port(), auth=False,
                                page_cache=args.page_cache, heap=args.heap)
        env = {**os.environ, "NEO4J_URI": info.uri}
        t = time.perf_counter()
        init = subprocess.run([*CLI, "init"], env=env, capture_output=True, text=True)
        out["init_s"] = round(time.perf_counter() - t, 1)
        if init.returncode != 0:
            sys.exit(f"latteprov init failed: {init.stderr}")
        with Store(load_settings(env)) as store:
            target = _counts(store)
            out["same_counts_and_tallies"] = target == source
            if not args.no_checksum:
                out["same_sha256"] = _checksum(store) == out["source_sha256"]
        manager.stop(target_home)
    finally:
        manager.stop(source_home)
        manager.stop(target_home)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
