"""latteprov archives: a product's lineage or impact as one self-contained file, merged into
another database idempotently (how two groups share provenance; AiiDA's archives are the
precedent).

Format (JSON Lines, UTF-8, one JSON object a line; datetimes as ``{"$datetime": ISO 8601}``):

- line 1, the header: ``{"format": "latteprov-archive", "version": 1, "latteprov": version,
  "written_at", "root": uid or null, "direction": "upstream" | "downstream" | null, "counts":
  {entities, runs, files, invalidations, edges}}``;
- then one line per record, nodes before the edges that join them:
  ``{"record": "entity", "uid", "kind", "name", "state", "props"}`` (inputs before products;
  ``props`` without what the writer keeps itself: validity, file statuses, creation time),
  ``{"record": "run", "uid", "props"}`` (``params`` as a JSON object),
  ``{"record": "file", "uid", "props"}``,
  ``{"record": "invalidation", "uid", "props"}`` (invalidation and revalidation events),
  ``{"record": "edge", "type", "from", "to", "role"}``.

Reading checks every line before anything is written: the header's format and version (an
archive of a newer version is refused), that each line is JSON of a known record, that each
uid is what its natural key gives, and that the counts match (a truncated file is refused).
:func:`import_archive` then writes everything in one transaction through
:func:`latteprov.graph.write_in_tx` (the checks of every write, MERGE by uid, states only
forward, cycles refused): a second import changes nothing; what the graph recorded before
with another value is kept and reported as a conflict; invalidation events are recorded and
their subtrees marked invalid in the same transaction.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import neo4j

from latteprov import __version__, graph, model, queries, rows, tally
from latteprov.errors import InputError
from latteprov.exchange import files
from latteprov.exchange.subgraph import Subgraph, native
from latteprov.store import Store

FORMAT = "latteprov-archive"
VERSION = 1
RECORDS = ("entity", "run", "file", "invalidation", "edge")
# Entity properties the writer derives itself (validity from invalidations, the statuses of the
# entity's files, when it was first written here): not carried.
WRITER_KEPT = tuple(sorted(rows.DERIVED_PROPS - {"uid", "kind"}))  # valid, file_statuses, created_at, search_name
INVALIDATION_KEYS = ("action", "reason", "by", "root", "at")


class ArchiveError(InputError):
    """An archive cannot be read or merged; the message names the file and line."""


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    raise TypeError(f"cannot archive a {type(value).__name__}")


def _decode(obj: dict) -> Any:
    if set(obj) == {"$datetime"}:
        try:
            return datetime.fromisoformat(obj["$datetime"])
        except (TypeError, ValueError):
            raise ValueError(f"{obj['$datetime']!r} is not an ISO 8601 datetime") from None
    return obj


def _line(record: dict) -> str:
    return json.dumps(record, default=_encode, ensure_ascii=False, sort_keys=False) + "\n"


def lines(sub: Subgraph) -> Iterator[str]:
    """The archive of ``sub``, line by line."""
    yield _line({"format": FORMAT, "version": VERSION, "latteprov": __version__,
                 "written_at": datetime.now(timezone.utc), "root": sub.root, "direction": sub.direction,
                 "counts": sub.counts()})
    for uid, entity in sub.entities.items():
        props = {k: v for k, v in entity["props"].items()
                 if k not in (*WRITER_KEPT, "uid", "kind", "name", "state") and v is not None}
        yield _line({"record": "entity", "uid": uid, "kind": entity["props"]["kind"],
                     "name": entity["props"].get("name"), "state": entity["props"].get("state"), "props": props})
    for uid, props in sub.runs.items():
        props = {k: v for k, v in props.items() if k != "uid"}
        if isinstance(props.get("params"), str):
            props["params"] = json.loads(props["params"])
        yield _line({"record": "run", "uid": uid, "props": props})
    for uid, props in sub.files.items():
        yield _line({"record": "file", "uid": uid, "props": {k: v for k, v in props.items() if k != "uid"}})
    for event in sub.invalidations:
        yield _line({"record": "invalidation", "uid": event["uid"],
                     "props": {k: v for k, v in event.items() if k != "uid"}})
    for e in sub.edges:
        yield _line({"record": "edge", "type": e["type"], "from": e["from"], "to": e["to"], "role": e["role"]})


def write(sub: Subgraph, out: IO[str]) -> dict[str, int]:
    """Write the archive of ``sub`` to the text stream ``out``; returns its counts."""
    for text in lines(sub):
        out.write(text)
    return sub.counts()


@dataclass
class Archive:
    """A read and checked archive: its header and the batch of rows to write."""

    header: dict
    batch: graph.GraphBatch = field(default_factory=graph.GraphBatch)
    invalidations: list[dict] = field(default_factory=list)


def _check_uid(where: str, given: str, computed: str) -> None:
    if given != computed:
        raise ArchiveError(f"{where}: uid {given} is not what its natural key gives ({computed})")


def _entity_row(where: str, rec: dict) -> dict:
    props = dict(rec["props"])
    for key in WRITER_KEPT:
        props.pop(key, None)
    row = rows.entity(rec["kind"], name=rec.get("name"), state=rec.get("state"), **props)
    _check_uid(where, rec["uid"], row["uid"])
    return row


def _run_row(rec: dict) -> dict:
    props = dict(rec["props"])
    known = {"name", "run_kind", "command", "code_version", "host", "user", "job_id", "params", "started_at",
             "ended_at", "exit_state"}
    unknown = sorted(set(props) - known)
    if unknown:
        raise InputError(f"Run has no property {unknown[0]!r}")
    for key in ("started_at", "ended_at"):
        if props.get(key) is not None and not isinstance(props[key], datetime):
            raise InputError(f"{key} {props[key]!r} is not a tagged datetime ({{\"$datetime\": ISO}})")
    params = props.get("params") or {}
    if not isinstance(params, dict):
        raise InputError(f"params is a {type(params).__name__}, not an object")
    return rows.run_row(rec["uid"], kind=props.get("run_kind", "job"), name=props.get("name"),
                        command=props.get("command"), code_version=props.get("code_version"),
                        host=props.get("host"), user=props.get("user"), job_id=props.get("job_id"), params=params,
                        started_at=props.get("started_at"), ended_at=props.get("ended_at"),
                        exit_state=props.get("exit_state", "running"))


def _file_row(where: str, rec: dict) -> dict:
    props = dict(rec["props"])
    path = props.pop("path", None)
    if not isinstance(path, str) or not path:
        raise InputError("a file record needs a path")
    row = rows.file_row(path, **props)
    _check_uid(where, rec["uid"], row["uid"])
    return row


def _invalidation(rec: dict) -> dict:
    props = dict(rec["props"])
    if props.get("action") not in ("invalidate", "revalidate"):
        raise InputError(f"invalidation action {props.get('action')!r} is not invalidate or revalidate")
    for key in ("reason", "root"):
        if not isinstance(props.get(key), str) or not props[key]:
            raise InputError(f"an invalidation event needs a {key}")
    if not isinstance(props.get("at"), datetime):
        raise InputError("an invalidation event needs its time 'at' (a tagged datetime)")
    unknown = sorted(set(props) - {*INVALIDATION_KEYS, "count"})
    if unknown:
        raise InputError(f"Invalidation has no property {unknown[0]!r}")
    typed = model.coerce_props(model.Invalidation, {k: v for k, v in props.items() if k != "at"})
    return {"uid": rec["uid"], "props": {**typed, "uid": rec["uid"]}, "at": props["at"]}


def read(path: Path) -> Archive:
    """Read and check the archive at ``path`` (see the module docstring). Raises ArchiveError
    naming the file and line of the first problem; nothing is written."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ArchiveError(f"{path}: cannot read ({exc.strerror})") from None
    archive: Archive | None = None
    seen = dict.fromkeys(RECORDS, 0)
    with handle:
        lineno = 0
        try:
            for lineno, text in enumerate(handle, 1):
                where = f"{path}:{lineno}"
                if not text.endswith("\n"):
                    raise ArchiveError(f"{where}: the last line is cut short (no newline): a truncated archive")
                try:
                    rec = json.loads(text, object_hook=_decode)
                except ValueError as exc:
                    raise ArchiveError(f"{where}: not a JSON line ({exc})") from None
                if not isinstance(rec, dict):
                    raise ArchiveError(f"{where}: a line holds a JSON object, not a {type(rec).__name__}")
                if archive is None:
                    archive = Archive(header=_header(where, rec))
                    continue
                kind = rec.get("record")
                if kind not in RECORDS:
                    raise ArchiveError(f"{where}: unknown record {kind!r} (known: {', '.join(RECORDS)})")
                try:
                    _add(archive, where, kind, rec)
                except ArchiveError:
                    raise
                except (InputError, KeyError, TypeError, AttributeError) as exc:
                    message = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
                    raise ArchiveError(f"{where}: {kind}: {message}") from None
                seen[kind] += 1
        except UnicodeDecodeError:
            raise ArchiveError(f"{path}:{lineno + 1}: not UTF-8 text") from None
    if archive is None:
        raise ArchiveError(f"{path}: empty file, not a {FORMAT}")
    expected = archive.header["counts"]
    written = {"entities": seen["entity"], "runs": seen["run"], "files": seen["file"],
               "invalidations": seen["invalidation"], "edges": seen["edge"]}
    for key, n in written.items():
        if expected.get(key) != n:
            raise ArchiveError(f"{path}: the header announces {expected.get(key)} {key}, the file holds {n}: "
                               "a truncated or edited archive")
    return archive


def _header(where: str, rec: dict) -> dict:
    if rec.get("format") != FORMAT:
        raise ArchiveError(f"{where}: not a {FORMAT} (the first line has format {rec.get('format')!r})")
    version = rec.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ArchiveError(f"{where}: archive version {version!r} is not a number")
    if version > VERSION:
        raise ArchiveError(f"{where}: archive version {version} is newer than this latteprov reads ({VERSION}); "
                           f"upgrade latteprov (written by latteprov {rec.get('latteprov')})")
    if not isinstance(rec.get("counts"), dict):
        raise ArchiveError(f"{where}: the header has no counts")
    return rec


def _add(archive: Archive, where: str, kind: str, rec: dict) -> None:
    batch = archive.batch
    if kind == "entity":
        batch.entities.append(_entity_row(where, rec))
    elif kind == "run":
        batch.runs.append(_run_row(rec))
    elif kind == "file":
        batch.files.append(_file_row(where, rec))
    elif kind == "invalidation":
        archive.invalidations.append(_invalidation(rec))
    elif rec["type"] == "INVALIDATED_BY":
        pass  # the event's root says it; written with the event
    else:
        batch.link(rec["from"], rec["to"], rec.get("role"), type=rec["type"])


@dataclass
class ImportResult:
    """What an import did: the writer's result, events recorded, entities marked invalid."""

    write: graph.WriteResult
    events_created: int = 0
    marked_invalid: int = 0

    @property
    def conflicts(self) -> list[str]:
        return self.write.conflicts


def _shown(value: Any) -> str:
    value = native(value)
    return repr(value.isoformat() if isinstance(value, datetime) else value)


def _merge_invalidations(tx: neo4j.ManagedTransaction, events: list[dict]) -> tuple[int, list[str], list[str]]:
    """Record the archive's events the graph lacks; return (created, conflicts, roots)."""
    if not events:
        return 0, [], []
    roots = sorted({e["props"]["root"] for e in events})
    record = queries.run(tx, "archive_existing_invalidations", uids=[e["uid"] for e in events],
                    roots=roots).single()
    found = {p["uid"]: p for p in record["found"]}
    conflicts, create = [], []
    carried = {e["uid"] for e in events}
    ours = [e for e in record["on_roots"] if e["uid"] not in carried]
    for event in events:
        props, label = event["props"], f"Invalidation {event['uid']}"
        if event["uid"] in found:
            recorded = found[event["uid"]]
            for key in INVALIDATION_KEYS:
                mine = native(recorded.get(key))
                given = event["at"] if key == "at" else props.get(key)
                if mine is not None and mine != given:
                    conflicts.append(f"{label}: {key} recorded {_shown(mine)}, given {_shown(given)} "
                                     "(the recorded value is kept)")
            continue
        if props["action"] == "revalidate":
            # A revalidation from elsewhere would revoke an invalidation this graph made of the
            # same root (the latest event on a root decides): keep ours, say so.
            revoked = [e for e in ours if e["action"] == "invalidate" and native(e["at"]) < event["at"]
                       and not any(r["action"] == "revalidate" and native(r["at"]) > native(e["at"]) for r in ours)]
            if revoked:
                conflicts.append(f"{label}: revalidation of {props['root']} not recorded: this graph's invalidation "
                                 f"{revoked[0]['uid']} of it holds (the recorded events are kept)")
                continue
        _, times = graph.split_times({"at": event["at"]})
        create.append({"props": props, "at": times["at"]})
    created = 0
    if create:
        created = queries.run(tx, "archive_create_invalidations", rows=create).single()["created"]
        if created != len(create):
            raise ArchiveError("an invalidation event names a root the archive does not hold")
    return created, conflicts, roots


def import_archive(store: Store, archive: Archive) -> ImportResult:
    """Merge ``archive`` into the graph in one transaction (see the module docstring)."""

    def work(tx: neo4j.ManagedTransaction) -> ImportResult:
        file_conflicts = files.keep_recorded(tx, archive.batch)
        written = graph.write_in_tx(tx, archive.batch)
        written.conflicts += file_conflicts
        created, conflicts, roots = _merge_invalidations(tx, archive.invalidations)
        written.conflicts += conflicts
        result = ImportResult(written, events_created=created)
        holding = [r["root"] for r in queries.run(tx, "active_invalidations") if r["root"] in set(roots)]
        if holding:
            tally.take_lock(tx)
            marked: dict = {}
            for rec in queries.run(tx, "invalidate_downstream", uids=holding):
                key = (rec["ensemble"], rec["kind"], "invalid")
                marked[key] = marked.get(key, 0) + rec["count"]
                result.marked_invalid += rec["count"]
            tally.add(tx, marked)
        return result

    return store.write_tx(work)
