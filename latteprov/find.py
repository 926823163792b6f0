"""Finding nodes by property filters: the filter language shared by ``latteprov find`` and
the web tables.

A filter is ``prop OP value`` with OP one of ``= != < <= > >= ~`` (``~``: contains,
case-insensitive). The value is typed by the property's declared type on the kind's class.
Property and label names cannot be Cypher parameters, so only names that exist on a model
class are written into the query text (and quoted); values always travel as parameters.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neomodel import ArrayProperty, BooleanProperty, DateTimeNeo4jFormatProperty, StructuredNode

from latteprov import model, queries
from latteprov.errors import InputError
from latteprov.lineage import node_json
from latteprov.store import Store

OPERATORS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
# Longest operators first, so 'x<=3' is not read as 'x' '<' '=3'.
_FILTER = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|!=|=|<|>|~)\s*(.*?)\s*$", re.S)
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


@dataclass(frozen=True)
class Filter:
    """One condition: a property, an operator and the value as written."""

    prop: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.prop}{self.op}{self.value}"


def parse_filter(text: str) -> Filter:
    """``prop OP value`` as a Filter; anything else is an InputError naming it."""
    match = _FILTER.match(text)
    if not match:
        raise InputError(f"bad filter {text!r}: expected PROPERTY OP VALUE with OP one of = != < <= > >= ~")
    return Filter(*match.groups())


def parse_filters(texts: list[str] | tuple[str, ...]) -> list[Filter]:
    """Every text parsed with :func:`parse_filter`."""
    return [parse_filter(t) for t in texts]


def _properties(cls: type[StructuredNode]) -> dict[str, Any]:
    return cls.defined_properties(aliases=False, rels=False)


def _check_property(cls: type[StructuredNode], prop: str) -> Any:
    defined = _properties(cls)
    if prop not in defined:
        raise InputError(f"{cls.__name__} has no property {prop!r}; known: {', '.join(sorted(defined))}")
    return defined[prop]


def _typed(cls: type[StructuredNode], flt: Filter) -> Any:
    """The filter's value as the property's declared type (for a list property, its items')."""
    prop = _check_property(cls, flt.prop)
    if flt.op == "~":
        return flt.value
    if isinstance(prop, ArrayProperty):
        if flt.op not in ("=", "!="):
            raise InputError(f"filter {flt}: {flt.prop} is a list; use = (has the item), != (has not) or ~ (an item contains)")
        return flt.value
    if isinstance(prop, BooleanProperty):
        if flt.value.lower() not in _BOOLEANS:
            raise InputError(f"filter {flt}: {flt.value!r} is not a boolean (true or false)")
        return _BOOLEANS[flt.value.lower()]
    if isinstance(prop, DateTimeNeo4jFormatProperty):
        try:
            parsed = datetime.fromisoformat(flt.value.replace("Z", "+00:00") if flt.value.endswith("Z") else flt.value)
        except ValueError:
            raise InputError(f"filter {flt}: {flt.value!r} is not an ISO date or time") from None
        if parsed.utcoffset() is not None and abs(parsed.utcoffset().total_seconds()) > 18 * 3600:
            raise InputError(f"filter {flt}: a UTC offset is at most 18 hours")
        return parsed.isoformat()  # Python reads more spellings than Cypher's datetime(): pass its own
    try:
        return model.coerce_props(cls, {flt.prop: flt.value})[flt.prop]
    except InputError as exc:
        raise InputError(f"filter {flt}: {exc}") from None


# Shown first, in this order, when a class has them (the node_json keys come from outside props).
LEADING_COLUMNS = ("name", "kind", "state", "valid", "ensemble")


def searchable_classes() -> list[type[StructuredNode]]:
    """The classes whose nodes may be searched (``latteprov find``, the web tables): entities,
    runs, files and invalidation events; not users."""
    return [*model.entity_classes(), model.Run, model.DataFile, model.Invalidation]


def columns(cls: type[StructuredNode]) -> list[str]:
    """Every column of ``cls``: the common ones first, then its own properties, the uid last."""
    props = [p for p in _properties(cls) if p not in ("uid", "search_name")]
    return [c for c in LEADING_COLUMNS if c in props] + [p for p in props if p not in LEADING_COLUMNS] + ["uid"]


def default_columns(cls: type[StructuredNode], rows: list[dict]) -> tuple[list[str], dict[str, Any]]:
    """The columns worth a reader's width for ``rows`` (node_json shape) of ``cls``: the name,
    the natural-key fields that differ between the rows, state and validity; and the key fields
    every row shares, with their one value (for a caption), so nothing that tells rows apart is
    hidden and nothing that does not is repeated on every row."""
    key = [k for k in getattr(cls, "natural_key", ()) if k != "name"]
    shared: dict[str, Any] = {}
    varying = []
    for k in key:
        values = {repr(r["props"].get(k)) for r in rows}
        if len(values) == 1 and rows:
            value = rows[0]["props"].get(k)
            if value is not None:
                shared[k] = value
        elif len(values) > 1:
            varying.append(k)
    base = ["name"] if "name" in _properties(cls) else ["uid"]
    tail = [c for c in ("state", "valid") if c in _properties(cls) or c == "valid" and issubclass(cls, model.Entity)]
    if cls is model.Run:
        tail = ["run_kind", "job_id", "exit_state", "started_at", "ended_at"]
    elif cls is model.DataFile:
        tail = ["host", "path", "status", "size"]
    return [*base, *varying, *[c for c in tail if c not in varying]], shared


def check_columns(cls: type[StructuredNode], wanted: list[str]) -> list[str]:
    """``wanted`` if every one is a column of ``cls``, else an InputError naming the first that is not."""
    known = columns(cls)
    for col in wanted:
        if col not in known:
            raise InputError(f"{cls.__name__} has no column {col!r}; columns: {', '.join(known)}")
    return wanted


def searchable(kind: str) -> type[StructuredNode]:
    """The class of ``kind`` if its nodes may be searched (entities, runs, files, events; not users)."""
    cls = model.kind_class(kind)
    allowed = searchable_classes()
    if cls not in allowed:
        raise InputError(f"{cls.__name__} cannot be searched; kinds: {', '.join(c.__name__ for c in allowed)}")
    return cls


def _build(name: str, kind: str, filters: list[Filter]) -> tuple[dict[str, str], dict, type[StructuredNode]]:
    """The placeholders of query ``name`` for ``kind`` and ``filters`` (label and conditions,
    names checked against the model) with the filters' values as parameters."""
    cls = searchable(kind)
    conditions, params = [], {}
    for i, flt in enumerate(filters):
        prop = _check_property(cls, flt.prop)
        params[f"v{i}"] = _typed(cls, flt)
        field = f"n.`{flt.prop}`"
        if isinstance(prop, ArrayProperty):  # a list: its items are what a filter looks at
            conditions.append(f"any(item IN coalesce({field}, []) WHERE toLower(toString(item)) CONTAINS toLower($v{i}))"
                              if flt.op == "~" else f"{'' if flt.op == '=' else 'NOT '}$v{i} IN coalesce({field}, [])")
        elif flt.op == "~":
            conditions.append(f"toLower(toString({field})) CONTAINS toLower($v{i})")
        elif isinstance(prop, DateTimeNeo4jFormatProperty):
            # instants, not their spelling: both sides in UTC (Cypher's = on zoned datetimes
            # also compares the offset, so 01:00-05:00 would not equal 06:00Z)
            # (a node without the property does not match, and no error stops the others)
            conditions.append(f"({field} IS NOT NULL AND datetime({{datetime: {field}, timezone: 'Z'}}) "
                              f"{OPERATORS[flt.op]} datetime({{datetime: datetime($v{i}), timezone: 'Z'}}))")
        else:
            conditions.append(f"{field} {OPERATORS[flt.op]} $v{i}")
    label = f"`{cls.__label__}`"
    if issubclass(cls, model.Entity) and cls is not model.Entity and (conditions or name == "find_nodes"):
        # Match on :Entity and check the kind's label as a condition: the indexes (ensemble,
        # state, config, name ...) are on Entity, where each property is declared once, so the
        # planner can seek a filtered property or walk the name index in order instead of
        # scanning every node of the kind (tier M/8: 82 -> 13 ms for one ensemble's Baryon2pt).
        # A bare count keeps the kind's label, which Neo4j answers from its count store.
        conditions.insert(0, f"n:{label}")
        label = "`Entity`"
    return {"LABEL": label, "CONDITIONS": " AND ".join(conditions) or "true"}, params, cls


def find(store: Store, kind: str, filters: list[Filter], order_by: str | None = None, descending: bool = False,
         limit: int | None = None, offset: int = 0) -> list[dict]:
    """Nodes of ``kind`` matching every filter, in node_json shape, ordered by a property (default name)."""
    replace, params, cls = _build("find_nodes", kind, filters)
    order = order_by or ("name" if "name" in _properties(cls) else "uid")
    _check_property(cls, order)
    if limit is not None and limit < 0 or offset < 0:
        raise InputError("limit and offset must not be negative")
    replace["ORDER_KEY"] = f"n.`{order}`{' DESC' if descending else ''}, n.uid"
    rows = store.read_tx(lambda tx: queries.run(tx, "find_nodes", replace, **params, limit=limit, offset=offset).data())
    return [node_json(row["node"], row["labels"]) for row in rows]


def count(store: Store, kind: str, filters: list[Filter]) -> int:
    """How many nodes of ``kind`` match every filter."""
    replace, params, _ = _build("count_nodes", kind, filters)
    return store.read_tx(lambda tx: queries.run(tx, "count_nodes", replace, **params).single()["count"])
