"""Tables: one per node class, paged, sorted and filtered on the server, downloadable as CSV.

Each column has a filter box in ``latteprov find``'s language: ``>=300``, ``!=done``, ``~a09``
(contains), or a bare value meaning ``=``. In the URL they are ``f.<column>=<expression>``, so
the dashboard links straight to filtered tables.
"""
from __future__ import annotations

import io
import math
from urllib.parse import urlencode
from typing import Any

from flask import Blueprint, Response, current_app, redirect, request, url_for

from latteprov import find
from latteprov.errors import InputError
from latteprov.tabular import write_csv
from latteprov.web.pages import INT_LIMIT, int_arg, respond
from latteprov.web.db import get_store

bp = Blueprint("tables", __name__)

CSV_LIMIT = 100_000
_OPERATOR_START = ("<", ">", "=", "!", "~")
def kinds() -> list[type]:
    """The classes that have a table (what ``latteprov find`` can search)."""
    return find.searchable_classes()


def columns(cls: type) -> list[str]:
    """The columns of ``cls``'s table (:func:`latteprov.find.columns`)."""
    return find.columns(cls)


def filters_from(args: Any, cols: list[str]) -> dict[str, str]:
    """The column filters of a request (``f.<column>``), empty ones left out."""
    found = {}
    for key, value in args.items():
        if key.startswith("f.") and value.strip():
            col = key[2:]
            if col not in cols:
                raise InputError(f"no column {col!r} to filter on; columns: {', '.join(cols)}")
            found[col] = value.strip()
    return found


def filter_texts(filters: dict[str, str]) -> list[str]:
    """Column filters as ``latteprov find`` filter expressions."""
    return [f"{col}{expr}" if expr.startswith(_OPERATOR_START) else f"{col}={expr}" for col, expr in filters.items()]


def _doc(cls: type) -> str:
    """A class's docstring as one line of plain text (its reST literals without the backquotes)."""
    return " ".join((cls.__doc__ or "").split()).replace("``", "")


def flat(row: dict) -> dict:
    """A node_json row with its props beside the common keys (one cell per column)."""
    return {**row["props"], **{k: row[k] for k in ("uid", "name", "kind", "state", "valid")}}


def table_url(kind: str, **filters: Any) -> str:
    """The URL of ``kind``'s table with column filters (None values left out)."""
    return url_for("tables.table", kind=kind, **{f"f.{k}": v for k, v in filters.items() if v is not None})


def _selection(kind: str) -> tuple[type, list[str], dict[str, str], list[find.Filter], str | None, bool]:
    """What the request selects: class, columns, column filters (as given and parsed), sorting."""
    cls = find.searchable(kind)
    cols = columns(cls)
    filters = filters_from(request.args, cols)
    return (cls, cols, filters, find.parse_filters(filter_texts(filters)), request.args.get("sort") or None,
            request.args.get("desc") in ("1", "true", "yes"))


def table_context(kind: str) -> dict:
    """One page of ``kind``'s table with its sorting and filters."""
    cls, cols, filters, parsed, sort, desc = _selection(kind)
    size = int_arg("size", current_app.config["PAGE_SIZE"], 1, 1000)
    page = int_arg("page", 1, 1, INT_LIMIT // size)  # the offset (page - 1) x size stays an integer the query takes
    store = get_store()
    total = find.count(store, cls.__name__, parsed)
    rows = find.find(store, cls.__name__, parsed, order_by=sort, descending=desc, limit=size,
                     offset=(page - 1) * size)
    return {"kind": cls.__name__, "doc": _doc(cls), "columns": cols,
            "filters": filters, "sort": sort, "desc": desc, "page": page, "size": size, "total": total,
            "pages": max(math.ceil(total / size), 1), "rows": rows}


def _csv(kind: str) -> Response:
    cls, cols, _, parsed, sort, desc = _selection(kind)
    rows = find.find(get_store(), cls.__name__, parsed, order_by=sort, descending=desc, limit=CSV_LIMIT)
    out = io.StringIO()
    write_csv(out, (flat(row) for row in rows), cols)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={cls.__name__}.csv"})


@bp.route("/tables")
def index() -> Any:
    """Every class with a table and how many nodes it has."""
    store = get_store()
    return respond("tables/index.html", {"tables": [
        {"kind": cls.__name__, "doc": _doc(cls),
         "count": find.count(store, cls.__name__, [])} for cls in kinds()]})


@bp.route("/tables/<kind>")
def table(kind: str) -> Any:
    """One class's table: ``page``, ``size``, ``sort``, ``desc``, ``f.<column>``, ``format=csv|json``.

    The URL keeps only the filters in use (a submitted form's empty boxes are dropped by a
    redirect); a filter the language refuses is shown above the table, with the boxes as typed,
    and answers 400."""
    empty = [k for k, v in request.args.items(multi=True) if k.startswith("f.") and not v.strip()]
    if empty:
        kept = [(k, v) for k, v in request.args.items(multi=True) if k not in empty]
        return redirect(url_for("tables.table", kind=kind) + ("?" + urlencode(kept) if kept else ""))
    if request.args.get("format") == "csv":
        return _csv(kind)
    try:
        return respond("tables/table.html", table_context(kind))
    except InputError as exc:
        if request.args.get("format") == "json" or not _is_filter_error(kind):
            raise
        cls = find.searchable(kind)
        typed = {k[2:]: v for k, v in request.args.items() if k.startswith("f.")}
        return respond("tables/table.html", {
            "kind": cls.__name__, "doc": _doc(cls), "columns": columns(cls),
            "filters": typed, "sort": request.args.get("sort"), "desc": False, "page": 1, "size": 0, "total": 0,
            "pages": 1, "rows": [], "error": str(exc)}, 400)


def _is_filter_error(kind: str) -> bool:
    """Whether the kind itself is fine (so the error is one of the filters, paging or sorting)."""
    try:
        find.searchable(kind)
    except InputError:
        return False
    return True


@bp.app_template_filter("flat")
def _flat_filter(row: dict) -> dict:
    return flat(row)


@bp.app_template_filter("cell")
def _cell(value: Any) -> str:
    """A property as a table cell: nothing for none, a list as 'a, b' (not Python's repr)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


@bp.app_template_filter("dict_without")
def _dict_without(values: dict, *keys: str) -> dict:
    """``values`` minus ``keys``, so a link can change some query arguments and keep the rest."""
    return {k: v for k, v in values.items() if k not in keys}


@bp.app_context_processor
def _table_kinds() -> dict:
    return {"table_kinds": {cls.__name__ for cls in kinds()}}
