"""Crash safety: SIGKILL the Neo4j JVM mid-ingest, restart it, ingest again.

After recovery every batch is whole or absent (each is one transaction), every batch the
ingest saw committed is there, and re-running the ingest gives exactly the graph of an
undisturbed ingest (counts and a sha256 over sorted uids and sorted edges).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

import pytest

from latteprov import graph, synth
from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store

TIER, BATCHES = "L", 5  # one ensemble batch + 4 configurations of ~900 nodes and ~2,800 edges each
INGEST = """
import sys
from itertools import islice
from latteprov import graph, synth
from latteprov.store import Store
from latteprov import schema
with Store() as store:
    schema.install(store)
    for i, batch in enumerate(islice(synth.campaign(sys.argv[1], 0), int(sys.argv[2]))):
        graph.write(store, batch)
        print(i, flush=True)
"""


def batches() -> list[graph.GraphBatch]:
    return list(islice(synth.campaign(TIER, 0), BATCHES))


def fingerprint(store: Store, properties: bool = False) -> dict:
    """Counts by label and a sha256 over the sorted uids and the sorted edges; with ``properties``
    every node's labels and properties too (run times differ between two ingests, not within one graph)."""
    lines = sorted(r["uid"] for r in store.run_text("MATCH (n) WHERE n.uid IS NOT NULL RETURN n.uid AS uid"))
    if properties:
        lines += sorted(json.dumps(r, sort_keys=True, default=str) for r in store.run_text(
            "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props"))
    edges = sorted(f"{r['a']} {r['t']} {r['role']} {r['b']}" for r in store.run_text(
        "MATCH (a)-[r]->(b) RETURN a.uid AS a, type(r) AS t, coalesce(r.role, '') AS role, b.uid AS b"))
    labels = store.run_text("MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS n ORDER BY label")
    return {"nodes": store.run_text("MATCH (n) RETURN count(n) AS n")[0]["n"], "edges": len(edges),
            "labels": {r["label"]: r["n"] for r in labels},
            "sha256": hashlib.sha256("\n".join(lines + ["--"] + edges).encode()).hexdigest()}


def own_uids(all_batches: list[graph.GraphBatch]) -> list[set[str]]:
    """The uids each batch alone writes (shared actions appear in several batches)."""
    per = [{r["uid"] for r in (*b.entities, *b.runs, *b.files)} for b in all_batches]
    seen: dict[str, int] = {}
    for uids in per:
        for uid in uids:
            seen[uid] = seen.get(uid, 0) + 1
    return [{u for u in uids if seen[u] == 1} for uids in per]


def ingest(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", INGEST, TIER, str(BATCHES)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def crash_server(tmp_path: Path):
    """A Neo4j of this test's own (killing the session's server would break the other tests)."""
    home = tmp_path / "crash-neo4j"
    port = manager.free_port()
    info, _ = manager.start(home, load_settings().cache_dir, port=port, auth=False, page_cache="128m", heap="768m")
    yield home, port
    manager.stop(home)


def test_sigkill_mid_ingest_recovers_to_the_undisturbed_graph(store, crash_server, tmp_path: Path) -> None:
    # the undisturbed ingest, on the session's server
    for batch in batches():
        graph.write(store, batch)
    reference = fingerprint(store)
    assert reference["nodes"] > 3_000

    home, port = crash_server
    env = {**os.environ, "NEO4J_URI": f"bolt://127.0.0.1:{port}", "LATTEPROV_DATA_DIR": str(tmp_path),
           "LATTEPROV_CONFIG": str(tmp_path / "none.toml")}
    env.pop("NEO4J_PASSWORD", None)
    victim = ingest(env)
    committed = []
    while len(committed) < 2:  # let a few batches commit, then kill in the middle of a later one
        line = victim.stdout.readline()
        assert line, f"ingest ended early: {victim.stderr.read()[-2000:]}"
        committed.append(int(line))
    time.sleep(random.Random(os.getpid()).uniform(0.05, 0.4))
    jvm = manager.running(home)
    os.kill(jvm.pid, signal.SIGKILL)
    out, err = victim.communicate(timeout=300)
    committed += [int(line) for line in out.split()]
    assert victim.returncode != 0, "the ingest should have lost its server"
    assert "cannot reach Neo4j" in err or "Neo4j" in err
    assert len(committed) < BATCHES, "the kill came too late to interrupt the ingest"
    assert manager.running(home) is None, "the JVM survived SIGKILL"

    manager.start(home, load_settings().cache_dir, port=port, auth=False, page_cache="128m", heap="768m")
    with Store(load_settings(env)) as crashed:
        present = {r["uid"] for r in crashed.run_text("MATCH (n) WHERE n.uid IS NOT NULL RETURN n.uid AS uid")}
        whole = []
        for i, uids in enumerate(own_uids(batches())):
            found = len(uids & present)
            assert found in (0, len(uids)), f"batch {i}: {found} of its {len(uids)} nodes survived the crash"
            whole.append(found == len(uids))
        assert all(whole[i] for i in committed), "a batch reported committed was lost in the crash"
        assert not all(whole), "every batch is present: the crash interrupted nothing"

    rerun = ingest(env)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err[-2000:]
    with Store(load_settings(env)) as recovered:
        assert fingerprint(recovered) == reference
