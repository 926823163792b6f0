"""Offline recording: runs appended to local JSON Lines spools, replayed later by ``sync``.

A spool file belongs to one writing process (one run of the Python API, or one ``latteprov
record`` call). It is created with ``O_EXCL``, appended with ``O_APPEND`` one whole line per
``os.write`` and fsync'd after every event, and held under an exclusive ``flock`` while it is
written, so ``sync`` leaves a file alone while its job still runs. Events:

``started``   the run began (run row, inputs): written before the job's payload runs;
``used``      an input the run declared on the way;
``output``    a product the run declared (state running), so a killed job still names them;
``finished``  the run ended (final state of the run, its outputs, files and edges);
``recorded``  a whole run at once (a manifest run that has ended);
``declared``  planned work declared outside any run.

Replay (:func:`sync`) writes a file's events in order in one transaction, marks the runs that
started but never finished as failed (walltime kills), commits, and only then renames the file
into ``done/``; a file that cannot be replayed goes to ``rejected/`` with its reason. uids make replay exactly-once in effect: a sync killed at any point and run
again leaves the same graph as one clean sync.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import neo4j

from latteprov import graph, queries, tally
from latteprov.errors import InputError, LatteprovError, NotFound
from latteprov.graph import GraphBatch
from latteprov.store import Store, StoreError

EVENTS = ("started", "used", "output", "finished", "recorded", "declared")
SUFFIX = ".jsonl"
DONE = "done"
REJECTED = "rejected"


class SpoolError(LatteprovError):
    """A spool file cannot be read or replayed; the message names the file and line."""


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    raise TypeError(f"cannot spool a {type(value).__name__}")


def _decode(obj: dict) -> Any:
    if set(obj) == {"$datetime"}:
        return datetime.fromisoformat(obj["$datetime"])
    return obj


def batch_to_json(batch: GraphBatch) -> dict:
    """A batch as plain JSON-able data (datetimes tagged, so they come back as datetimes)."""
    return {"entities": batch.entities, "runs": batch.runs, "files": batch.files, "edges": batch.edges}


# The shape of each kind of row in a spool line: required keys and their types.
_ROW_SHAPES = {
    "entities": {"uid": str, "labels": list, "props": dict},
    "runs": {"uid": str, "props": dict, "mutable": dict},
    "files": {"uid": str, "props": dict, "mutable": dict},
    "edges": {"from": str, "to": str, "type": str},
}


def batch_from_json(data: dict) -> GraphBatch:
    """The batch :func:`batch_to_json` wrote; ValueError naming what is wrong for anything of
    another shape (a spool written by hand or by another version)."""
    if not isinstance(data, dict):
        raise ValueError("the batch is not an object")
    rows = {}
    for key, shape in _ROW_SHAPES.items():
        value = data.get(key, [])
        if not isinstance(value, list):
            raise ValueError(f"batch.{key} is not a list")
        for i, row in enumerate(value):
            if not isinstance(row, dict):
                raise ValueError(f"batch.{key}[{i}] is not an object")
            for field_name, type_ in shape.items():
                if not isinstance(row.get(field_name), type_):
                    raise ValueError(f"batch.{key}[{i}].{field_name} is missing or not a {type_.__name__}")
            if key == "entities" and not isinstance(row["props"].get("kind"), str):
                raise ValueError(f"batch.entities[{i}].props.kind is missing")
            row.setdefault("state", None) if key == "entities" else None
            row.setdefault("role", None) if key == "edges" else None
        rows[key] = list(value)
    return GraphBatch(**rows)


class SpoolWriter:
    """One spool file, appended event by event, each event durable before ``append`` returns."""

    def __init__(self, directory: Path, label: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = graph.now().strftime("%Y%m%dT%H%M%S%fZ")  # UTC: names sort in time order across hosts
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in label)[:60]
        self.path = directory / f"{stamp}-{socket.gethostname()}-{os.getpid()}-{safe}{SUFFIX}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        _fsync_dir(directory)

    def append(self, event: str, batch: GraphBatch, run: str | None = None) -> None:
        """Append one event and fsync it."""
        line = json.dumps({"event": event, "run": run, "at": graph.now(), "batch": batch_to_json(batch)},
                          default=_encode, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())
        os.fsync(self._fd)

    def close(self) -> None:
        """Release the file (and its lock): ``sync`` may replay it from now on."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "SpoolWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Event:
    """One parsed spool line."""

    kind: str
    run: str | None
    at: datetime
    batch: GraphBatch
    line: int


def read_events(path: Path) -> tuple[list[Event], bool]:
    """The events of one spool file, and whether a torn last line (a writer killed mid-line,
    never fsync'd, so never acknowledged to the job) was left out."""
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    torn = bool(lines[-1])  # a complete file ends with a newline, leaving an empty last piece
    events = []
    for number, line in enumerate(lines[:-1], 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line, object_hook=_decode)
            if data["event"] not in EVENTS:
                raise ValueError(f"unknown event {data['event']!r}")
            events.append(Event(data["event"], data.get("run"), data["at"], batch_from_json(data["batch"]), number))
        except (ValueError, KeyError, TypeError) as exc:
            raise SpoolError(f"{path}:{number}: not a spool event ({exc})") from None
    return events, torn


@dataclass
class FileReport:
    """What replaying one spool file did."""

    path: Path
    events: int = 0
    runs: int = 0
    unfinished: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    torn: bool = False


def replay_file(store: Store, path: Path) -> FileReport:
    """Write one spool file's events (and fail its unfinished runs) in one transaction."""
    events, torn = read_events(path)
    report = FileReport(path, events=len(events), torn=torn)
    started = {e.run: e.at for e in events if e.kind == "started" and e.run}
    ended = {e.run for e in events if e.kind in ("finished", "recorded") and e.run}
    report.runs = len(set(started) | ended)
    last_seen = events[-1].at if events else None
    unfinished = [{"uid": uid, "ended_at": last_seen} for uid in started if uid not in ended]
    report.unfinished = [row["uid"] for row in unfinished]

    for event in events:  # names (from offline manifests) are resolved now that a graph answers
        try:
            graph.resolve_names(event.batch, store)
        except (InputError, NotFound) as exc:
            raise SpoolError(f"{path}:{event.line}: {exc}") from None

    def work(tx: Any) -> None:
        if any(e["type"] == "DERIVED_FROM" for event in events for e in event.batch.edges):
            queries.run(tx, "take_dag_lock").consume()  # before any event takes the tally lock
        for event in events:
            try:
                result = graph.write_in_tx(tx, event.batch)
            except InputError as exc:
                raise SpoolError(f"{path}:{event.line}: {exc}") from None
            report.conflicts += result.conflicts
        if unfinished:
            with tally.track_runs(tx, [row["uid"] for row in unfinished]):
                queries.run(tx, "fail_unfinished_runs", rows=unfinished).consume()

    store.write_tx(work)
    return report


@dataclass
class SyncReport:
    """What a sync did, file by file; ``rejected`` holds (file now in ``rejected/``, reason)."""

    files: list[FileReport] = field(default_factory=list)
    busy: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def unfinished(self) -> list[str]:
        return [uid for f in self.files for uid in f.unfinished]

    @property
    def conflicts(self) -> list[str]:
        return [c for f in self.files for c in f.conflicts]


def pending(directory: Path) -> list[Path]:
    """Spool files waiting to be replayed, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix == SUFFIX and p.is_file())


def _content_error(exc: StoreError) -> bool:
    """Whether the server refused a statement for what the file holds (a value of a type no
    property can take, say), rather than being down or refusing us."""
    cause = exc.__cause__
    return isinstance(cause, neo4j.exceptions.Neo4jError) and str(cause.code or "").startswith("Neo.ClientError.Statement")


def _move(path: Path, into: Path, reason: str | None = None) -> Path:
    """Move ``path`` into the directory ``into`` (atomic rename; a reason file beside it, written
    first), fsyncing both directories; return the new path."""
    into.mkdir(exist_ok=True)
    target = into / path.name
    if reason is not None:
        note = into / (path.name + ".reason")
        note.write_text(reason + "\n", encoding="utf-8", errors="backslashreplace")
    os.rename(path, target)
    _fsync_dir(path.parent)
    _fsync_dir(into)
    return target


def _replay_locked(store: Store, path: Path) -> FileReport | str | None:
    """Replay ``path`` under its lock: its report, the reason it cannot be replayed, None when
    a job (or another sync) holds it, or "gone" when another sync has moved it away."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return "gone"  # another sync replayed it and moved it meanwhile
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        if not path.exists():
            return "gone"  # replayed by another sync while we waited for nothing: its lock is ours now
        try:
            report = replay_file(store, path)
        except SpoolError as exc:
            return str(exc)
        except StoreError as exc:
            if not _content_error(exc):
                raise  # the database is down or refuses us: nothing is the file's fault
            return f"{path}: {exc}"
        _move(path, path.parent / DONE)  # only after the commit above
        return report
    finally:
        os.close(fd)


def sync(store: Store, directory: Path) -> SyncReport:
    """Replay every spool file of ``directory`` that no job is still writing; move each one to
    ``done/`` once its content is committed.

    A file that cannot be replayed (not JSON, a broken rule, an unknown uid or name, a cycle)
    is tried once more after the others (it may name what a later file records); if it still
    fails it moves to ``rejected/`` with its reason in ``<file>.reason`` beside it, and never
    blocks the others. Moving it back into ``directory`` retries it. StoreError when the
    database cannot be reached or refuses us (the files stay in place)."""
    if not directory.is_dir():
        raise InputError(f"spool directory {directory} does not exist")
    report = SyncReport()
    failed: list[Path] = []
    # Two passes: a file that fails the first may name what a later file records.
    for paths, last in ((pending(directory), False), (failed, True)):
        for path in list(paths):
            outcome = _replay_locked(store, path)
            if outcome is None:
                report.busy.append(path)
            elif isinstance(outcome, FileReport):
                report.files.append(outcome)
            elif outcome == "gone":
                continue
            elif last:
                report.rejected.append((_move(path, directory / REJECTED, outcome), outcome))
            else:
                failed.append(path)
    return report
