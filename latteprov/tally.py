"""Tallies: the status counts per (ensemble, kind), kept by the transactions that change them.

``(:Tally {ensemble, kind})`` holds the counts of :data:`COUNTS` (ensemble ``''`` for shared
entities; file columns count files, i.e. entries of the entities' ``file_statuses``), so the
status report reads a few nodes instead of every entity. A transaction that changes an
entity's existence, state, valid or file_statuses takes the tally lock (``(:Lock {name:
'tally'})``, after the DAG lock when it takes both) and, through a :class:`Tracker`, snapshots
what the entities it touches contribute before and after its writes and adds the difference
to the Tally nodes (the write path counts the entities it creates from the properties it
creates them with, see :func:`new_entities`). The lock makes the counts exact under concurrent
writers; being part of the writing transaction makes them crash-safe.

The lock's ``complete`` flag says the tallies cover every entity: the first write to a graph
without entities creates the lock with it set (an empty graph, e.g. after :meth:`Store.clear`,
needs no counting), :func:`recount` sets it elsewhere; ``latteprov init`` recounts when it is
missing (stores written before the tallies existed, stores loaded by ``neo4j-admin import``).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from types import TracebackType

import neo4j

from latteprov import queries
from latteprov.model import FILE_STATUSES, STATES
from latteprov.store import Store

COUNTS = ("total", *STATES, "invalid", *FILE_STATUSES)
"""The columns of a tally and of a status row: the model's states and file statuses, in its order."""


def take_lock(tx: neo4j.ManagedTransaction) -> None:
    """Take the tally lock for the rest of ``tx`` (after the DAG lock, if ``tx`` needs that too)."""
    queries.run(tx, "take_tally_lock").consume()


def contributions(groups: Iterable[dict]) -> Counter:
    """Counts by (ensemble, kind, column) of groups of equal entities ({ensemble, kind, state,
    valid, files, count}, as the queries tally_snapshot and status_scan return them); shared
    entities have ensemble ''."""
    counts: Counter = Counter()
    for g in groups:
        key, n = (g["ensemble"], g["kind"]), g["count"]
        counts[(*key, "total")] += n
        if g["state"] in STATES:
            counts[(*key, g["state"])] += n
        if g["valid"] is False:
            counts[(*key, "invalid")] += n
        for status in g["files"]:
            if status in FILE_STATUSES:
                counts[(*key, status)] += n
    return counts


def add(tx: neo4j.ManagedTransaction, counts: dict) -> None:
    """Add ``counts`` ({(ensemble, kind, column): n}, n may be negative) to the Tally nodes."""
    rows: dict[tuple[str, str], dict] = {}
    for (ensemble, kind, column), n in counts.items():
        if n:
            rows.setdefault((ensemble, kind), dict.fromkeys(COUNTS, 0))[column] += n
    if rows:
        queries.run(tx, "tally_add", columns=list(COUNTS),
                    rows=[{"ensemble": e, "kind": k, "counts": c} for (e, k), c in rows.items()]).consume()


def status_rows(counts: dict) -> list[dict]:
    """``counts`` ({(ensemble, kind, column): n}) as status rows {ensemble, kind, *COUNTS},
    one per (ensemble, kind) with a non-zero total, sorted by ensemble (shared ones, ensemble
    None, last) and kind."""
    rows: dict[tuple[str, str], dict] = {}
    for (ensemble, kind, column), n in counts.items():
        rows.setdefault((ensemble, kind), dict.fromkeys(COUNTS, 0))[column] += n
    return [{"ensemble": e or None, "kind": k, **c}
            for (e, k), c in sorted(rows.items(), key=lambda item: (item[0][0] == "", item[0])) if c["total"]]


def new_entities(props: Iterable[dict]) -> Counter:
    """What entities created with these complete property maps contribute (as tally_snapshot
    would read them back): the write path counts what it creates without reading it."""
    groups: Counter = Counter()
    for p in props:
        groups[(p.get("ensemble") or "", p["kind"], p.get("state"), p.get("valid"), tuple(p.get("file_statuses") or ()))] += 1
    return contributions({"ensemble": e, "kind": k, "state": s, "valid": v, "files": f, "count": n}
                          for (e, k, s, v, f), n in groups.items())


class Tracker:
    """Keeps the tallies exact across writes to the entities ``uids`` and to the data files
    ``files`` (whose products' file_statuses follow them): created before the writes (takes
    the lock unless ``locked`` says the caller holds it, snapshots), :meth:`settle` after them
    (adds the difference); entities of ``skip`` are left out of the snapshots. As a context
    manager it settles when the block ends without an exception. With nothing to track it does
    nothing, so transactions that touch no counted entity (runs, edges) do not queue for the
    lock."""

    def __init__(self, tx: neo4j.ManagedTransaction, uids: Iterable[str] = (), files: Iterable[str] = (),
                 locked: bool = False, skip: Iterable[str] = ()) -> None:
        self.tx = tx
        self.uids, self.files = list(dict.fromkeys(uids)), list(dict.fromkeys(files))
        self.skip = list(skip)  # entities reached through ``files`` that the caller counts itself
        if self.uids or self.files:
            if not locked:
                take_lock(tx)
            self.before = self._snapshot()

    def _snapshot(self) -> Counter:
        return contributions(queries.run(self.tx, "tally_snapshot", uids=self.uids, files=self.files,
                                          skip=self.skip))

    def settle(self, created: Counter | None = None) -> None:
        """Add what the writes since the snapshot changed to the Tally nodes, and ``created``
        (the contributions of entities created meanwhile, see :func:`new_entities`)."""
        diff: dict = dict(created or {})
        if self.uids or self.files:
            after = self._snapshot()
            for key in after.keys() | self.before.keys():
                diff[key] = diff.get(key, 0) + after[key] - self.before[key]
        add(self.tx, diff)

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.settle()


def track_runs(tx: neo4j.ManagedTransaction, runs: list[str]) -> Tracker:
    """A tracker for the products of ``runs`` (marking a run failed fails its running products)."""
    take_lock(tx)  # before reading the products, so none is added meanwhile
    return Tracker(tx, [r["uid"] for r in queries.run(tx, "tally_products_of_runs", runs=runs)])


def recount(store: Store) -> int:
    """Rebuild every Tally node from a full scan and mark the tallies complete; return how
    many (ensemble, kind) pairs there are. One transaction under the lock, so writers wait for
    it and nothing is counted twice or lost; it writes one node per pair whatever the graph's
    size, so it needs no batching into several transactions (which would release the lock)."""
    def work(tx: neo4j.ManagedTransaction) -> int:
        take_lock(tx)
        counts = contributions(queries.run(tx, "status_scan", ensemble=None))
        queries.run(tx, "tally_reset").consume()
        add(tx, counts)
        return len({(ensemble, kind) for ensemble, kind, _ in counts})

    return store.write_tx(work)


def complete(store: Store) -> bool:
    """Whether the tallies cover every entity (a recount has run on this store)."""
    return store.read("tally_read", ensemble="")[0]["complete"]


def ensure(store: Store) -> bool:
    """Recount unless the tallies are complete; return whether a recount ran."""
    if complete(store):
        return False
    recount(store)
    return True
