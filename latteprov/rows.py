"""Rows of a write: entities, runs, data files and edges, and the batch that carries them.

Building a row types its properties (:func:`latteprov.model.coerce_props`: NaN, infinities and
integers beyond 64 bits refused) and computes its uid from the natural key
(:mod:`latteprov.identity`); :mod:`latteprov.graph` writes a :class:`GraphBatch` in one
transaction. Apart from the writer so that the checks and the lookups can use rows without
importing it.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, NamedTuple

from latteprov import model
from latteprov.errors import InputError
from latteprov.identity import make_uid



class LinkRule(NamedTuple):
    """What one relationship type joins: source and target kinds (node labels), whether it
    carries a role (what the input is to the product: gauge, action, source, light ...), what it
    means (with its W3C PROV term), and whether batches of the write path carry it."""

    source: str
    target: str
    role: bool
    meaning: str
    recorded: bool = True


# The link rules, one table: the writer's edge rows and their error messages, the export and
# docs/architecture.md read it.
LINK_RULES = {
    "DERIVED_FROM": LinkRule("Entity", "Entity", True, "a product derives from its inputs (wasDerivedFrom)"),
    "GENERATED_BY": LinkRule("Entity", "Run", False, "a product was made by a run (wasGeneratedBy)"),
    "USED": LinkRule("Run", "Entity", False, "a run used its inputs (used)"),
    "STORED_AT": LinkRule("Entity", "DataFile", False, "a product is stored in a file"),
    "INVALIDATED_BY": LinkRule("Entity", "Invalidation", False,
                               "an invalidation event names its root (written by 'latteprov invalidate' only)",
                               recorded=False),
}
EDGE_TYPES = tuple(t for t, rule in LINK_RULES.items() if rule.recorded)  # what a batch may carry
FILE_MUTABLE = ("size", "mtime", "checksum", "status", "checked_at", "expected_size", "shape", "dtype")


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


# Kept by the write path, never given: a row that sets them is refused.
DERIVED_PROPS = frozenset({"uid", "kind", "valid", "file_statuses", "search_name", "created_at"})


def entity(kind: str, name: str | None = None, state: str | None = None, **props: Any) -> dict:
    """A row for one entity of class ``kind``: uid from its natural key, props typed. InputError
    for an unknown kind or property, a bad value, or a property the write path keeps itself
    (:data:`DERIVED_PROPS`: validity follows invalidations, file statuses the files)."""
    return entity_row(kind, name, props, state)


def entity_row(kind: str, name: str | None, props: dict[str, Any], state: str | None = None) -> dict:
    """:func:`entity` with the properties as one dict (not copied: the row holds typed copies)."""
    if not DERIVED_PROPS.isdisjoint(props):
        kept = sorted(DERIVED_PROPS & props.keys())
        raise InputError(f"{kind}: {', '.join(kept)} {'is' if len(kept) == 1 else 'are'} kept by latteprov, not given "
                         "(validity follows invalidations, file statuses the files, the uid the natural key)")
    cls, class_name, labels, defaults = _entity_kind(kind)
    if state is not None and state not in model.STATES:
        raise InputError(f"state {state!r} is not one of {', '.join(model.STATES)}")
    typed = model.coerce_props(cls, props)
    key = {}
    for prop, default in defaults:  # model.natural_key_values, inlined
        value = typed.get(prop)
        if value is None and default is not None:
            value = default.default_value()
            if value is not None:
                typed[prop] = value
        key[prop] = value
    if all(value is None for value in key.values()):
        raise InputError(f"{class_name} needs {', '.join(cls.natural_key)} to be identified")
    uid = make_uid(class_name, key)  # Entity.uid_for, without computing the key twice
    typed["uid"] = uid
    typed["kind"] = class_name
    typed["name"] = name or typed.get("name") or uid
    return {"uid": uid, "labels": list(labels), "props": typed, "state": state}


@lru_cache(maxsize=None)
def _entity_kind(kind: str) -> tuple[type, str, tuple[str, ...], tuple[tuple[str, Any], ...]]:
    """The class, its name, its labels and its natural key's defaults (:func:`model.key_defaults`)
    for a concrete entity kind (InputError otherwise)."""
    cls = model.kind_class(kind)
    if not issubclass(cls, model.Entity) or not cls.natural_key:
        raise InputError(f"{kind} is not a concrete entity kind")
    if cls.uid_for.__func__ is not model.Entity.uid_for.__func__:  # pragma: no cover - no such kind today
        raise InputError(f"{kind}: its own uid_for is not supported by rows.entity")
    return cls, cls.__name__, tuple(model.labels_of(cls)), model.key_defaults(cls)


def utc_text(at: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 in UTC (the same instant always gives the same text)."""
    return at.astimezone(timezone.utc).isoformat() if at is not None else None


def run_uid(*, host: str | None, job_id: str | int | None, started_at: datetime | None, kind: str | None = None,
            command: str | None = None, outputs: list[str] | tuple[str, ...] = ()) -> str:
    """The uid of a run that was given none: its natural key.

    With a job id: host + job id + start instant in UTC (a batch system reuses job ids over the
    years, and METAQ runs many tasks inside one job, so the job id alone names no run). Without
    one: kind, command, host, start instant and the uids of its outputs. Either way the spelling
    of the start time does not matter (``06:00:00Z`` and ``01:00:00-05:00`` are one instant).
    """
    start = utc_text(started_at)
    if job_id is not None and str(job_id) != "":
        return make_uid("Run", {"host": host, "job_id": str(job_id), "started_at": start})
    return make_uid("Run", {"kind": kind, "command": command, "host": host, "started_at": start,
                            "outputs": sorted(outputs)})


def run_times_problem(state: str | None, started: Any, ended: Any) -> str | None:
    """What is wrong with a run's times, or None: an end time goes with an ended state (done or
    failed) and not before the start. The one statement of the rule: rows, the checks of any
    batch (spools included) and the merge of records given apart all ask it."""
    if ended is not None and state is not None and state not in model.ENDED_STATES:
        return (f"an end time ({ended.isoformat()}) goes with exit state {' or '.join(model.ENDED_STATES)}, "
                f"not {state}")
    if isinstance(ended, datetime) and isinstance(started, datetime) and ended < started:
        return f"ends ({ended.isoformat()}) before it starts ({started.isoformat()})"
    return None


def json_value(value: Any, where: str) -> Any:
    """``value`` (a run's parameters: dicts, lists, numbers, text) checked as props are: NaN and
    infinities refused, integers beyond 64 bits refused, -0.0 made 0.0; InputError naming
    ``where`` (e.g. ``params.tolerance``) otherwise."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{where}: {value!r} is not a finite number")
        return value + 0.0
    if isinstance(value, int):
        if not model.INT64_MIN <= value <= model.INT64_MAX:
            raise InputError(f"{where}: {value!r} is beyond 64-bit integers")
        return value
    if isinstance(value, dict):
        return {str(k): json_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return str(value)


def run_row(uid: str, *, kind: str = "job", name: str | None = None, command: str | None = None,
            code_version: str | None = None, host: str | None = None, user: str | None = None,
            job_id: str | None = None, params: dict | None = None, started_at: datetime | None = None,
            ended_at: datetime | None = None, exit_state: str = "running") -> dict:
    """A row for one run. An end time goes with an ended state (done or failed) and not before
    the start; parameters are checked like properties (:func:`json_value`). InputError otherwise."""
    label = f"Run {name or uid}"
    if exit_state not in model.STATES:
        raise InputError(f"{label}: exit state {exit_state!r} is not one of {', '.join(model.STATES)}")
    problem = run_times_problem(exit_state, started_at, ended_at)
    if problem:
        raise InputError(f"{label}: {problem}")
    params = json_value(params or {}, "params")
    props = {"uid": uid, "name": name or f"{kind} {job_id or uid}", "run_kind": kind, "command": command,
             "code_version": code_version, "host": host, "user": user, "job_id": job_id,
             "params": json.dumps(params, sort_keys=True), "started_at": started_at}
    mutable = {"ended_at": ended_at, "exit_state": exit_state}
    return {"uid": uid, "props": {k: v for k, v in props.items() if v is not None},
            "mutable": {k: v for k, v in mutable.items() if v is not None}}


def file_row(path: str, *, host: str = "", dataset: str = "", **props: Any) -> dict:
    """A row for one data file (or a dataset inside an HDF5 file)."""
    typed = model.coerce_props(model.DataFile, {"path": path, "host": host, "dataset": dataset, **props})
    uid = model.DataFile.uid_for(typed)
    typed.setdefault("name", os.path.basename(path.rstrip("/")) + (f":{dataset}" if dataset else ""))
    typed["uid"] = uid
    mutable = {k: typed.pop(k) for k in FILE_MUTABLE if k in typed}
    typed["status"] = "unknown"  # on creation only; a status in ``mutable`` overrides it
    return {"uid": uid, "props": typed, "mutable": mutable}


def edge(frm: str, to: str, role: str | None = None, type: str = "DERIVED_FROM") -> dict:
    """A row for one edge of a recorded type (:data:`EDGE_TYPES`), with a role exactly where
    its link rule has one (DERIVED_FROM); InputError otherwise."""
    if type not in EDGE_TYPES:
        raise InputError(f"unknown edge type {type!r} (a batch carries {', '.join(EDGE_TYPES)})")
    rule = LINK_RULES[type]
    if rule.role and not role:
        raise InputError(f"a {type} edge needs a role (what the input is to the product: gauge, action, source ...)")
    if not rule.role and role:
        raise InputError(f"a {type} edge has no role ({rule.meaning}), but {role!r} was given")
    return {"from": frm, "to": to, "type": type, "role": role}


@dataclass
class GraphBatch:
    """Rows to write together in one transaction."""

    entities: list[dict] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    edges: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entities) + len(self.runs) + len(self.files) + len(self.edges)

    def add(self, kind: str, name: str | None = None, state: str | None = None, **props: Any) -> str:
        """Add an entity; return its uid."""
        row = entity(kind, name=name, state=state, **props)
        self.entities.append(row)
        return row["uid"]

    def add_file(self, product_uid: str | None, path: str, **props: Any) -> str:
        """Add a data file and, with a product uid, its STORED_AT edge; return the file uid."""
        row = file_row(path, **props)
        self.files.append(row)
        if product_uid:
            self.edges.append(edge(product_uid, row["uid"], type="STORED_AT"))
        return row["uid"]

    def link(self, frm: str, to: str, role: str | None = None, type: str = "DERIVED_FROM") -> None:
        """Add an edge."""
        self.edges.append(edge(frm, to, role, type))

    def extend(self, other: "GraphBatch") -> None:
        self.entities += other.entities
        self.runs += other.runs
        self.files += other.files
        self.edges += other.edges
