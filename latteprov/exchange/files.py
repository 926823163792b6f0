"""Data files that come from elsewhere (an archive, a QCDml document) are merged like entities.

The write path treats a file's size, status and checksum as what the latest look at the file
says, and overwrites them; a file described by another database or by ILDG is no look at the
file. So before such a batch is written, :func:`keep_recorded` turns its file rows into "add
what the file lacks, keep what it has": what differs is returned as conflict lines.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import neo4j

from latteprov import queries
from latteprov.exchange.subgraph import native
from latteprov.rows import GraphBatch


def _shown(value: Any) -> str:
    return repr(value.isoformat() if isinstance(value, datetime) else value)


def keep_recorded(tx: neo4j.ManagedTransaction, batch: GraphBatch) -> list[str]:
    """Rewrite ``batch``'s file rows (inside the writing transaction, before the write) so that
    existing files only gain the properties they lack; return one conflict line per property
    recorded with another value (kept). Idempotent: a retried transaction calls it again."""
    for row in batch.files:  # every value goes with the properties, set when the file is created
        row["props"] = {**row["props"], **row.get("mutable", {})}
        row["mutable"] = {}
    given = {row["uid"]: row for row in batch.files}
    conflicts = []
    for rec in queries.run(tx, "exchange_existing_files", uids=sorted(given)):
        recorded = {k: native(v) for k, v in rec["props"].items()}
        row = given[rec["uid"]]
        missing = {}
        for key, value in sorted(row["props"].items()):
            if key in ("uid", "name"):
                continue
            if recorded.get(key) is None:
                missing[key] = value
            elif recorded[key] != value:
                conflicts.append(f"DataFile {recorded.get('path')}: {key} recorded {_shown(recorded[key])}, "
                                 f"given {_shown(value)} (the recorded value is kept)")
        row["mutable"] = missing
    return conflicts
