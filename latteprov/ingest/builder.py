"""Turning matched fields into graph rows: a node, its implied inputs, their DERIVED_FROM edges.

A :class:`Builder` instantiates node specs of the conventions into a :class:`GraphBatch`.
It remembers what it has built (keyed on the fields each spec depends on), so the shared
inputs of many names (ensemble, actions, configurations) are built and emitted once, and it
defers group inputs ("every propagator of this configuration ingested together") until all
names are known.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from latteprov import rows
from latteprov.rows import GraphBatch
from latteprov.ingest.conventions import Conventions, InputSpec, NodeSpec, filled_fields as _filled, spec_props as _props


def derived_key(step: str, input_uids: Iterable[str], params: dict | None = None) -> str:
    """The ``inputs_key`` of a DerivedDataset: a digest of its step, sorted input uids and params."""
    text = json.dumps({"step": step, "inputs": sorted(input_uids), "params": params or {}},
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _key_sources(spec: NodeSpec) -> tuple[str, ...] | None:
    """For each field of ``spec.uses``, the input field its value is read from; None when a
    rename reads another rename (then only :func:`_filled` gives the values)."""
    if any(source in spec.fields for source in spec.fields.values()):
        return None
    # ``uses`` leaves out the ``set`` fields, so a used field is either renamed or read as is.
    return tuple(spec.fields.get(u, u) for u in spec.uses)


class _Raw(dict):
    """Field text for name formats (``str.format_map``): as written where known (the dict's
    own items, looked up in C), else the value itself."""

    __slots__ = ("fields",)

    def __init__(self, raw: dict[str, str], fields: dict[str, Any]) -> None:
        super().__init__(raw)
        self.fields = fields

    def __missing__(self, key: str) -> str:
        value = self.fields.get(key)
        if value is None:
            raise KeyError(key)
        return str(value)


@dataclass
class _Pending:
    """A group input to resolve once every name is known."""

    uid: str
    spec: NodeSpec
    inp: InputSpec
    fields: dict[str, Any]
    raw: dict[str, str]


class Builder:
    """Builds nodes of one set of conventions into batches, each node and edge once."""

    def __init__(self, conventions: Conventions) -> None:
        self.conventions = conventions
        self.batch = GraphBatch()
        self._cache: dict[tuple, str] = {}
        self._key_sources: dict[str, tuple[str, ...] | None] = {}
        self._emitted: set[str] = set()
        self._pending: list[_Pending] = []
        # spec key -> group fields -> values -> uids: the members group inputs look for.
        self._grouped: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        for spec in conventions.nodes.values():
            for inp in spec.inputs:
                if inp.group:
                    self._grouped[inp.node].add(inp.group)
        self._members: dict[tuple[str, tuple[str, ...]], dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))

    def take(self) -> GraphBatch:
        """The rows built since the last take (the caller writes them before building on)."""
        batch, self.batch = self.batch, GraphBatch()
        return batch

    def build(self, spec: NodeSpec, fields: dict[str, Any], raw: dict[str, str] | None = None,
              extra_inputs: Iterable[tuple[str, str]] = (), params: dict | None = None) -> str:
        """The uid of the node ``spec`` means with these fields, building it and its inputs."""
        extra_inputs = tuple(extra_inputs) if extra_inputs else ()
        sources = self._key_sources.get(spec.key, False)
        if sources is False:
            sources = self._key_sources[spec.key] = _key_sources(spec)
        # Most calls are for inputs built before (the ensemble, actions and configuration of
        # every propagator): look them up without copying the fields first.
        if sources is not None:
            values = tuple(map(fields.get, sources))
        else:
            values = tuple(map(_filled(spec, fields).get, spec.uses))
        key = (spec.key, values, extra_inputs)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        f = _filled(spec, fields) if spec.set or spec.fields else dict(fields)
        if not raw:
            raw = {}
        elif spec.set or spec.fields:  # a fixed or renamed field is not the text the name wrote
            raw = {k: v for k, v in raw.items() if k not in spec.set and k not in spec.fields}
        links: list[tuple[str, str]] = list(extra_inputs)
        groups: list[InputSpec] = []
        nodes = self.conventions.nodes
        for inp in spec.inputs:
            if inp.requires and any(f.get(r) is None for r in inp.requires):
                continue
            if inp.group:
                groups.append(inp)
            else:
                links.append((self.build(nodes[inp.node], f, raw), inp.role))
        props = _props(spec, f)
        name = self._name(spec, raw, f)
        if spec.key_inputs:
            keyed_params = dict(params or {})
            if groups:  # group members are not known yet: the name stands for them
                keyed_params["of"] = name
            props["inputs_key"] = derived_key(props["step"], [u for u, _ in links], keyed_params)
        if spec.step and params:
            props["params"] = json.dumps(params, sort_keys=True, default=str)
        row = rows.entity_row(spec.kind, name, props)
        uid = row["uid"]
        if uid not in self._emitted:
            self._emitted.add(uid)
            self.batch.entities.append(row)
            edges = self.batch.edges
            for to, role in links:
                # rows.edge's checks, known to hold: DERIVED_FROM with the role of a declared input
                edges.append({"from": uid, "to": to, "type": "DERIVED_FROM", "role": role}
                             if role else rows.edge(uid, to, role))
            if groups:
                self._pending += [_Pending(uid, spec, inp, f, raw) for inp in groups]
        grouped = self._grouped.get(spec.key)
        if grouped:
            for group in grouped:
                self._members[(spec.key, group)][tuple(map(f.get, group))].append(uid)
        self._cache[key] = uid
        return uid

    def resolve_groups(self) -> int:
        """Link every pending group input to its members (or imply one); the number of edges."""
        edges = 0
        pending, self._pending = self._pending, []
        for p in pending:
            members = self._members.get((p.inp.node, p.inp.group), {}).get(tuple(p.fields.get(g) for g in p.inp.group), [])
            members = [m for m in dict.fromkeys(members) if m != p.uid]
            if not members and p.inp.imply:
                members = [self.build(self.conventions.nodes[p.inp.node], p.fields, p.raw)]
            for member in members:
                self.batch.link(p.uid, member, p.inp.role)
            edges += len(members)
        return edges

    @staticmethod
    def _name(spec: NodeSpec, raw: dict[str, str], fields: dict[str, Any]) -> str | None:
        text = _Raw(raw, fields)
        for pattern in spec.names:
            try:
                return pattern.format_map(text)
            except (KeyError, ValueError):
                continue
        return None
