"""Finding a node by what a user calls it: a uid, a name (in any spelling of its numbers), or a
location ``FILE:DATASET``."""
from __future__ import annotations

import os

from latteprov.errors import InputError, NotFound
from latteprov.store import Store


def resolve(store: Store, ident: str) -> str:
    """The uid of the node called ``ident``: a uid, a name, or a location ``FILE:DATASET`` (a file
    name or path, a colon, the dataset path inside it: the product stored there). A CalLat name
    in another spelling of its numbers (``M51.10`` for ``M51.1``) finds the node it means.

    Raises NotFound when nothing has that id, InputError when a name is ambiguous."""
    return _pick(store, ident, store.read("resolve_id", ids=[ident]))


def resolve_many(store: Store, idents: list[str]) -> dict[str, str]:
    """:func:`resolve` of each of ``idents`` (uid -> uid ...), exact uids and names looked up in
    one query; other spellings and locations, and the errors, as :func:`resolve` gives them."""
    found: dict[str, list[dict]] = {ident: [] for ident in idents}
    asked = list(found)
    for start in range(0, len(asked), 1000):
        for row in store.read("resolve_id", ids=asked[start:start + 1000]):
            found[row["id"]].append(row)
    return {ident: _pick(store, ident, rows) for ident, rows in found.items()}


def _pick(store: Store, ident: str, rows: list[dict]) -> str:
    """The uid ``ident`` names, given the exact matches ``rows`` (others looked for when none)."""
    if not rows and ":" in ident:
        rows = _resolve_location(store, ident)
    if not rows:
        rows = _resolve_spelling(store, ident)
    if not rows:
        raise NotFound(f"no node with uid, name or location {ident!r}")
    if len(rows) > 1 and not any(r["uid"] == ident for r in rows):
        names = ", ".join(f"{r['uid']} ({r['kind']})" for r in rows)
        raise InputError(f"name {ident!r} is ambiguous, use a uid: {names}")
    return next((r["uid"] for r in rows if r["uid"] == ident), rows[0]["uid"])


def _resolve_location(store: Store, ident: str) -> list[dict]:
    """The products stored at ``FILE:DATASET`` (the first colon splits; a relative path is taken
    from the working directory)."""
    file, _, dataset = ident.partition(":")
    dataset = dataset.strip("/")
    if not file or not dataset:
        return []
    return store.read("resolve_location", location=f"{os.path.basename(file)}:{dataset}",
                      path=os.path.abspath(file), dataset=dataset)


def _resolve_spelling(store: Store, ident: str) -> list[dict]:
    """The node a CalLat file name means, whatever the spelling of its numbers: the name is
    parsed by the preset's templates (as a stem, or with its extension) and its uid computed."""
    from latteprov.ingest.conventions import preset

    conventions = preset()
    for candidate in (ident, f"{ident}.lime", f"{ident}.h5"):
        try:
            found = conventions.match(candidate)
            if found is None:
                continue
            uid = conventions.uid_of(found.spec, conventions.enrich(found.fields))
        except (InputError, ValueError):
            continue
        rows = store.read("resolve_id", ids=[uid])
        if rows:
            return rows
    return []
