"""The CalLat ``meta`` attribute: one line ``key==value&key==value...`` per combined input."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from latteprov.errors import InputError


class MetaError(InputError):
    """A ``meta`` line that is not ``key==value&...``."""


def meta_text(value: Any) -> str:
    """A ``meta`` attribute as text (h5py gives bytes, str or arrays of them; lines joined)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return "\n".join(meta_text(v) for v in value.ravel())
    return str(value)


def parse_meta(value: Any) -> list[dict[str, str]]:
    """The inputs a ``meta`` attribute names, one dict per line (bytes, str or arrays of them)."""
    rows = []
    for lineno, line in enumerate(meta_text(value).splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        row: dict[str, str] = {}
        for pair in line.split("&"):
            key, sep, val = pair.partition("==")
            if not sep or not key.strip():
                raise MetaError(f"meta line {lineno} {line!r}: {pair!r} is not key==value")
            row[key.strip()] = val.strip()
        rows.append(row)
    return rows


def format_meta(rows: Iterable[Mapping[str, Any]]) -> str:
    """A ``meta`` attribute naming these inputs (None values left out)."""
    lines = []
    for row in rows:
        pairs = [f"{k}=={v}" for k, v in row.items() if v is not None]
        for pair in pairs:
            if "&" in pair or "\n" in pair or pair.count("==") != 1:
                raise MetaError(f"cannot write {pair!r} in a meta line")
        lines.append("&".join(pairs))
    return "\n".join(lines)
