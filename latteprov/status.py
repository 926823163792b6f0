"""Completion status: per ensemble and kind, how many products are planned, running, done,
failed or invalid, and where their files are."""
from __future__ import annotations

from latteprov.errors import NotFound
from latteprov.store import Store

COLUMNS = ("ensemble", "kind", "total", "planned", "running", "done", "failed", "invalid",
           "on_disk", "on_tape", "missing", "wrong_size", "unknown")


def status(store: Store, ensemble: str | None = None) -> list[dict]:
    """One row per (ensemble, kind) with the counts of :data:`COLUMNS`; shared entities have ensemble None."""
    rows = store.read("status", ensemble=ensemble)
    if ensemble is not None and not rows:
        raise NotFound(f"no entities of ensemble {ensemble!r}")
    return [{c: row[c] for c in COLUMNS} for row in rows]
