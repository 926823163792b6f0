"""Web load benchmark: N readers browsing and M writers recording runs, against ``latteprov
serve`` (gunicorn) on loopback, bounded in time and in requests.

The data: a synthetic campaign of ``--tier`` (M: 1.1 M nodes) written into a throwaway local
Neo4j (or the empty server of ``NEO4J_URI``). Then ``latteprov serve`` is started as a
subprocess on a free 127.0.0.1 port (``--workers``, ``--threads``, anonymous reading, no access
log), and for each N of ``--readers``:

- N readers, each a closed loop with a think time (uniform in [0.5, 1.5] x ``--think`` s, people
  read what they asked for) over the pages people use: the dashboard page and its API, the
  graph page and the neighbourhood API it fetches, node pages, the lineage of a correlator,
  downstream of a configuration (the API, 2 hops), a table page and a filtered find, the search
  suggestions; every answer's status is checked (anything but 200 is an error, as is a
  connection error or a timeout of ``--request-timeout`` s);
- M writers recording runs through :func:`latteprov.run` straight into Neo4j (as jobs do:
  each run uses a propagator and produces a DerivedDataset, pausing ``--writer-pause`` s);

for ``--duration`` seconds after ``--warmup`` s, or until ``--max-requests`` answers. Readers
run as threads spread over ``--client-procs`` processes (so the client is not one GIL), on the
same machine: the load generator's CPU is reported beside the figures, since it shares the
cores with the server and Neo4j. Prints one JSON line per level: requests/s, p50/p99/max in
ms, errors (by kind), runs recorded, CPU seconds of server, Neo4j and client.

    python benchmarks/web_load.py --tier M --readers 10,50,200 --writers 4
    python benchmarks/web_load.py --tier S --readers 2 --writers 1 --duration 3 --warmup 1   # smoke
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from pathlib import Path

import requests

from latteprov import find, synth
from latteprov.config import load_settings
from latteprov.ingest.builder import derived_key
from latteprov.server import manager
from latteprov.store import Store

CLI = [sys.executable, "-c", "from latteprov.cli import main; main()"]


def sample(store: Store, count: int = 200) -> dict[str, list[str]]:
    """Uids and names the readers ask about: correlators, configurations, propagators, ensembles."""
    rng = random.Random(7)

    def pick(kind: str) -> list[str]:
        rows = store.read("bench_sample", kind=kind)
        return [r["uid"] for r in rng.sample(rows, min(count, len(rows)))]

    configs = store.read("bench_sample", kind="GaugeConfig")
    return {"correlators": pick("Baryon2pt"), "configs": [r["uid"] for r in configs if not r.get("flow_time")][:count],
            "propagators": pick("OneToAll"),
            "names": [r["name"] for r in rng.sample(configs, min(count, len(configs)))],
            "ensembles": sorted({r["name"].split("_")[0] for r in find.find(store, "Ensemble", [])})}


def reader_paths(s: dict[str, list[str]], rng: random.Random, skip: frozenset[str] = frozenset()) -> str:
    """One request a reader makes (weights: pages people open most are drawn most), leaving
    out the routes of ``skip`` (see :func:`route`)."""
    q = urllib.parse.quote
    corr, cfg = rng.choice(s["correlators"]), rng.choice(s["configs"])
    choices = [
        (3, "/dashboard"), (3, "/api/status"),
        (3, f"/graph?node={q(corr)}"), (4, f"/api/neighbourhood/{q(corr)}?hops=1"),
        (3, f"/node/{q(corr)}"), (2, f"/api/node/{q(cfg)}"),
        (3, f"/api/lineage/{q(corr)}"), (2, f"/api/downstream/{q(cfg)}?depth=2"),
        (2, "/tables/Baryon2pt"),
        (2, f"/api/find/Baryon2pt?where={q('ensemble=' + rng.choice(s['ensembles']))}&limit=50"),
        (2, f"/api/search?q={q(rng.choice(s['names'])[:12])}"),
    ]
    choices = [(w, p) for w, p in choices if route(p) not in skip]
    total = sum(w for w, _ in choices)
    at = rng.uniform(0, total)
    for weight, path in choices:
        at -= weight
        if at <= 0:
            return path
    return choices[-1][1]


def route(path: str) -> str:
    """The route of a request path: its first two segments (``/api/lineage``, ``/graph``)."""
    parts = path.split("?", 1)[0].split("/")
    return "/".join(parts[:3]) if parts[1] == "api" else "/".join(parts[:2])


def _reader_process(base: str, readers: int, samples: dict, think: float, start_at: float, stop_at: float,
                    warm_until: float, max_requests: int, timeout: float, seed: int, skip: frozenset, out) -> None:
    latencies: list[float] = []
    by_route: dict[str, list[float]] = {}
    errors: Counter = Counter()
    count = [0]
    lock = threading.Lock()

    def reader(number: int) -> None:
        rng = random.Random(seed * 10_000 + number)
        session = requests.Session()
        time.sleep(max(0.0, start_at - time.time()) + rng.uniform(0, think))
        while time.time() < stop_at:
            path = reader_paths(samples, rng, skip)
            began = time.perf_counter()
            try:
                answer = session.get(base + path, timeout=timeout)
                status = answer.status_code
                answer.content
            except requests.RequestException as exc:
                status = type(exc).__name__
            elapsed = (time.perf_counter() - began) * 1000
            if time.time() >= warm_until:
                with lock:
                    if count[0] >= max_requests:
                        return
                    count[0] += 1
                    latencies.append(elapsed)
                    by_route.setdefault(route(path), []).append(elapsed)
                    if status != 200:
                        errors[f"{status} {path.split('?')[0].rsplit('/', 1)[0] or path}"] += 1
            time.sleep(think * rng.uniform(0.5, 1.5))

    threads = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, stop_at - time.time()) + timeout + 5)
    usage = os.times()
    out.put({"latencies": latencies, "by_route": by_route, "errors": dict(errors), "cpu": usage.user + usage.system})


def _writer(settings, samples: dict, pause: float, warm_until: float, stop_at: float, results: list) -> None:
    import latteprov

    rng = random.Random()
    done = failed = 0
    times: list[float] = []
    with Store(settings) as store:
        while time.time() < stop_at:
            prop = rng.choice(samples["propagators"])
            began = time.perf_counter()
            try:
                with latteprov.run("loadtest", command="web_load writer", store=store, offline=False,
                                   inputs=[prop]) as run:
                    tag = uuid.uuid4().hex[:12]
                    run.output("DerivedDataset", name=f"loadtest_{tag}", step="loadtest",
                               inputs_key=derived_key("loadtest", [prop], {"tag": tag}), inputs={"input": prop})
                if time.time() >= warm_until:
                    done += 1
                    times.append((time.perf_counter() - began) * 1000)
            except Exception as exc:  # counted, never hidden
                failed += 1
                print(f"writer error: {exc}", file=sys.stderr)
            time.sleep(pause)
    results.append({"runs": done, "failed": failed, "times": times})


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the processes ``pids`` and their children (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    seen = set()
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{pid}/task").iterdir():
                children = (task / "children").read_text().split()
                todo.extend(int(c) for c in children)
        except (OSError, ValueError, IndexError):
            continue
    return total


def level(base: str, settings, samples: dict, readers: int, writers: int, args, server_pids: list[int],
          neo4j_pid: int | None) -> dict:
    """Run one load level; its figures."""
    start_at = time.time() + 1.0
    warm_until = start_at + args.warmup
    stop_at = warm_until + args.duration
    procs = min(args.client_procs, max(1, readers))
    queue: multiprocessing.Queue = multiprocessing.Queue()
    per = [readers // procs + (1 if i < readers % procs else 0) for i in range(procs)]
    workers = [multiprocessing.Process(target=_reader_process,
                                       args=(base, n, samples, args.think, start_at, stop_at, warm_until,
                                             args.max_requests // procs, args.request_timeout, i,
                                             frozenset(args.skip_routes), queue))
               for i, n in enumerate(per) if n]
    for w in workers:
        w.start()
    written: list[dict] = []
    writer_threads = [threading.Thread(target=_writer, args=(settings, samples, args.writer_pause, warm_until,
                                                             stop_at, written)) for _ in range(writers)]
    time.sleep(max(0.0, warm_until - time.time()))
    cpu_before = {"server": _cpu_seconds(server_pids), "neo4j": _cpu_seconds([neo4j_pid]) if neo4j_pid else 0.0}
    load_before = os.getloadavg()[0]
    for t in writer_threads:
        t.start()
    parts = [queue.get(timeout=args.duration + args.warmup + args.request_timeout + 120) for _ in workers]
    for w in workers:
        w.join(30)
    for t in writer_threads:
        t.join(args.request_timeout + 60)
    wall = max(time.time() - warm_until, 1e-9)
    measured = min(wall, args.duration)
    cpu = {"server": _cpu_seconds(server_pids) - cpu_before["server"],
           "neo4j": (_cpu_seconds([neo4j_pid]) - cpu_before["neo4j"]) if neo4j_pid else None,
           "client_total": sum(p["cpu"] for p in parts)}
    latencies = sorted(x for p in parts for x in p["latencies"])
    routes: dict[str, list[float]] = {}
    for p in parts:
        for name, values in p["by_route"].items():
            routes.setdefault(name, []).extend(values)

    def summary(values: list[float]) -> dict:
        values = sorted(values)
        return {"n": len(values), "p50": round(values[len(values) // 2], 1),
                "p99": round(values[min(len(values) - 1, int(0.99 * len(values)))], 1)}
    errors: Counter = Counter()
    for p in parts:
        errors.update(p["errors"])

    def pct(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None

    wtimes = sorted(t for w in written for t in w["times"])
    return {"readers": readers, "writers": writers, "requests": len(latencies),
            "requests_per_s": round(len(latencies) / measured, 1), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
            "max_ms": round(latencies[-1], 1) if latencies else None,
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
            "errors": sum(errors.values()), "error_kinds": dict(errors.most_common(5)),
            "runs_recorded": sum(w["runs"] for w in written), "runs_failed": sum(w["failed"] for w in written),
            "run_p50_ms": round(wtimes[len(wtimes) // 2], 1) if wtimes else None,
            "cpu_s": {k: (round(v, 1) if v is not None else None) for k, v in cpu.items()},
            "routes": {name: summary(v) for name, v in sorted(routes.items())},
            "seconds": round(measured, 1), "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def wait_until_serving(proc: subprocess.Popen, url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"latteprov serve exited with {proc.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    sys.exit(f"nothing answered at {url} within {timeout:.0f} s")


def bench(store: Store, args, neo4j_pid: int | None) -> list[dict]:
    """Load the tier, start the production server, run every level; the levels' figures."""
    began = time.perf_counter()
    if not args.no_load:
        synth.write(store, args.tier)
    print(json.dumps({"tier": args.tier, "load_s": round(time.perf_counter() - began, 1),
                      "counts": store.server_info()}), flush=True)
    samples = sample(store)
    port = manager.free_port()
    env = {**os.environ, "NEO4J_URI": store.settings.uri, "LATTEPROV_SECRET_KEY": "web-load-benchmark"}
    server = subprocess.Popen([*CLI, "serve", "--port", str(port), "--workers", str(args.workers),
                               "--threads", str(args.threads), "--anonymous-read", "--access-log", "none"],
                              env=env, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    results = []
    try:
        wait_until_serving(server, base + "/healthz")
        for readers in args.readers:
            figures = level(base, store.settings, samples, readers, args.writers, args, [server.pid], neo4j_pid)
            figures.update(tier=args.tier, workers=args.workers, threads=args.threads, think_s=args.think,
                           skipped=args.skip_routes)
            print(json.dumps(figures), flush=True)
            results.append(figures)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The benchmark's options (``--help`` lists them)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", default="M", help="S, M, L, XL or a fraction such as M/4")
    parser.add_argument("--readers", default="10,50,200", help="comma-separated reader counts, one level each")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds before each level")
    parser.add_argument("--max-requests", type=int, default=100_000, help="stop counting a level after this many")
    parser.add_argument("--think", type=float, default=1.0, help="mean think time of a reader, seconds")
    parser.add_argument("--writer-pause", type=float, default=0.5, help="pause between a writer's runs, seconds")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--client-procs", type=int, default=2, help="processes the readers' threads run in")
    parser.add_argument("--skip-routes", default="",
                        help="comma-separated routes the readers leave out (e.g. /tables,/api/find)")
    parser.add_argument("--neo4j-pid", type=int, default=None,
                        help="with NEO4J_URI: the server's process, to report its CPU seconds")
    parser.add_argument("--no-load", action="store_true",
                        help="use the campaign already in the database of NEO4J_URI (written by an earlier run)")
    parser.add_argument("--page-cache", default="2g")
    parser.add_argument("--heap", default="2g")
    args = parser.parse_args(argv)
    args.readers = [int(n) for n in args.readers.split(",") if n.strip()]
    args.skip_routes = [r.strip() for r in args.skip_routes.split(",") if r.strip()]
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the benchmark on ``NEO4J_URI`` (must be empty) or a throwaway local server."""
    args = parse_args(argv)
    if os.environ.get("NEO4J_URI"):
        settings = load_settings()
        with Store(settings) as store:
            if not args.no_load and store.run_text("MATCH (n) RETURN count(n) AS n")[0]["n"]:
                sys.exit(f"{settings.uri} holds data; run the benchmark against an empty server")
            from latteprov import schema
            schema.install(store)
            return bench(store, args, args.neo4j_pid)
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="latteprov-webload-"))
    info, _ = manager.start(home, load_settings().cache_dir, port=manager.free_port(), auth=False,
                            page_cache=args.page_cache, heap=args.heap)
    try:
        with Store(load_settings({**os.environ, "NEO4J_URI": info.uri, "LATTEPROV_DATA_DIR": str(home)})) as store:
            from latteprov import schema
            schema.install(store)
            return bench(store, args, info.pid)
    finally:
        manager.stop(home)
        import shutil
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
