"""What the exchange tests share: a fingerprint of a graph, and the graph they exchange.

:func:`fingerprint` is counts by label and type plus a sha256 over every node's labels and
properties (sorted) and every relationship (sorted endpoints, type, properties): two stores
with equal fingerprints hold the same graph, status tallies included. Lock nodes are left out
(their tick counts how often a lock was taken, not provenance).
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from latteprov import graph, synth
from latteprov.store import Store

PLAQUETTE_REASON = "bad plaquette"


def plain(value):
    """A property value as comparable text: driver datetimes with nanoseconds and zone name,
    lists sorted."""
    if hasattr(value, "iso_format"):
        zone = getattr(value.tzinfo, "key", None) or getattr(value.tzinfo, "zone", None)
        return f"{value.iso_format()}[{zone}]"
    if isinstance(value, list):  # file_statuses: one entry per file, in no particular order
        return sorted(plain(v) for v in value)
    return value


def fingerprint(store: Store, skip_labels: tuple[str, ...] = ("Lock",), skip_props: tuple[str, ...] = ()) -> dict:
    """Counts by label and relationship type and a sha256 over the sorted nodes and edges."""
    nodes = store.run_text("MATCH (n) WHERE none(l IN labels(n) WHERE l IN $skip) "
                           "RETURN labels(n) AS labels, properties(n) AS props", skip=list(skip_labels))
    lines = sorted(json.dumps([sorted(n["labels"]), {k: plain(v) for k, v in n["props"].items() if k not in skip_props}],
                              sort_keys=True) for n in nodes)
    edges = store.run_text("MATCH (a)-[r]->(b) RETURN a.uid AS a, type(r) AS t, properties(r) AS p, b.uid AS b")
    edge_lines = sorted(json.dumps([e["a"], e["t"], e["p"], e["b"]], sort_keys=True) for e in edges)
    labels = Counter(label for n in nodes for label in n["labels"])
    return {"nodes": len(nodes), "edges": len(edges), "labels": dict(sorted(labels.items())),
            "types": dict(sorted(Counter(e["t"] for e in edges).items())),
            "sha256": hashlib.sha256("\n".join(lines + ["--"] + edge_lines).encode()).hexdigest()}


def campaign(store: Store) -> dict[str, str]:
    """Tier S, a configuration invalidated and revalidated and another invalidated, a run with
    a named time zone and awkward parameters, and a file with an empty host: returns the uids
    the tests name ({'config', 'invalid_config', 'correlator', 'run'})."""
    from latteprov import invalidate

    synth.write(store, "S", 0)
    configs = [r["uid"] for r in store.run_text(
        "MATCH (c:GaugeConfig {flow_time: 0.0}) RETURN c.uid AS uid ORDER BY c.ensemble, c.config")]
    invalidate.invalidate(store, configs[0], "wrong seed", "tester")
    invalidate.revalidate(store, configs[0], "seed was right", "tester")
    invalidate.invalidate(store, configs[1], PLAQUETTE_REASON, "tester")
    correlator = store.run_text(
        "MATCH (c:Baryon3pt)-[:DERIVED_FROM*]->(g:GaugeConfig {uid: $cfg}) RETURN c.uid AS uid ORDER BY uid LIMIT 1",
        cfg=configs[0])[0]["uid"]
    batch = graph.GraphBatch()
    zurich = ZoneInfo("Europe/Zurich")
    batch.runs.append(graph.run_row(
        "run:zoned", kind="check", code_version="v1", host="frontier", user="callat", job_id="77",
        params={"tol": 1e-8, "text": 'a "quoted", comma\nand a newline', "nested": {"n": [1, 2]}},
        started_at=datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=zurich),
        ended_at=datetime(2026, 3, 1, 13, 0, tzinfo=zurich), exit_state="done"))
    batch.link("run:zoned", correlator, type="USED")
    batch.add_file(correlator, "/lustre/copy.h5", host="", size=7,
                   mtime=datetime(2026, 3, 2, tzinfo=timezone.utc), status="on_tape")
    graph.write(store, batch)
    return {"config": configs[0], "invalid_config": configs[1], "correlator": correlator, "run": "run:zoned"}
