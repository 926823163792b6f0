"""The bulk first load: a campaign's rows into an empty local database through neo4j-admin.

``latteprov ingest names --initial`` and ``latteprov synth --initial`` build their rows as the
transactional path does (:class:`latteprov.graph.GraphBatch`), check each batch with the same
consistency checks (:func:`latteprov.checks.check_batch`, with what earlier batches held
standing in for the graph), and write them as the CSV files of :mod:`latteprov.export` (same
headers, same cells, same ``import.args``) instead of committing them. Then the local server
is stopped, ``neo4j-admin database import full`` of the fetched jars loads the files into its
database, the server is started again (same port, same authentication) and
:func:`latteprov.schema.install` does what ``latteprov init`` does: constraints and indexes,
each product's file statuses and search name, the status tallies counted.

Entities are created as the write path creates them (``valid`` true: nothing is invalid in an
empty database; ``state`` as given, else done; ``created_at`` the load's start); the first row
of a uid is kept (the builders emit each node once). Refused, with one line and nothing
written: a database that holds any node but latteprov's locks and tallies, and a database that
is not the local server ``latteprov db start`` runs from this data directory. SIGTERM is
handled as SIGINT (Ctrl-C): the files are removed, neo4j-admin is stopped, the server is
started again and the database stays empty; once the import has succeeded the load finishes.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from latteprov import checks, export, model, schema
from latteprov.config import Settings
from latteprov.errors import InputError
from latteprov.graph import WriteResult
from latteprov.rows import EDGE_TYPES, GraphBatch
from latteprov.server import manager
from latteprov.store import Store

# What the consistency checks read of earlier rows (check_context's answer, trimmed).
_CHECKED_KEYS = frozenset({"uid", "kind", "name", "tag", "quark_tag", "quark_mass", "ml", "ms", "mc", "nx", "nt",
                           "ensemble", "stream", "config", "flow_time", "smear_width", "smear_steps"})


class BulkLoadError(InputError):
    """The bulk first load cannot run here (not empty, not local) or neo4j-admin failed."""


@dataclass
class BulkResult:
    """What a bulk first load wrote and how long each part took (seconds)."""

    nodes: int = 0
    relationships: int = 0
    duplicates: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def local_home(settings: Settings) -> Path:
    """The home of the local server the settings point at; BulkLoadError when the database is
    not the one ``latteprov db start`` runs from this data directory (a remote server, or a
    local one started elsewhere: neo4j-admin must write its files)."""
    home = settings.server_dir.expanduser().resolve()
    info = manager.running(home)
    if info is None:
        raise BulkLoadError(f"--initial loads only the local server, and none runs from {home}: start it with "
                            "'latteprov db start' (or ingest without --initial)")
    if settings.uri.rstrip("/") not in (info.uri, f"neo4j://127.0.0.1:{info.port}", f"bolt://localhost:{info.port}",
                                        f"neo4j://localhost:{info.port}"):
        raise BulkLoadError(f"--initial loads only the local server ('latteprov db start', data in {home}); "
                            f"{settings.uri} is not it: ingest without --initial")
    return home


def refuse_unless_empty(store: Store) -> None:
    """BulkLoadError unless the database holds nothing but locks and tallies (an import
    replaces the whole database: web users and provenance alike)."""
    count = store.read("bulk_nodes_present")[0]["present"]
    if count:
        raise BulkLoadError(f"--initial needs an empty database; this one holds {count:,} nodes: "
                            "ingest without --initial (the transactional path adds to a graph)")


def _datetime_cell(value: datetime) -> str:
    zone = getattr(value.tzinfo, "key", None)
    text = value.isoformat()
    return f"{text}[{zone}]" if zone and zone != "UTC" else text


def _cell(value: Any, where: str) -> str:
    return _datetime_cell(value) if isinstance(value, datetime) else export.cell(value, where)


def _formatter(csv_type: str) -> Callable[[Any, str], str]:
    """The cell of a (non-None) value of a column of ``csv_type`` (the export's header type):
    what :func:`export.cell` writes, with the common case of each type first."""
    if csv_type == "string":
        return lambda v, where: '"' + v.replace('"', '""') + '"' if type(v) is str else _cell(v, where)
    if csv_type in ("long", "double"):
        return lambda v, where: repr(v) if type(v) is int or type(v) is float else _cell(v, where)
    return _cell


class CsvWriter:
    """Writes batches as neo4j-admin CSV files into ``directory`` (one node file per class,
    one relationship file per type), checking each batch as the write path does."""

    def __init__(self, directory: Path, created_at: datetime) -> None:
        self.directory = directory
        self.created_at = created_at
        self.result = export.ExportResult(directory)
        self.duplicates = 0
        self.entities = 0
        self._stack = ExitStack()
        self._files: dict[str, tuple[IO[str], list[tuple[str, str]]]] = {}
        self._uids: set[str] = set()
        self._edges: set[tuple[str, str, str, str | None]] = set()
        self._known: dict[str, dict] = {}       # projected props of checked entities (check lookups)
        self._ensembles: dict[str, dict] = {}
        # per ensemble without a known extent: per origin axis, the furthest origin placed on it
        # and its product (checked when the ensemble's extent arrives, as check_in_tx does)
        self._placed: dict[str, dict[str, tuple[int, str]]] = {}
        self._columns: dict[str, list[tuple[str, Callable[[Any, str], str]]]] = {}
        self._labels: dict[tuple[str, ...], str] = {}

    def __enter__(self) -> "CsvWriter":
        self.directory.mkdir(parents=True, exist_ok=True)
        for type_ in EDGE_TYPES:
            self._open(f"relationships-{type_}.csv", [(":START_ID", ":START_ID"), (":END_ID", ":END_ID"),
                                                      (":TYPE", ":TYPE"), ("role", "role:string")])
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
        if exc[0] is None:
            export.write_args(self.result)

    def _open(self, name: str, header: list[tuple[str, str]]) -> tuple[IO[str], list[tuple[str, str]]]:
        if name not in self._files:
            f = self._stack.enter_context((self.directory / name).open("w", encoding="utf-8", newline=""))
            export.write_line(f, (h for _, h in header))
            self._files[name] = (f, header)
            self.result.files[name] = 0
        return self._files[name]

    def _node(self, cls: type, props: dict, labels: list[str]) -> None:
        name = f"nodes-{cls.__name__}.csv"
        f, header = self._files.get(name) or self._open(name, export.node_header(cls))
        columns = self._columns.get(name)
        if columns is None:
            columns = self._columns[name] = [(p, _formatter(h.partition(":")[2])) for p, h in header if p != ":LABEL"]
        label_cell = self._labels.get(tuple(labels))
        if label_cell is None:
            label_cell = self._labels[tuple(labels)] = export.cell(labels, cls.__name__)
        get = props.get
        cells = [("" if (v := get(p)) is None else fmt(v, p)) for p, fmt in columns]
        cells.append(label_cell)
        f.write(",".join(cells) + "\n")
        self.result.files[name] += 1

    def _lookup(self, tags: list[str], uids: list[str]) -> tuple[dict[str, dict], dict[str, dict]]:
        return ({t: self._ensembles[t] for t in tags if t in self._ensembles},
                {u: self._known[u] for u in uids if u in self._known})

    def _placed_before(self, batch: GraphBatch) -> None:
        """An ensemble whose extent arrives after products placed on it: their origins must lie
        inside it too (checks._check_placed_products, with the rows written before)."""
        for row in batch.entities:
            props = row["props"]
            if props.get("kind") != "Ensemble" or props.get("tag") not in self._placed:
                continue
            for axis, (value, name) in self._placed[props["tag"]].items():
                size = props.get("nt") if axis == "t" else props.get("nx")
                if size is not None and value >= size:
                    raise checks.CheckError(f"Ensemble {props['tag']}: {name}, already recorded, has origin "
                                            f"{axis}={value} outside the lattice 0 <= {axis} < {size} this "
                                            "ensemble gives")

    def _place(self, props: dict) -> None:
        tag = props.get("ensemble")
        known = self._ensembles.get(tag) if tag else None
        if not tag or (known and known.get("nx") is not None and known.get("nt") is not None):
            return
        for axis in checks.ORIGIN:
            value = props.get(axis)
            if value is not None and value > self._placed.get(tag, {}).get(axis, (-1, ""))[0]:
                self._placed.setdefault(tag, {})[axis] = (value, f"{props['kind']} {props.get('name')}")

    def put(self, batch: GraphBatch) -> None:
        """Check ``batch`` (InputError for the first rule it breaks, nothing of it written) and
        append its new rows to the files."""
        checks.check_batch(batch, self._lookup)
        self._placed_before(batch)
        here = {r["uid"] for r in (*batch.entities, *batch.runs, *batch.files)}
        for e in batch.edges:
            for end in ("from", "to"):
                if e[end] not in here and e[end] not in self._uids:
                    raise InputError(f"{e['type']} edge {e['from']} -> {e['to']}: {e[end]} is neither in this "
                                     "batch nor written before")
        for row in batch.entities:
            if row["uid"] in self._uids:
                self.duplicates += 1
                continue
            self._uids.add(row["uid"])
            self.entities += 1
            props = {**row["props"], "valid": True, "state": row["state"] or "done", "created_at": self.created_at}
            self._node(model.kind_class(props["kind"]), props, row["labels"])
            self._known[row["uid"]] = {k: v for k, v in props.items() if k in _CHECKED_KEYS}
            if props["kind"] == "Ensemble":
                self._ensembles[props["tag"]] = dict(props)
            self._place(props)
        for row in batch.runs:
            if row["uid"] in self._uids:
                self.duplicates += 1
                continue
            self._uids.add(row["uid"])
            self._node(model.Run, {**row["props"], **row["mutable"]}, ["Run"])
        for row in batch.files:
            if row["uid"] in self._uids:
                self.duplicates += 1
                continue
            self._uids.add(row["uid"])
            self._node(model.DataFile, {**row["props"], **row.get("mutable", {})}, ["DataFile"])
        for e in batch.edges:
            key = (e["from"], e["to"], e["type"], e["role"])
            if key in self._edges:
                continue
            self._edges.add(key)
            name = f"relationships-{e['type']}.csv"
            f, _ = self._files[name]
            export.write_line(f, [export.cell(e["from"]), export.cell(e["to"]), e["type"], export.cell(e["role"])])
            self.result.files[name] += 1


class InitialLoad:
    """A sink for batches (what :class:`latteprov.graph.Writer` is to the transactional path):
    entering checks the database is local and empty (BulkLoadError otherwise) and opens the
    CSV files; :meth:`put` checks and writes a batch; leaving without an error imports the
    files with neo4j-admin and installs the schema and tallies (``latteprov init``), leaving
    with one removes the files and leaves the database as it was. ``result`` counts what was
    created, as a :class:`latteprov.graph.WriteResult`; ``bulk`` has the timings.
    ``all_or_nothing``: a source of batches with a bad item refuses them all (the database can
    be loaded this way only once, so a partial load could not be completed by a second one)."""

    all_or_nothing = True

    def __init__(self, store: Store, settings: Settings, say: Callable[[str], None] = lambda _: None) -> None:
        self.store, self.settings, self.say = store, settings, say
        self.result = WriteResult()
        self.bulk = BulkResult()
        self._writer: CsvWriter | None = None
        self._work: Path | None = None
        self._started = 0.0
        self._handlers: dict[int, Any] = {}
        self._hold = False  # a signal now waits (pending) instead of interrupting
        self._pending = False

    def _on_signal(self, signum: int, frame: object) -> None:
        """SIGTERM and SIGINT while loading: KeyboardInterrupt (click's 'Aborted!'), so the
        files are removed, neo4j-admin killed and the server started again as for Ctrl-C; while
        the server stops or starts, or once the import has succeeded (the schema must follow),
        the signal waits until that is done."""
        if self._hold:
            self._pending = True
            return
        raise KeyboardInterrupt

    def _catch_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._handlers[signum] = signal.signal(signum, self._on_signal)

    def _release_signals(self) -> None:
        for signum, previous in self._handlers.items():
            signal.signal(signum, previous)
        self._handlers.clear()

    def check(self) -> None:
        """BulkLoadError unless the database is the local one and empty (what entering checks;
        callers ask first to refuse before showing progress)."""
        self.home = local_home(self.settings)
        refuse_unless_empty(self.store)

    def __enter__(self) -> "InitialLoad":
        self.check()
        self._started = time.perf_counter()
        self._work = Path(tempfile.mkdtemp(prefix="bulk-", dir=self.home))
        try:
            self._writer = CsvWriter(self._work / "csv", datetime.now(timezone.utc)).__enter__()
        except BaseException:
            shutil.rmtree(self._work, ignore_errors=True)
            raise
        self._catch_signals()
        self.say("writing CSV files")
        return self

    def put(self, batch: GraphBatch) -> None:
        """Check ``batch`` and append it to the files (InputError: refused, nothing imported)."""
        assert self._writer is not None, "enter the InitialLoad first"
        before = self._writer.entities, self._writer.result.relationships
        self._writer.put(batch)
        self.result.entities_created += self._writer.entities - before[0]
        self.result.edges_written += self._writer.result.relationships - before[1]

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        assert self._writer is not None and self._work is not None
        try:
            self._writer.__exit__(exc_type, *exc)
            if exc_type is None:
                self._load()
        finally:
            shutil.rmtree(self._work, ignore_errors=True)
            self._release_signals()

    def _load(self) -> None:
        writer, home, settings, bulk = self._writer, self.home, self.settings, self.bulk
        bulk.nodes, bulk.relationships, bulk.duplicates = (writer.result.nodes, writer.result.relationships,
                                                           writer.duplicates)
        bulk.seconds["csv"] = round(time.perf_counter() - self._started, 1)
        refuse_unless_empty(self.store)  # nobody wrote meanwhile
        started_with = manager.start_settings(home)
        if started_with is None:
            raise BulkLoadError(f"the local server of {home} stopped during the load; nothing was imported")
        self.store.close()  # its connections end with the server; the schema goes through a new one
        self.say("stopping the local server and importing with neo4j-admin")
        t = time.perf_counter()
        self._hold = True
        try:
            manager.stop(home)
            self._hold = False
            if self._pending:
                raise KeyboardInterrupt
            loaded = subprocess.run(manager.admin_command(settings.cache_dir, "database", "import", "full", "neo4j",
                                                          f"@{self._work / 'csv' / export.ARGS_FILE}",
                                                          "--overwrite-destination=true"),
                                    capture_output=True, text=True, cwd=self._work,
                                    env={**os.environ, "NEO4J_HOME": str(home / "db")})
        finally:
            self._hold = True  # from here on (the server starting, then the schema) a signal waits
            if manager.running(home) is None:
                manager.start(home, settings.cache_dir, **started_with)
        if loaded.returncode != 0:
            raise BulkLoadError(f"neo4j-admin database import failed ({loaded.returncode}): "
                                f"{manager.admin_failure(loaded.stdout + loaded.stderr)}")
        bulk.seconds["import"] = round(time.perf_counter() - t, 1)
        self.say("constraints, indexes, file statuses, search names, status tallies (latteprov init)")
        t = time.perf_counter()
        with Store(settings) as fresh:
            schema.install(fresh)
        bulk.seconds["init"] = round(time.perf_counter() - t, 1)
        bulk.seconds["total"] = round(time.perf_counter() - self._started, 1)


def initial_load(store: Store, settings: Settings, batches: Iterable[GraphBatch],
                 say: Callable[[str], None] = lambda _: None) -> InitialLoad:
    """Load ``batches`` into the empty local database through neo4j-admin, then install the
    schema and count the tallies (``latteprov init``); the finished :class:`InitialLoad`.
    BulkLoadError (nothing written) when the database is not local or not empty; InputError for
    a batch the checks refuse (the database untouched); BulkLoadError with neo4j-admin's last
    lines if it fails (the server is started again either way)."""
    sink = InitialLoad(store, settings, say)
    sink.check()
    with sink:
        for batch in batches:
            sink.put(batch)
    return sink
