"""Consistency checks run on every batch before anything of it is written (LatteDB's insert checks).

:func:`check_batch` looks at a :class:`~latteprov.graph.GraphBatch` as a whole: rules about one
row (parity, spin, quark tags, Mobius parameters, state names) need nothing else; rules that
relate rows (a source's origin and its ensemble's extent, the propagators of one correlator,
an ensemble's sea actions) use the other rows of the batch and, for what the batch does not
hold, one lookup of the graph. :func:`check_in_tx` is that lookup inside the writing
transaction, so a failed rule rolls the whole batch back; offline (no database) the relating
rules check what the batch holds and the rest is checked again when the spool is replayed.
"""
from __future__ import annotations

import graphlib
import json
import math
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import neo4j

from latteprov import model, queries
from latteprov.errors import InputError
from latteprov.rows import json_value, run_times_problem

if TYPE_CHECKING:
    from latteprov.rows import GraphBatch

# (tags, uids) -> (ensemble extents and sea masses by tag, node properties by uid)
Lookup = Callable[[list[str], list[str]], tuple[dict[str, dict], dict[str, dict]]]

TOLERANCE = 1e-9
# Roles through which a correlator reaches its propagators.
PROPAGATOR_ROLES = frozenset({"light", "strange", "propagator", "seqprop"})
CONFIG_KEYS = ("ensemble", "stream", "config", "flow_time")
SMEARING_KEYS = ("smear_width", "smear_steps")
SEA_MASS = {"light": "ml", "strange": "ms", "charm": "mc"}
ORIGIN = ("x", "y", "z", "t")


class CheckError(InputError):
    """A row breaks a consistency rule; the message names the object and the rule."""


class CycleError(CheckError):
    """A DERIVED_FROM edge would make provenance cyclic (within a batch, found here with no
    graph; through committed edges, found by the writer)."""


def batch_cycle(batch: "GraphBatch") -> list[str] | None:
    """A cycle among the batch's own DERIVED_FROM edges (self-loops included), as names, or None."""
    sorter = graphlib.TopologicalSorter()
    for e in batch.edges:
        if e["type"] == "DERIVED_FROM":
            sorter.add(e["from"], e["to"])
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        names = {row["uid"]: row["props"].get("name") or row["uid"] for row in batch.entities}
        return [names.get(uid, uid) for uid in reversed(exc.args[1])]
    return None


def _label(row: dict) -> str:
    props = row["props"]
    return f"{props.get('kind', '?')} {props.get('name') or row['uid']}"


def _text(label: str, key: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = label.encode("utf-8", "backslashreplace").decode("utf-8")  # the message itself must print
        raise CheckError(f"{shown}: {key} is not valid Unicode text (a lone surrogate?)") from None


def _check_values(label: str, values: dict) -> dict:
    """Every value is one Neo4j can store and compare: text (valid Unicode), a boolean, a finite
    number, a 64-bit integer, a datetime, or a list of those; -0.0 becomes 0.0. Returns the
    values so normalised. Rows built by :mod:`latteprov.rows` are so already; this catches rows
    built by hand and spool files written by hand or by an older version, before the driver
    fails on them."""
    out = {}
    for key, value in values.items():
        _text(label, "a property name", str(key))
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str):
                _text(label, key, item)
            elif isinstance(item, bool) or item is None or isinstance(item, datetime):
                continue
            elif isinstance(item, float):
                if not math.isfinite(item):
                    raise CheckError(f"{label}: {key}={item!r} is not a finite number")
            elif isinstance(item, int):
                if not model.INT64_MIN <= item <= model.INT64_MAX:
                    raise CheckError(f"{label}: {key}={item!r} is beyond 64-bit integers")
            else:
                raise CheckError(f"{label}: {key} is a {type(item).__name__}, which no property can hold")
        if isinstance(value, float):
            value = value + 0.0
        elif isinstance(value, list):
            value = [v + 0.0 if isinstance(v, float) else v for v in value]
        out[key] = value
    return out


def _check_run(run: dict) -> None:
    """A run row: checked values (its parameters too, as JSON), an end time only with an ended
    state and not before the start."""
    props, mutable = run.get("props", {}), run.get("mutable", {})
    label = f"Run {props.get('name') or run['uid']}"
    run["props"], run["mutable"] = _check_values(label, props), _check_values(label, mutable)
    params = props.get("params")
    if isinstance(params, str):
        def refuse(constant: str) -> None:
            raise CheckError(f"{label}: params: {constant} is not a finite number")
        try:
            json_value(json.loads(params, parse_constant=refuse), "params")
        except CheckError:
            raise
        except InputError as exc:
            raise CheckError(f"{label}: {exc}") from None
        except ValueError:
            raise CheckError(f"{label}: params is not JSON") from None
    state, ended, started = mutable.get("exit_state"), mutable.get("ended_at"), props.get("started_at")
    if state is not None and state not in model.STATES:
        raise CheckError(f"{label}: exit state {state!r} is not one of {', '.join(model.STATES)}")
    if ended is not None and not isinstance(ended, datetime):
        raise CheckError(f"{label}: ended_at is not a time")
    problem = run_times_problem(state, started, ended)
    if problem:
        raise CheckError(f"{label}: {problem}")


def _check_row(row: dict) -> None:
    """The rules that need nothing but the row itself."""
    kind = row["props"].get("kind")
    try:
        cls = model.kind_class(kind) if isinstance(kind, str) else None
    except InputError:
        cls = None
    if cls is None or not issubclass(cls, model.Entity):
        raise CheckError(f"{_label(row)}: {kind!r} is not an entity kind")
    unknown = sorted(set(row["props"]) - set(model.properties(cls)) - {"uid", "kind", "name"})
    if unknown:
        raise CheckError(f"{_label(row)}: {cls.__name__} has no property {unknown[0]!r}")
    row["props"] = props = _check_values(_label(row), row["props"])
    if row.get("state") is not None and row["state"] not in model.STATES:
        raise CheckError(f"{_label(row)}: state {row['state']!r} is not one of {', '.join(model.STATES)}")
    parity = props.get("parity")
    if parity is not None and parity not in (1, -1):
        raise CheckError(f"{_label(row)}: parity must be +1 or -1, not {parity!r}")
    spin, spin_z = props.get("spin_x2"), props.get("spin_z_x2")
    if spin is not None and spin_z is not None and (spin < 0 or abs(spin_z) > spin):
        raise CheckError(f"{_label(row)}: |spin_z| <= spin is broken (spin_x2={spin}, spin_z_x2={spin_z})")
    tag = props.get("quark_tag")
    if tag is not None and tag not in model.QUARK_TAGS:
        raise CheckError(f"{_label(row)}: quark_tag {tag!r} is not one of {', '.join(model.QUARK_TAGS)}")
    if props.get("kind") == "MobiusDW":
        b5, c5, alpha5 = props.get("b5"), props.get("c5"), props.get("alpha5")
        if None not in (b5, c5, alpha5) and abs(alpha5 - (b5 + c5)) > TOLERANCE:
            raise CheckError(f"{_label(row)}: alpha5 = b5 + c5 is broken ({alpha5} != {b5} + {c5})")


@lru_cache(maxsize=None)
def known_geometry(tag: str) -> dict | None:
    """L and T of an ensemble of the CalLat preset's table (from its MILC long tag), for origin
    checks on ensembles the graph does not hold yet; None for a tag the table does not know."""
    from latteprov.ingest.conventions import decode_long_tag, preset_ensembles

    long_tag = preset_ensembles().get(tag)
    return decode_long_tag(long_tag) if long_tag else None


def _check_origin(row: dict, extent: dict | None) -> None:
    """An origin lies inside its ensemble's lattice (``extent``: nx, nt); without a known
    extent, at least no coordinate is negative (the upper bound is checked once the ensemble
    is recorded, see :func:`check_in_tx`)."""
    props = row["props"]
    nx, nt = (extent or {}).get("nx"), (extent or {}).get("nt")
    for axis in ORIGIN:
        value = props.get(axis)
        size = nt if axis == "t" else nx
        if value is None:
            continue
        if value < 0 or (size is not None and value >= size):
            bound = f"0 <= {axis} < {size} of ensemble {props['ensemble']}" if size is not None else f"{axis} >= 0"
            raise CheckError(f"{_label(row)}: origin {axis}={value} is outside the lattice {bound}")


def _same(values: Iterable[tuple[str, dict]], keys: tuple[str, ...], what: str, owner: str) -> None:
    """All ``values`` (label, props) agree on each of ``keys`` where they carry it."""
    seen: dict[str, tuple[Any, str]] = {}
    for label, props in values:
        for key in keys:
            value = props.get(key)
            if value is None:
                continue
            if key not in seen:
                seen[key] = (value, label)
            elif seen[key][0] != value:
                raise CheckError(f"{owner}: its propagators are not on the same {what} "
                                 f"({seen[key][1]} has {key}={seen[key][0]!r}, {label} has {value!r})")


def _is_correlator(kind: object) -> bool:
    """Whether ``kind`` names a correlator class (contracted from propagators, whose
    configuration and smearing it must share): any subclass of Correlator, so a new kind
    (Meson3pt, say) is checked without touching this module."""
    try:
        return isinstance(kind, str) and issubclass(model.kind_class(kind), model.Correlator)
    except InputError:
        return False


def check_batch(batch: "GraphBatch", lookup: Lookup | None = None) -> None:
    """Raise :class:`CheckError` for the first rule ``batch`` breaks; ``lookup`` reads the graph."""
    by_uid = {row["uid"]: row for row in batch.entities}
    for row in batch.entities:
        _check_row(row)
    for run in batch.runs:
        _check_run(run)
    for row in batch.files:
        label = f"DataFile {row['props'].get('path')}"
        row["props"], row["mutable"] = _check_values(label, row["props"]), _check_values(label, row.get("mutable", {}))
        status = row.get("mutable", {}).get("status", row["props"].get("status"))
        if status not in model.FILE_STATUSES:
            raise CheckError(f"DataFile {row['props'].get('path')}: status {status!r} is not one of "
                             f"{', '.join(model.FILE_STATUSES)}")

    ensembles = {row["props"]["tag"]: row["props"] for row in batch.entities
                 if row["props"].get("kind") == "Ensemble"}
    placed = [row for row in batch.entities
              if row["props"].get("ensemble") and any(row["props"].get(a) is not None for a in ORIGIN)]
    correlator_edges: dict[str, list[str]] = {}
    sea_edges: list[tuple[str, str]] = []
    for e in batch.edges:
        for end in ("from", "to", "role"):
            if isinstance(e.get(end), str):
                _text(f"{e['type']} edge", end, e[end])

        if e["type"] != "DERIVED_FROM":
            continue
        if e["role"] in PROPAGATOR_ROLES:
            correlator_edges.setdefault(e["from"], []).append(e["to"])
        elif e["role"] == "sea_action":
            sea_edges.append((e["from"], e["to"]))

    cycle = batch_cycle(batch)
    if cycle is not None:
        raise CycleError("edge would close a cycle: " + " -> ".join(cycle))
    wanted_tags = sorted({row["props"]["ensemble"] for row in placed} - ensembles.keys())
    related = {u for frm, tos in correlator_edges.items() for u in (frm, *tos)}
    related |= {u for edge in sea_edges for u in edge}
    wanted_uids = sorted(related - by_uid.keys())
    known_ensembles, known_nodes = ({}, {})
    if lookup is not None and (wanted_tags or wanted_uids):
        known_ensembles, known_nodes = lookup(wanted_tags, wanted_uids)
    ensembles = {**known_ensembles, **ensembles}

    def props_of(uid: str) -> dict | None:
        return by_uid[uid]["props"] if uid in by_uid else known_nodes.get(uid)

    for row in placed:
        tag = row["props"]["ensemble"]
        _check_origin(row, ensembles.get(tag) or known_geometry(tag))

    for frm, tos in correlator_edges.items():
        owner = props_of(frm)
        if owner is None or not _is_correlator(owner.get("kind")):
            continue
        inputs = [(f"{p.get('kind')} {p.get('name') or u}", p) for u in tos if (p := props_of(u)) is not None]
        name = f"{owner.get('kind')} {owner.get('name') or frm}"
        _same([(name, owner), *inputs], CONFIG_KEYS, "configuration", name)
        _same(inputs, SMEARING_KEYS, "smearing", name)

    sea_tags: dict[tuple[str, str], str] = {}
    for frm, to in sea_edges:
        ens, action = props_of(frm), props_of(to)
        if ens is None or action is None:
            continue
        label = f"Ensemble {ens.get('tag') or frm}"
        if action.get("kind") != "Hisq":
            raise CheckError(f"{label}: sea action {action.get('name') or to} is a {action.get('kind')}, not Hisq")
        tag = action.get("quark_tag")
        if tag not in SEA_MASS:
            raise CheckError(f"{label}: sea action {action.get('name') or to} needs a quark_tag "
                             f"({', '.join(model.QUARK_TAGS)})")
        if sea_tags.setdefault((frm, tag), to) != to:
            raise CheckError(f"{label}: two {tag} sea actions in one batch")
        mass = ens.get(SEA_MASS[tag])
        if mass is not None and action.get("quark_mass") is not None \
                and abs(mass - action["quark_mass"]) > TOLERANCE:
            raise CheckError(f"{label}: {tag} sea action has quark_mass {action['quark_mass']}, "
                             f"the ensemble's {SEA_MASS[tag]} is {mass}")


def check_in_tx(tx: neo4j.ManagedTransaction, batch: "GraphBatch") -> None:
    """:func:`check_batch` with the graph read inside the writing transaction."""

    def lookup(tags: list[str], uids: list[str]) -> tuple[dict[str, dict], dict[str, dict]]:
        record = queries.run(tx, "check_context", tags=tags, uids=uids).single()
        return ({e["tag"]: e for e in record["ensembles"]},
                {n["uid"]: n for n in record["nodes"]})

    check_batch(batch, lookup)
    _check_placed_products(tx, batch)


def _check_placed_products(tx: neo4j.ManagedTransaction, batch: "GraphBatch") -> None:
    """An ensemble recorded (or given its extent) after products placed on it: the origins
    already in the graph must lie inside it too, so the rule holds whatever the order of events.
    Only for ensembles of the batch that the graph holds without an extent, or not at all."""
    ensembles = [{"tag": row["props"]["tag"], "nx": row["props"].get("nx"), "nt": row["props"].get("nt")}
                 for row in batch.entities if row["props"].get("kind") == "Ensemble"
                 and (row["props"].get("nx") is not None or row["props"].get("nt") is not None)]
    if not ensembles:
        return
    found = queries.run(tx, "placed_outside", ensembles=ensembles).single()
    if found is not None:
        axis, value, size = found["axis"], found["value"], found["size"]
        raise CheckError(f"Ensemble {found['tag']}: {found['kind']} {found['name']}, already recorded, has origin "
                         f"{axis}={value} outside the lattice 0 <= {axis} < {size} this ensemble gives")
