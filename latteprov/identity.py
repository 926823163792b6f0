"""Deterministic identities: a node's ``uid`` is a hash of its kind and natural key.

The same object recorded twice, by two jobs at once or by a replayed spool, gets the same
uid and so MERGEs into one node. Numbers are normalised so that ``1``, ``1.0`` and ``"1.0"``
of a float-typed key give one uid.
"""
from __future__ import annotations

from hashlib import sha256
import json
import math
import re
from collections.abc import Mapping


def _norm(value: object) -> object:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # the common cases, first
        return value
    if isinstance(value, bool):
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
    """``<kind>:<20 hex digits>`` from the kind and the natural-key values.

    Keys whose value is None are left out, so a natural key can grow an optional field (the
    ``space`` of a position-space correlator, say) without changing the uid of any node that
    does not have it. The hash is over canonical JSON (sorted keys, no spaces, numbers
    normalised by :func:`_norm`); flat keys of text, integers, booleans and finite floats (every
    natural key of the schema) are written without the generic encoder, byte for byte the same.
    """
    text = _flat_text(kind, key)
    if text is None:
        text = canonical_text(kind, key)
    return f"{kind}:{sha256(text.encode()).hexdigest()[:20]}"


def canonical_text(kind: str, key: Mapping[str, object]) -> str:
    """The canonical JSON a uid hashes, by the generic encoder (any JSON-like values)."""
    present = {str(k): _norm(v) for k, v in sorted(key.items()) if v is not None}
    return _ENCODE({"kind": kind, "key": present})


def _flat_text(kind: str, key: Mapping[str, object]) -> str | None:
    """:func:`canonical_text` for flat keys of str, int, bool and finite float values keyed by
    text; None for anything else (the generic encoder then writes it)."""
    parts = []
    for k in sorted(key):
        value = key[k]
        if value is None:
            continue
        if type(k) is not str:
            return None
        cls = type(value)
        if cls is str:
            text = _quote(value)
        elif cls is int:
            text = int.__repr__(value)
        elif cls is float:
            text = _FLOATS.get(value)
            if text is None:
                if value - value != 0.0:  # inf, nan: the generic encoder's spelling
                    return None
                if len(_FLOATS) >= 65536:
                    _FLOATS.clear()
                norm = _norm(value)
                text = _FLOATS[value] = int.__repr__(norm) if type(norm) is int else float.__repr__(norm)
        elif cls is bool:
            text = "true" if value else "false"
        else:
            return None
        parts.append(f"{_quote(k)}:{text}")
    return '{"key":{' + ",".join(parts) + '},"kind":' + _quote(kind) + "}"


# json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False), built once.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_quote = json.encoder.encode_basestring  # a str as JSON text, non-ASCII kept (what ensure_ascii=False writes)
_FLOATS: dict[float, str] = {}  # finite float -> its canonical text (campaigns repeat a few values)

# What every uid looks like ('<Kind>:' + 20 hex digits); anything else naming a node is a name.
UID = re.compile(r"^[A-Z][A-Za-z0-9]*:[0-9a-f]{20}$")


def is_uid(text: str) -> bool:
    """Whether ``text`` has the shape of a uid (rather than being a name)."""
    return bool(UID.match(text))
