"""Deterministic identities: a node's ``uid`` is a hash of its kind and natural key.

The same object recorded twice, by two jobs at once or by a replayed spool, gets the same
uid and so MERGEs into one node. Numbers are normalised so that ``1``, ``1.0`` and ``"1.0"``
of a float-typed key give one uid.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping


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
    """``<kind>:<20 hex digits>`` from the kind and the natural-key values.

    Keys whose value is None are left out, so a natural key can grow an optional field (the
    ``space`` of a position-space correlator, say) without changing the uid of any node that
    does not have it.
    """
    present = {k: v for k, v in key.items() if v is not None}
    canonical = json.dumps({"kind": kind, "key": _norm(present)}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return f"{kind}:{hashlib.sha256(canonical.encode()).hexdigest()[:20]}"


# What every uid looks like ('<Kind>:' + 20 hex digits); anything else naming a node is a name.
UID = re.compile(r"^[A-Z][A-Za-z0-9]*:[0-9a-f]{20}$")


def is_uid(text: str) -> bool:
    """Whether ``text`` has the shape of a uid (rather than being a name)."""
    return bool(UID.match(text))
