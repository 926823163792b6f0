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

from neomodel import BooleanProperty, DateTimeNeo4jFormatProperty, StructuredNode

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
    """The filter's value as the property's declared type."""
    prop = _check_property(cls, flt.prop)
    if flt.op == "~":
        return flt.value
    if isinstance(prop, BooleanProperty):
        if flt.value.lower() not in _BOOLEANS:
            raise InputError(f"filter {flt}: {flt.value!r} is not a boolean (true or false)")
        return _BOOLEANS[flt.value.lower()]
    if isinstance(prop, DateTimeNeo4jFormatProperty):
        try:
            datetime.fromisoformat(flt.value)
        except ValueError:
            raise InputError(f"filter {flt}: {flt.value!r} is not an ISO date or time") from None
        return flt.value  # compared through datetime() in the query
    try:
        return model.coerce_props(cls, {flt.prop: flt.value})[flt.prop]
    except InputError as exc:
        raise InputError(f"filter {flt}: {exc}") from None


def searchable(kind: str) -> type[StructuredNode]:
    """The class of ``kind`` if its nodes may be searched (entities, runs, files, events; not users)."""
    cls = model.kind_class(kind)
    allowed = [*model.entity_classes(), model.Run, model.DataFile, model.Invalidation]
    if cls not in allowed:
        raise InputError(f"{cls.__name__} cannot be searched; kinds: {', '.join(c.__name__ for c in allowed)}")
    return cls


def _build(name: str, kind: str, filters: list[Filter]) -> tuple[str, dict, type[StructuredNode]]:
    """The query text for ``kind`` and ``filters`` with its parameters."""
    cls = searchable(kind)
    conditions, params = [], {}
    for i, flt in enumerate(filters):
        prop = _check_property(cls, flt.prop)
        params[f"v{i}"] = _typed(cls, flt)
        field = f"n.`{flt.prop}`"
        if flt.op == "~":
            conditions.append(f"toLower(toString({field})) CONTAINS toLower($v{i})")
        elif isinstance(prop, DateTimeNeo4jFormatProperty):
            # instants, not their spelling: both sides in UTC (Cypher's = on zoned datetimes
            # also compares the offset, so 01:00-05:00 would not equal 06:00Z)
            conditions.append(f"datetime({{datetime: {field}, timezone: 'Z'}}) {OPERATORS[flt.op]} "
                              f"datetime({{datetime: datetime($v{i}), timezone: 'Z'}})")
        else:
            conditions.append(f"{field} {OPERATORS[flt.op]} $v{i}")
    text = (queries.get(name).text.replace("LABEL", f"`{cls.__label__}`", 1)
            .replace("CONDITIONS", " AND ".join(conditions) or "true", 1))
    return text, params, cls


def find(store: Store, kind: str, filters: list[Filter], order_by: str | None = None, descending: bool = False,
         limit: int | None = None, offset: int = 0) -> list[dict]:
    """Nodes of ``kind`` matching every filter, in node_json shape, ordered by a property (default name)."""
    text, params, cls = _build("find_nodes", kind, filters)
    order = order_by or ("name" if "name" in _properties(cls) else "uid")
    _check_property(cls, order)
    if limit is not None and limit < 0 or offset < 0:
        raise InputError("limit and offset must not be negative")
    text = text.replace("ORDER_KEY", f"n.`{order}`{' DESC' if descending else ''}, n.uid", 1)
    rows = store.read_tx(lambda tx: tx.run(text, {**params, "limit": limit, "offset": offset}).data())
    return [node_json(row["node"], row["labels"]) for row in rows]


def count(store: Store, kind: str, filters: list[Filter]) -> int:
    """How many nodes of ``kind`` match every filter."""
    text, params, _ = _build("count_nodes", kind, filters)
    return store.read_tx(lambda tx: tx.run(text, params).single()["count"])
