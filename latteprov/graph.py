"""Building and writing graph batches: entities, runs, files and edges in one transaction.

Every write path (recording, ingest, sync, the synthetic campaigns) funnels through
:func:`write`: one managed transaction per :class:`GraphBatch`, ``UNWIND`` per row type,
MERGE on uids behind uniqueness constraints, then a cycle check on the new DERIVED_FROM
edges; a batch that breaks a consistency rule (:mod:`latteprov.checks`, checked before the
first write), would close a cycle or names an unknown uid is rolled back whole.
"""
from __future__ import annotations

import calendar
import json
import queue
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import neo4j

from latteprov import checks, model, queries, tally
from latteprov.checks import CycleError  # noqa: F401 (raised here too; callers catch graph.CycleError)
from latteprov.errors import InputError
from latteprov.identity import is_uid, make_uid
from latteprov.lookup import resolve
from latteprov.rows import LINK_RULES, FILE_MUTABLE, GraphBatch, edge, entity, file_row, now, run_row, run_uid  # noqa: F401 (the writer's rows)
from latteprov.rows import run_times_problem
from latteprov.store import Store, StoreError

# Edge type -> (query that MERGEs it, query that CREATEs it when an endpoint is new).
EDGE_QUERIES = {
    "DERIVED_FROM": ("merge_derived_from", "create_derived_from"),
    "GENERATED_BY": ("merge_generated_by", "create_generated_by"),
    "USED": ("merge_used", "create_used"),
    "STORED_AT": ("merge_stored_at", "create_stored_at"),
}


class GraphError(InputError):
    """A batch was refused: it would close a cycle, or names something unknown."""


class RacingCreate(neo4j.exceptions.DriverError, StoreError):
    """Another transaction created a node this batch was about to create: the driver's managed
    transaction rolls the batch back and runs it again (it then finds the node and matches it).
    Should a constraint keep refusing it, the user gets this one line after the retries."""

    def is_retryable(self) -> bool:
        return True


@dataclass
class WriteResult:
    """What a write did."""

    entities_created: int = 0
    entities_matched: int = 0
    edges_written: int = 0
    conflicts: list[str] = field(default_factory=list)

    def __iadd__(self, other: "WriteResult") -> "WriteResult":
        self.entities_created += other.entities_created
        self.entities_matched += other.entities_matched
        self.edges_written += other.edges_written
        self.conflicts += other.conflicts
        return self


def _dedupe(rows: list[dict], key: Any) -> list[dict]:
    seen: dict[Any, dict] = {}
    for row in rows:
        seen.setdefault(key(row), row)
    return list(seen.values())


def _create(tx: neo4j.ManagedTransaction, name: str, **params: Any) -> None:
    """Run one of the CREATE statements; a uid created meanwhile by another transaction
    (the uniqueness constraint refuses ours) makes the driver retry the whole batch."""
    try:
        queries.run(tx, name, **params).consume()
    except neo4j.exceptions.ConstraintError as exc:
        raise RacingCreate(f"{name} refused by a uniqueness constraint: {exc.message}") from exc


def _merged_entities(rows: list[dict], conflicts: list[str]) -> list[dict]:
    """Entities by uid, as recording the rows one after the other would leave them: the first
    row's properties with what later rows add (a differing value is kept as first given and
    reported in ``conflicts``), and the furthest state any row names (states only move forward)."""
    merged: dict[str, dict] = {}
    rank = lambda state: model.STATE_RANK.get(state, -1)  # noqa: E731
    for row in rows:
        first = merged.get(row["uid"])
        if first is None:
            merged[row["uid"]] = {**row, "props": dict(row["props"])}
            continue
        for key, value in row["props"].items():
            if key not in first["props"]:
                first["props"][key] = value
            elif key != "name" and first["props"][key] != value:
                conflicts.append(f"{first['props'].get('kind')} {first['props'].get('name')}: {key} given "
                                 f"{_shown(first['props'][key])} and {_shown(value)} (the first is kept)")
        if rank(row.get("state")) > rank(first.get("state")):
            first["state"] = row["state"]
    return list(merged.values())


def _merged_runs(runs: list[dict], conflicts: list[str] | None = None) -> list[dict]:
    """Runs by uid, as recording the rows one after the other would leave them: the first row's
    properties with what later rows add (parameters key by key; a differing value is kept as
    first given and reported in ``conflicts``), and the end time and exit state of the furthest
    state any row reached (states only move forward, see merge_runs)."""
    merged: dict[str, dict] = {}
    rank = lambda mutable: model.STATE_RANK.get(mutable.get("exit_state"), -1)  # noqa: E731
    for row in runs:
        if row["uid"] not in merged:
            merged[row["uid"]] = {**row, "props": dict(row["props"]), "mutable": dict(row["mutable"])}
            continue
        first = merged[row["uid"]]
        add, found = _run_merge(row, first["props"], given_twice=True)
        _run_end(row, first["props"], first["mutable"], found, "given", "(the first is kept)")
        first["props"].update(add)
        if conflicts is not None:
            conflicts += found
        if rank(row["mutable"]) > rank(first["mutable"]):
            first["mutable"] = dict(row["mutable"])
    return list(merged.values())


def _run_end(row: dict, recorded: dict, recorded_mutable: dict, conflicts: list[str], was: str, kept: str) -> None:
    """The end of a run recorded again: a different end time for the same final state is a
    conflict (the first is kept); a start and an end from different records must agree
    (:func:`latteprov.rows.run_times_problem`, InputError otherwise)."""
    rank = lambda state: model.STATE_RANK.get(state, -1)  # noqa: E731
    old_state, new_state = recorded_mutable.get("exit_state"), row["mutable"].get("exit_state")
    old_end, new_end = _native(recorded_mutable.get("ended_at")), row["mutable"].get("ended_at")
    moves = rank(new_state) > rank(old_state)
    label = f"Run {recorded.get('name') or row['uid']}"
    if not moves and new_state == old_state and old_end is not None and new_end is not None and old_end != new_end:
        conflicts.append(f"{label}: ended_at {was} {_shown(old_end)}, given {_shown(new_end)} {kept}")
    started = _native(recorded.get("started_at")) or row["props"].get("started_at")
    problem = run_times_problem(None, started, new_end if moves else old_end)
    if problem:
        raise InputError(f"{label}: {problem}")


def _native(value: Any) -> Any:
    """A value read from Neo4j as Python would have given it (temporal values to datetime)."""
    return value.to_native() if hasattr(value, "to_native") else value


def _shown(value: Any) -> str:
    return repr(value.isoformat() if isinstance(value, datetime) else value)


def _run_merge(row: dict, recorded: dict, given_twice: bool = False) -> tuple[dict, list[str]]:
    """What recording ``row`` again adds to the run whose properties are ``recorded``: the
    properties it lacks (parameters key by key), and one conflict line per property (or
    parameter) recorded with another value, which is kept. Times compare as instants; the
    name is a label, the first one stays. (``given_twice``: both are rows of one batch.)"""
    add: dict = {}
    conflicts: list[str] = []
    label = f"Run {recorded.get('name') or row['uid']}"
    was, kept_note = ("given", "(the first is kept)") if given_twice else ("recorded", "(the recorded value is kept)")
    for key, value in row["props"].items():
        if key in ("uid", "name"):
            continue
        old = _native(recorded.get(key))
        if old is None:
            add[key] = value
        elif key == "params" and old != value:
            kept, given = json.loads(old), json.loads(value)
            for k in sorted(given):
                if k not in kept:
                    kept[k] = given[k]
                elif kept[k] != given[k]:
                    conflicts.append(f"{label}: params.{k} {was} {kept[k]!r}, given {given[k]!r} {kept_note}")
            merged = json.dumps(kept, sort_keys=True)
            if merged != old:
                add[key] = merged
        elif old != value:
            conflicts.append(f"{label}: {key} {was} {_shown(old)}, given {_shown(value)} {kept_note}")
    return add, conflicts


def _zone(tz: Any, at: datetime) -> str:
    """The zone of an aware datetime as Cypher's datetime() takes it: a named zone as the driver
    would send it, else the UTC offset ('Z' for UTC)."""
    name = getattr(tz, "key", None) or getattr(tz, "zone", None)
    if isinstance(name, str) and name:
        return name
    offset = at.utcoffset()
    seconds = int(offset.total_seconds()) if offset else 0
    if not seconds:
        return "Z"
    sign, seconds = ("-", -seconds) if seconds < 0 else ("+", seconds)
    text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    return text + f":{seconds % 60:02d}" if seconds % 60 else text


def split_times(values: dict) -> tuple[dict, dict]:
    """``values`` without its timezone-aware datetimes, and those datetimes as [epoch seconds,
    nanosecond, zone], which the write queries turn back into DateTime values on the server.
    The driver packs each Python datetime through ~50 us of pure-Python arithmetic; in a bulk
    load that was a third of the client's CPU (docs/performance.md), these are three scalars."""
    if not any(isinstance(v, datetime) for v in values.values()):
        return values, {}
    plain, times = {}, {}
    for key, value in values.items():
        if isinstance(value, datetime) and value.tzinfo is not None:
            times[key] = [calendar.timegm(value.utctimetuple()), value.microsecond * 1000, _zone(value.tzinfo, value)]
        else:
            plain[key] = value
    return plain, times


def _wired(row: dict) -> dict:
    """A run or file row as the create_* and merge_* queries take it: datetimes split out.
    (Besides its cost, the driver's packing of a datetime whose tzinfo is a ``ZoneInfo`` fails
    or even crashes the interpreter: it hands ``ZoneInfo.utcoffset`` its own DateTime type.)"""
    props, times = split_times(row["props"])
    mutable, mtimes = split_times(row["mutable"])
    return {"uid": row["uid"], "props": props, "times": times, "mutable": mutable, "mtimes": mtimes}


def write_in_tx(tx: neo4j.ManagedTransaction, batch: GraphBatch) -> WriteResult:
    """Write ``batch`` inside an open transaction (callers compose it with other work)."""
    checks.check_in_tx(tx, batch)
    result = WriteResult()
    derived = _dedupe([e for e in batch.edges if e["type"] == "DERIVED_FROM"],
                      lambda e: (e["from"], e["to"], e["role"]))
    if derived:
        queries.run(tx, "take_dag_lock").consume()
    entities = _merged_entities(batch.entities, result.conflicts)
    runs = _merged_runs(batch.runs, result.conflicts)
    files = _dedupe(batch.files, lambda r: r["uid"])
    edges = {type_: derived if type_ == "DERIVED_FROM" else _dedupe(
        [e for e in batch.edges if e["type"] == type_], lambda e: (e["from"], e["to"], e["role"]))
        for type_ in EDGE_QUERIES}
    stored_at = edges["STORED_AT"]
    counted = bool(entities or files or stored_at)
    if counted:  # after the DAG lock, and before reading what exists: no counted writer runs meanwhile
        tally.take_lock(tx)
    # Which nodes exist already: the others are created with CREATE (cheaper than MERGE, and
    # edges touching them need no MERGE either: no transaction but this one can see them).
    file_uids = {row["uid"] for row in files} | {e["to"] for e in stored_at}
    existing = queries.run(tx, "existing_uids", entities=[row["uid"] for row in entities],
                   runs=[row["uid"] for row in runs], files=sorted(file_uids)).single()
    old_entities = set(existing["entities"])
    recorded_runs = {r["uid"]: r["props"] for r in existing["runs"]}
    old_runs = set(recorded_runs)
    file_status = {f["uid"]: f["status"] for f in existing["files"]}
    new_files = {row["uid"] for row in files} - file_status.keys()
    for row in files:  # the status each file has once merge_files/create_files ran
        status = row["mutable"].get("status", file_status.get(row["uid"], row["props"].get("status")))
        file_status[row["uid"]] = status
    created = {row["uid"] for row in entities} - old_entities
    new_runs = {row["uid"] for row in runs} - old_runs
    # What the tallies must follow: entities that exist already, sources of STORED_AT edges
    # among them, and the products stored at files that exist already (a new file's products
    # are all sources of this batch's STORED_AT edges). New entities are counted from the
    # properties they are created with (read back, they would only cost a second lookup), so
    # the snapshots skip those that become reachable through an old file.
    # Validity whatever the order: new products of invalid inputs are created invalid, and an
    # existing product that gains an invalid input is marked with everything downstream of it.
    inherited, marked = _invalid_closure(tx, derived, created, locked=counted)
    counted = counted or bool(marked)
    tracked = tally.Tracker(tx, [u for u in (*(row["uid"] for row in entities), *(e["from"] for e in stored_at))
                                 if u not in created],
                            [u for u in (row["uid"] for row in files) if u not in new_files], locked=counted,
                            skip={e["from"] for e in stored_at if e["from"] in created and e["to"] not in new_files})

    # A new product's file_statuses come from the batch (all its STORED_AT edges are in it).
    statuses: dict[str, list[str]] = {}
    for e in stored_at:
        if e["from"] in created and file_status.get(e["to"]) is not None:
            statuses.setdefault(e["from"], []).append(file_status[e["to"]])
    by_labels: dict[tuple[str, ...], list[dict]] = {}
    matched = []
    for row in entities:
        if row["uid"] in created:
            props = {**row["props"], "valid": row["uid"] not in inherited, "state": row["state"] or "done"}
            if row["uid"] in statuses:
                props["file_statuses"] = statuses[row["uid"]]
            by_labels.setdefault(tuple(row["labels"]), []).append({"props": props})
        else:
            matched.append({"uid": row["uid"], "props": row["props"], "state": row["state"]})
    for labels, rows in by_labels.items():
        _create(tx, "create_entities", labels=list(labels), rows=rows)
    given = {row["uid"]: row["props"] for row in matched}
    for rec in queries.run(tx, "match_entities", rows=matched, rank=model.STATE_RANK) if matched else ():
        for c in rec["conflicts"]:
            old, new = _native(c["recorded"]), given[rec["uid"]][c["key"]]
            if old != new:  # Cypher's datetime equality also compares zones; an instant is an instant
                result.conflicts.append(f"{rec['kind']} {rec['name']}: {c['key']} recorded {_shown(old)}, "
                                        f"given {_shown(new)} (the recorded value is kept)")
    result.entities_created, result.entities_matched = len(created), len(matched)

    if new_runs:
        _create(tx, "create_runs", rows=[_wired(row) for row in runs if row["uid"] in new_runs])
    if len(runs) > len(new_runs):
        rows = []
        for row in runs:
            if row["uid"] in new_runs:
                continue
            recorded = recorded_runs[row["uid"]]
            add, conflicts = _run_merge(row, recorded)
            _run_end(row, recorded, recorded, conflicts, "recorded", "(the recorded value is kept)")
            result.conflicts += conflicts
            rows.append(_wired({**row, "props": add}))
        queries.run(tx, "merge_runs", rank=model.STATE_RANK, rows=rows).consume()
    if new_files:
        _create(tx, "create_files", rows=[_wired(row) for row in files if row["uid"] in new_files])
    if len(files) > len(new_files):
        queries.run(tx, "merge_files", rows=[_wired(row) for row in files if row["uid"] not in new_files]).consume()

    new = created | new_runs
    for type_, (merge_name, create_name) in EDGE_QUERIES.items():
        rows = edges[type_]
        if not rows:
            continue
        # STORED_AT to an old product refreshes its file_statuses, which only the MERGE does.
        fresh = (lambda e: e["from"] in created) if type_ == "STORED_AT" else \
            (lambda e: e["from"] in new or e["to"] in new)
        done = 0
        for name, part in ((create_name, [e for e in rows if fresh(e)]),
                           (merge_name, [e for e in rows if not fresh(e)])):
            if part:
                done += queries.run(tx, name, rows=part).single()["matched"]
        if done != len(rows):
            raise GraphError(_broken_link(tx, type_, rows, batch))
        result.edges_written += done
    if derived:
        # Only edges whose source existed before this transaction can close a cycle through
        # committed edges (docs/architecture.md, "No cycles"); the others are checked in Python.
        old_sources = [e for e in derived if e["from"] not in created]
        cycle = None  # a cycle within the batch was refused by the checks, before any write
        if old_sources:
            found = queries.run(tx, "find_cycles", rows=[{"from": e["from"], "to": e["to"]} for e in old_sources]).single()
            cycle = found["cycle"] if found is not None else None
        if cycle is not None:
            raise CycleError("edge would close a cycle: " + " -> ".join(cycle))
    created_counts = tally.new_entities(r["props"] for rows in by_labels.values() for r in rows)
    tracked.settle(created_counts + marked)
    return result


def _broken_link(tx: neo4j.ManagedTransaction, type_: str, rows: list[dict], batch: GraphBatch) -> str:
    """Why some ``type_`` edges of a batch joined nothing: the first edge naming an unknown node
    or breaking the link rule (:data:`latteprov.rows.LINK_RULES`), by name and kind."""
    source, target, _, meaning, _ = LINK_RULES[type_]
    uids = sorted({e["from"] for e in rows} | {e["to"] for e in rows})
    kinds = {k["uid"]: k for k in queries.run(tx, "node_kinds", uids=uids).single()["kinds"]}
    names = {row["uid"]: f"{row['props'].get('kind', '')} {row['props'].get('name')}".strip()
             for row in (*batch.entities, *batch.runs, *batch.files)}
    missing = [u for u in uids if kinds[u]["is"] is None]
    if missing:
        return (f"{type_} edge names unknown node(s): {', '.join(missing[:5])}"
                + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""))
    for e in rows:
        for end, wanted in (("from", source), ("to", target)):
            found = kinds[e[end]]
            if found["is"] != wanted:
                label = names.get(e[end]) or found["name"] or e[end]
                return (f"{type_} edge {'from' if end == 'from' else 'to'} {label} ({e[end]}), a {found['is']}: "
                        f"{type_} joins {source} -> {target} ({meaning})")
    return f"{type_} edges joined fewer nodes than given"


def _inherited_invalidity(tx: neo4j.ManagedTransaction, derived: list[dict], created: set[str]) -> set[str]:
    """The new entities of a batch that derive, directly or through other new ones, from an
    invalid entity: they are created invalid (an invalidation covers everything downstream of
    its root, whenever that was recorded)."""
    edges = [e for e in derived if e["from"] in created]
    old_inputs = sorted({e["to"] for e in edges if e["to"] not in created})
    if not old_inputs:
        return set()
    invalid = set(queries.run(tx, "invalid_entities", uids=old_inputs).single()["invalid"])
    grew = bool(invalid)
    while grew:  # new products of new products: to the fixpoint (the batch is a DAG)
        before = len(invalid)
        invalid.update(e["from"] for e in edges if e["to"] in invalid)
        grew = len(invalid) > before
    return invalid & created


def _invalid_closure(tx: neo4j.ManagedTransaction, derived: list[dict], created: set[str],
                     locked: bool) -> tuple[set[str], Counter]:
    """Validity of a batch's derivations, to the fixpoint: the new entities to create invalid
    (:func:`_inherited_invalidity`), after marking invalid, in the graph, every existing entity
    that gains a DERIVED_FROM edge to an invalid input (old, or new and invalid) together with
    everything derived from it. Returns the new invalid entities and the tally counts of what
    was marked ({(ensemble, kind, 'invalid'): n}); takes the tally lock before marking unless
    ``locked``."""
    marked: Counter = Counter()
    done: set[str] = set()
    while True:
        inherited = _inherited_invalidity(tx, derived, created)
        edges = [e for e in derived if e["from"] not in created and e["from"] not in done]
        if not edges:
            return inherited, marked
        asked = sorted({e["to"] for e in edges if e["to"] not in created} | {e["from"] for e in edges})
        invalid = set(queries.run(tx, "invalid_entities", uids=asked).single()["invalid"])
        roots = sorted({e["from"] for e in edges if e["from"] not in invalid
                        and (e["to"] in invalid or e["to"] in inherited)})
        done.update(invalid & {e["from"] for e in edges}, roots)
        if not roots:
            return inherited, marked
        if not locked:
            tally.take_lock(tx)
            locked = True
        for rec in queries.run(tx, "invalidate_downstream", uids=roots):
            marked[(rec["ensemble"], rec["kind"], "invalid")] += rec["count"]


def write(store: Store, batch: GraphBatch) -> WriteResult:
    """Write one batch in one managed transaction (all or nothing)."""
    if not len(batch):
        return WriteResult()
    return store.write_tx(lambda tx: write_in_tx(tx, batch))


class Writer:
    """Writes batches in order, one transaction each, in a thread of its own, so the next batch
    is built while the server commits this one (Python holds one core, Neo4j the other).

    After a failed batch nothing more is written (later batches may name its nodes); the error
    is raised to the producer at its next :meth:`put` or on leaving the ``with`` block. When the
    producer fails, the batch being written is finished and the queued ones are dropped.
    ``result`` totals what was written.
    """

    def __init__(self, store: Store, depth: int = 2) -> None:
        self.store = store
        self.result = WriteResult()
        self.error: BaseException | None = None
        self._abandoned = False
        self._queue: queue.Queue[GraphBatch | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="latteprov-writer", daemon=True)

    def __enter__(self) -> "Writer":
        self._thread.start()
        return self

    def __exit__(self, exc_type: type | None, *exc: object) -> None:
        self._abandoned = exc_type is not None
        self._queue.put(None)
        self._thread.join()
        if exc_type is None and self.error is not None:
            raise self.error

    def put(self, batch: GraphBatch) -> None:
        """Queue a batch (waits while ``depth`` batches are queued)."""
        if self.error is not None:
            raise self.error
        self._queue.put(batch)

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self.error is not None or self._abandoned:
                continue  # drain without writing
            try:
                self.result += write(self.store, batch)
            except BaseException as exc:  # handed to the producing thread, which reports it
                self.error = exc


def resolve_names(batch: GraphBatch, store: Store | None = None) -> list[str]:
    """Replace edge endpoints given as names by uids, from the batch's own entities first, then
    from the graph (when ``store`` is given); return the names left unresolved."""
    local = {row["props"].get("name"): row["uid"] for row in batch.entities}
    local.update({row["props"].get("name"): row["uid"] for row in batch.runs})
    local.update({row["uid"]: row["uid"] for row in (*batch.entities, *batch.runs, *batch.files)})
    found: dict[str, str] = {}
    for e in batch.edges:
        for end in ("from", "to"):
            ref = e[end]
            if is_uid(ref):
                continue
            if ref not in found and ref in local:
                found[ref] = local[ref]
            elif ref not in found and store is not None:
                found[ref] = resolve(store, ref)
            if ref in found:
                e[end] = found[ref]
    return sorted({e[end] for e in batch.edges for end in ("from", "to") if not is_uid(e[end])})


def file_uid(path: str, host: str = "", dataset: str = "") -> str:
    """The uid of a data file, without building its row."""
    return make_uid("DataFile", {"host": host or "", "path": path, "dataset": dataset or ""})
