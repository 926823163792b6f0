"""Rows as CSV, written one way for the CLI (``--format csv``) and the web tables (``?format=csv``).

A cell is the value as text: ``None`` is empty, a list or map is JSON (so a program reads
``file_statuses`` or ``params`` back with ``json.loads``), a date-time its ISO 8601 text, anything
else ``str``. Columns are given, in order; keys a row has beyond them are left out and a column
a row lacks is empty. Lines end in ``\\n``; quoting is the :mod:`csv` module's default (minimal).
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import IO, Any


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (datetime, date)) else str(value)


def cell(value: Any) -> str:
    """One value as a CSV cell (see the module's docstring)."""
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=_plain, ensure_ascii=False)
    return _plain(value) if not isinstance(value, str) else value


def write_csv(out: IO[str], rows: Iterable[dict], columns: Sequence[str]) -> int:
    """Write a header of ``columns`` and one line per row to ``out``; return the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
        count += 1
    return count
