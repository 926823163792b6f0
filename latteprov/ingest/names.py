"""``ingest names``: file names (CalLat conventions or the user's) become nodes and edges.

Names are parsed and built one by one into batches of about ``batch_size`` rows, which a
writer thread commits in order, one transaction each, while the next batch is built; each
shared input is written once. Group inputs are linked after the last name (they need all). Names
that fit no template are counted with examples, not fatal; a name that fits two kinds or
names an unknown ensemble is a problem line, and the others are still ingested.
"""
from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from latteprov import graph
from latteprov.graph import WriteResult
from latteprov.ingest import datafiles
from latteprov.ingest.builder import Builder
from latteprov.ingest.conventions import Conventions, Match, NameProblem
from latteprov.store import Store

EXAMPLES = 5
# Rows per transaction: a transaction costs a round trip, a commit and the plan lookups of
# its ~10 statements, so fewer larger ones are faster (within the server's memory).
BATCH = 10_000


@dataclass
class NamesReport:
    """What an ingest of names did."""

    names: int = 0
    matched: int = 0
    files: int = 0
    unmatched: int = 0
    unmatched_examples: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    written: WriteResult = field(default_factory=WriteResult)
    would_create: dict[str, int] | None = None  # a dry run's new nodes by kind
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Names per second."""
        return self.names / self.seconds if self.seconds else 0.0


def parse_names(conventions: Conventions, names: Iterable[str], report: NamesReport) -> Iterator[tuple[Match, str]]:
    """Each name that fits a template, enriched, with the path it came from (lazily, so that
    building and writing start with the first names)."""
    for line in names:
        path = line.strip()
        if not path:
            continue
        report.names += 1
        base = os.path.basename(path.rstrip("/"))
        try:
            found = conventions.match(base)
            if found is None:
                report.unmatched += 1
                if len(report.unmatched_examples) < EXAMPLES:
                    report.unmatched_examples.append(base)
                continue
            found.fields = conventions.enrich(found.fields)
        except NameProblem as exc:
            report.problems.append(str(exc) if str(exc).startswith(base) else f"{base}: {exc}")
            continue
        report.matched += 1
        yield found, path


def _slices(batch: graph.GraphBatch, size: int) -> Iterator[graph.GraphBatch]:
    """``batch`` as transactions of about ``size`` rows. Group resolution can leave many edges
    at the end: entities and files first, then the edges in slices, each naming only rows
    already committed."""
    if len(batch) <= 2 * size:
        yield batch
        return
    yield graph.GraphBatch(entities=batch.entities, files=batch.files,
                           edges=[e for e in batch.edges if e["type"] == "STORED_AT"])
    derived = [e for e in batch.edges if e["type"] != "STORED_AT"]
    for start in range(0, len(derived), size):
        yield graph.GraphBatch(edges=derived[start:start + size])


class DryRun:
    """Stands in for the writer of a dry run: counts what each batch would create (by kind) and
    what the graph holds already, writing nothing (one read of existing uids per batch)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.result = WriteResult()
        self.created: Counter = Counter()
        self._seen: set[str] = set()

    def __enter__(self) -> "DryRun":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def put(self, batch: graph.GraphBatch) -> None:
        rows = {r["uid"]: r["props"]["kind"] for r in batch.entities if r["uid"] not in self._seen}
        self._seen.update(rows)
        found = set(self.store.read("existing_uids", entities=list(rows), runs=[], files=[])[0]["entities"])
        self.result.entities_matched += len(found)
        self.result.entities_created += len(rows) - len(found)
        self.created.update(kind for uid, kind in rows.items() if uid not in found)
        self.result.edges_written += len(batch.edges)


def ingest_names(store: Store, conventions: Conventions, names: Iterable[str], *,
                 batch_size: int = BATCH, advance: Callable[[int], None] | None = None,
                 dry_run: bool = False, sink: Any = None) -> NamesReport:
    """Record the nodes, edges and (for existing files) DataFiles the names mean; with
    ``dry_run``, only count what would be created (``report.would_create`` by kind) and what is
    known already, writing nothing. ``sink`` (default: :class:`latteprov.graph.Writer`) takes
    the batches instead: a context manager with ``put(batch)`` and a ``result``
    (:class:`latteprov.graph.WriteResult`), e.g. the bulk first load's
    :class:`latteprov.bulkload.InitialLoad`."""
    started = time.perf_counter()
    report = NamesReport()
    builder = Builder(conventions)
    hostname = datafiles.host()
    if sink is None:
        sink = DryRun(store) if dry_run else graph.Writer(store)
    with sink as writer:
        for found, path in parse_names(conventions, names, report):
            uid = builder.build(found.spec, found.fields, found.raw)
            try:
                stat = os.stat(path)
            except OSError:
                stat = None
            if stat is not None:
                builder.batch.add_file(uid, os.path.abspath(path), host=hostname, **datafiles.stat_props(stat))
                report.files += 1
            if len(builder.batch) >= batch_size:
                writer.put(builder.take())
            if advance and report.matched % 1000 == 0:
                advance(1000)
        builder.resolve_groups()
        for batch in _slices(builder.take(), batch_size):
            if len(batch):
                writer.put(batch)
    report.written = writer.result
    if dry_run:
        report.would_create = dict(sorted(sink.created.items()))
    if advance:
        advance(report.matched % 1000)
    report.seconds = time.perf_counter() - started
    return report
