"""Completion status: per ensemble and kind, how many products are planned, running, done,
failed or invalid, and where their files are.

The report reads the Tally nodes (:mod:`latteprov.tally`): a few nodes, whatever the graph's
size. While the tallies are not complete (a store written before they existed, or loaded by
``neo4j-admin import``, until ``latteprov init`` or ``latteprov status --recount``) it counts
with one scan over every entity instead: the same rows, slower, and :func:`report` says so.
"""
from __future__ import annotations

from latteprov import tally
from latteprov.errors import NotFound
from latteprov.store import Store

COLUMNS = ("ensemble", "kind", *tally.COUNTS)


def report(store: Store, ensemble: str | None = None) -> tuple[list[dict], bool]:
    """The rows of :func:`status` and whether they came from the tallies (False: a full scan)."""
    (read,) = store.read("tally_read", ensemble=ensemble)
    rows = _columns(read["rows"]) if read["complete"] else scan(store, ensemble)
    if ensemble is not None and not rows:
        raise NotFound(f"no entities of ensemble {ensemble!r}")
    return rows, read["complete"]


def status(store: Store, ensemble: str | None = None) -> list[dict]:
    """One row per (ensemble, kind) with the counts of :data:`COLUMNS`; shared entities have ensemble None."""
    return report(store, ensemble)[0]


def scan(store: Store, ensemble: str | None = None) -> list[dict]:
    """The same rows counted by one pass over every entity, ignoring the tallies."""
    return tally.status_rows(tally.contributions(store.read("status_scan", ensemble=ensemble)))


def _columns(tallies: list[dict]) -> list[dict]:
    """Tally nodes' properties as status rows (a column a node lacks counts 0)."""
    return [{"ensemble": t["ensemble"] or None, "kind": t["kind"], **{c: t.get(c, 0) for c in tally.COUNTS}}
            for t in tallies]
