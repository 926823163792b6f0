"""Rows of a write: entities, runs, data files and edges, and the batch that carries them.

Building a row types its properties (:func:`latteprov.model.coerce_props`: NaN, infinities and
integers beyond 64 bits refused) and computes its uid from the natural key
(:mod:`latteprov.identity`); :mod:`latteprov.graph` writes a :class:`GraphBatch` in one
transaction. Apart from the writer so that the checks and the lookups can use rows without
importing it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from latteprov import model
from latteprov.errors import InputError

# The link rules: what each relationship joins (source, target) and what it means.
LINK_RULES = {
    "DERIVED_FROM": ("Entity", "Entity", "a product derives from its inputs (wasDerivedFrom)"),
    "GENERATED_BY": ("Entity", "Run", "a product was made by a run (wasGeneratedBy)"),
    "USED": ("Run", "Entity", "a run used its inputs (used)"),
    "STORED_AT": ("Entity", "DataFile", "a product is stored in a file"),
}
EDGE_TYPES = tuple(LINK_RULES)
FILE_MUTABLE = ("size", "mtime", "checksum", "status", "checked_at", "expected_size", "shape", "dtype")


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def entity(kind: str, name: str | None = None, state: str | None = None, **props: Any) -> dict:
    """A row for one entity of class ``kind``: uid from its natural key, props typed."""
    cls = model.kind_class(kind)
    if not issubclass(cls, model.Entity) or not cls.natural_key:
        raise InputError(f"{kind} is not a concrete entity kind")
    if state is not None and state not in model.STATES:
        raise InputError(f"state {state!r} is not one of {', '.join(model.STATES)}")
    typed = model.coerce_props(cls, props)
    typed.update({k: v for k, v in model.natural_key_values(cls, typed).items() if v is not None})
    uid = cls.uid_for(typed)
    typed.update(uid=uid, kind=cls.__name__, name=name or typed.get("name") or uid)
    return {"uid": uid, "labels": model.labels_of(cls), "props": typed, "state": state}


def run_row(uid: str, *, kind: str = "job", name: str | None = None, command: str | None = None,
            code_version: str | None = None, host: str | None = None, user: str | None = None,
            job_id: str | None = None, params: dict | None = None, started_at: datetime | None = None,
            ended_at: datetime | None = None, exit_state: str = "running") -> dict:
    """A row for one run."""
    if exit_state not in model.STATES:
        raise InputError(f"exit state {exit_state!r} is not one of {', '.join(model.STATES)}")
    props = {"uid": uid, "name": name or f"{kind} {job_id or uid}", "run_kind": kind, "command": command,
             "code_version": code_version, "host": host, "user": user, "job_id": job_id,
             "params": json.dumps(params or {}, sort_keys=True, default=str), "started_at": started_at}
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
    """A row for one edge; DERIVED_FROM edges need a role."""
    if type not in EDGE_TYPES:
        raise InputError(f"unknown edge type {type!r}")
    if type == "DERIVED_FROM" and not role:
        raise InputError("a DERIVED_FROM edge needs a role")
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
