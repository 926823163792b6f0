"""Web benchmark: the API's lineage of a ~1,000-node neighbourhood, and the graph page drawing
~1,000 elements in headless Chromium.

The data: the tier-S synthetic campaign plus one concatenation (a DerivedDataset) of every 2-pt
and 3-pt correlator of the campaign, whose lineage is then every product and run above them.
Uses the database of ``NEO4J_URI`` only with ``--wipe`` (it clears it), else starts a throwaway
local server. Prints one line per measurement (median of ``--repeat`` runs); not a test.

    python benchmarks/web_bench.py [--repeat 7] [--wipe]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from latteprov import find, graph, synth
from latteprov.config import load_settings
from latteprov.ingest.builder import derived_key
from latteprov.server import manager
from latteprov.store import Store
from latteprov.web import create_app, db
from latteprov import schema

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def load(store: Store) -> str:
    """The campaign and the concatenation of all its correlators; the concatenation's uid."""
    store.clear()
    schema.install(store)
    synth.write(store, "S")
    inputs = [n["uid"] for kind in ("Baryon2pt", "Baryon3pt") for n in find.find(store, kind, [])]
    batch = graph.GraphBatch()
    concat = batch.add("DerivedDataset", name="concatenate_all_correlators_tierS", step="concatenate",
                       inputs_key=derived_key("concatenate", inputs))
    for uid in inputs:
        batch.link(concat, uid, "input")
    graph.write(store, batch)
    return concat


def median_ms(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def bench(store: Store, settings, repeat: int) -> None:
    concat = load(store)
    app = create_app({"SETTINGS": settings, "SECRET_KEY": "bench", "ANONYMOUS_READ": True})
    client = app.test_client()
    client.get(f"/api/lineage/{concat}")  # warm the page cache and the query plans

    ms, answer = median_ms(lambda: client.get(f"/api/lineage/{concat}").json, repeat)
    print(f"API /api/lineage: {len(answer['nodes'])} nodes, {len(answer['edges'])} edges: {ms:.0f} ms (median of {repeat})")
    open_groups = ",".join(f"{concat}|up|{kind}" for kind in ("Baryon2pt", "Baryon3pt"))
    view_url = f"/graph?node={concat}&hops=2&open={open_groups}"
    ms, view = median_ms(lambda: client.get(f"/api/neighbourhood/{concat}?hops=2&open={open_groups}").json, repeat)
    elements = len(view["nodes"]) + len(view["edges"]) + len(view["summaries"])
    print(f"API /api/neighbourhood: {elements} elements ({len(view['nodes'])} nodes, truncated={view['truncated']}): "
          f"{ms:.0f} ms (median of {repeat})")

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=os.environ.get("LATTEPROV_CHROMIUM", "/usr/bin/chromium"),
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 850})
            timings = []
            for _ in range(repeat):
                page.goto(f"http://127.0.0.1:{httpd.server_port}{view_url}")
                page.wait_for_function("document.body.dataset.graphReady === '1'", timeout=60_000)
                timings.append(page.evaluate("window.graphTiming"))
            browser.close()
    finally:
        httpd.shutdown()
        db.close(app)
    draw = statistics.median(t["draw"] for t in timings)
    total = statistics.median(t["total"] for t in timings)
    print(f"graph page: {timings[0]['elements']} elements laid out (dagre) and drawn in {draw:.0f} ms; "
          f"with the API fetch {total:.0f} ms (median of {repeat}, headless Chromium)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--wipe", action="store_true", help="use (and clear) the database of NEO4J_URI")
    args = parser.parse_args()
    if os.environ.get("NEO4J_URI"):
        if not args.wipe:
            parser.error("NEO4J_URI is set: pass --wipe to let the benchmark clear that database")
        settings = load_settings()
        with Store(settings) as store:
            bench(store, settings, args.repeat)
        return
    with tempfile.TemporaryDirectory() as home:
        info, _ = manager.start(Path(home), load_settings().cache_dir, port=manager.free_port(), auth=False,
                                page_cache="512m", heap="1g")
        try:
            settings = load_settings({"NEO4J_URI": info.uri, "LATTEPROV_DATA_DIR": home})
            with Store(settings) as store:
                bench(store, settings, args.repeat)
        finally:
            manager.stop(Path(home))


if __name__ == "__main__":
    main()
