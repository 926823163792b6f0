"""The name path as it was before its fast path (parse's own evaluation of each match, the
generic isinstance coercion of every property, the generic JSON encoder for every uid, the
builder's first form), frozen here so that tests can check the fast path gives the same rows:
same uids, same properties, same edges, in the same order."""
from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from neomodel import BooleanProperty, FloatProperty, IntegerProperty, StringProperty

from latteprov import model
from latteprov.errors import InputError
from latteprov.ingest.conventions import Conventions, InputSpec, Match, NameProblem, NodeSpec
from latteprov.ingest.conventions import filled_fields as _filled, spec_props as _props
from latteprov.rows import DERIVED_PROPS, GraphBatch


def match(conv: Conventions, filename: str) -> Match | None:
    """Conventions.match as it was: every candidate template's parser, parse's Result for the one kept."""
    found = []
    for length in conv._prefix_lengths:
        if length > len(filename):
            continue
        for suffix, spec in conv._by_prefix.get(filename[:length], ()):
            if filename.endswith(suffix):
                matched = spec.parser.parse(filename, evaluate_result=False)
                if matched is not None:
                    found.append((spec, matched))
    if not found:
        return None
    if len({spec.kind for spec, _ in found}) > 1:
        raise NameProblem(f"{filename}: fits templates of different kinds: "
                          + ", ".join(f"{spec.key} ({spec.kind}, {spec.origin})" for spec, _ in found))
    spec, matched = found[0]
    result = matched.evaluate_result()
    return Match(spec, dict(result.named), {k: filename[a:b] for k, (a, b) in result.spans.items()})


def _norm(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 2**53:
            return int(value)
        return float(f"{value:.12g}")
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _norm(v) for k, v in sorted(value.items())}
    return value


def make_uid(kind: str, key: Mapping[str, object]) -> str:
    present = {k: v for k, v in key.items() if v is not None}
    canonical = json.dumps({"kind": kind, "key": _norm(present)}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return f"{kind}:{hashlib.sha256(canonical.encode()).hexdigest()[:20]}"


def coerce_props(cls: type, props: dict[str, Any]) -> dict[str, Any]:
    defined = cls.defined_properties(aliases=False, rels=False)
    out: dict[str, Any] = {}
    for key, value in props.items():
        if value is None:
            continue
        prop = defined.get(key)
        if prop is None:
            raise InputError(f"{cls.__name__} has no property {key!r}")
        try:
            if isinstance(prop, FloatProperty):
                out[key] = float(value) + 0.0
            elif isinstance(prop, IntegerProperty):
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                out[key] = int(value)
            elif isinstance(prop, BooleanProperty):
                out[key] = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            elif isinstance(prop, StringProperty):
                out[key] = str(value)
            else:
                out[key] = value
        except (TypeError, ValueError):
            raise InputError(f"{cls.__name__}.{key}: {value!r} is not a valid {type(prop).__name__[:-8].lower()}") from None
        if isinstance(out[key], float) and not math.isfinite(out[key]):
            raise InputError(f"{cls.__name__}.{key}: {value!r} is not a finite number")
        if isinstance(out[key], int) and not isinstance(out[key], bool) and not model.INT64_MIN <= out[key] <= model.INT64_MAX:
            raise InputError(f"{cls.__name__}.{key}: {value!r} is beyond 64-bit integers")
        if getattr(prop, "choices", None) and out[key] not in prop.choices:
            raise InputError(f"{cls.__name__}.{key}: {value!r} is not one of {', '.join(prop.choices)}")
    return out


def natural_key_values(cls: type, props: dict[str, Any]) -> dict[str, Any]:
    defined = cls.defined_properties(aliases=False, rels=False)
    key: dict[str, Any] = {}
    for name in cls.natural_key:
        value = props.get(name)
        if value is None and defined[name].has_default:
            value = defined[name].default_value()
        key[name] = value
    return key


def entity(kind: str, name: str | None = None, state: str | None = None, **props: Any) -> dict:
    """rows.entity as it was."""
    kept = sorted(DERIVED_PROPS & props.keys())
    if kept:
        raise InputError(f"{kind}: {', '.join(kept)} kept")
    cls = model.kind_class(kind)
    if not issubclass(cls, model.Entity) or not cls.natural_key:
        raise InputError(f"{kind} is not a concrete entity kind")
    if state is not None and state not in model.STATES:
        raise InputError(f"state {state!r} is not one of {', '.join(model.STATES)}")
    typed = coerce_props(cls, props)
    typed.update({k: v for k, v in natural_key_values(cls, typed).items() if v is not None})
    key = natural_key_values(cls, typed)
    if all(value is None for value in key.values()):
        raise InputError(f"{cls.__name__} needs {', '.join(cls.natural_key)} to be identified")
    uid = make_uid(cls.__name__, key)
    typed.update(uid=uid, kind=cls.__name__, name=name or typed.get("name") or uid)
    return {"uid": uid, "labels": list(cls.inherited_labels()), "props": typed, "state": state}


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


class _Raw:
    """Field text for name formats (``str.format_map``): as written where known, else the
    value itself. A view, not a copy: one is made for every node built."""

    def __init__(self, raw: dict[str, str], fields: dict[str, Any]) -> None:
        self.raw = raw
        self.fields = fields

    def __getitem__(self, key: str) -> str:
        text = self.raw.get(key)
        if text is not None:
            return text
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
        extra_inputs = tuple(extra_inputs)
        if spec.key not in self._key_sources:
            self._key_sources[spec.key] = _key_sources(spec)
        sources = self._key_sources[spec.key]
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
        f = _filled(spec, fields)
        raw = raw or {}
        if spec.set or spec.fields:  # a fixed or renamed field is not the text the name wrote
            raw = {k: v for k, v in raw.items() if k not in spec.set and k not in spec.fields}
        links: list[tuple[str, str]] = list(extra_inputs)
        groups: list[InputSpec] = []
        for inp in spec.inputs:
            if any(f.get(r) is None for r in inp.requires):
                continue
            if inp.group:
                groups.append(inp)
            else:
                links.append((self.build(self.conventions.nodes[inp.node], f, raw), inp.role))
        props = _props(spec, f)
        name = self._name(spec, raw, f)
        if spec.key_inputs:
            keyed_params = dict(params or {})
            if groups:  # group members are not known yet: the name stands for them
                keyed_params["of"] = name
            props["inputs_key"] = derived_key(props["step"], [u for u, _ in links], keyed_params)
        if spec.step and params:
            props["params"] = json.dumps(params, sort_keys=True, default=str)
        row = entity(spec.kind, name=name, **props)
        uid = row["uid"]
        if uid not in self._emitted:
            self._emitted.add(uid)
            self.batch.entities.append(row)
            for to, role in links:
                self.batch.link(uid, to, role)
            self._pending += [_Pending(uid, spec, inp, f, raw) for inp in groups]
        for group in self._grouped.get(spec.key, ()):
            self._members[(spec.key, group)][tuple(f.get(g) for g in group)].append(uid)
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
