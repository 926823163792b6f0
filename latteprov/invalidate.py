"""Invalidating a product and everything derived from it, and undoing that; both recorded.

An invalidation is an :class:`~latteprov.model.Invalidation` event ``{uid, action, reason, by,
at, root, count}``; the root and every transitive descendant (DERIVED_FROM reversed) get
``valid=false`` and an ``INVALIDATED_BY`` edge to the event. Nothing is deleted.

An event *holds* while no later ``revalidate`` event names the same root. Revalidating X
records such an event and sets ``valid=true`` on X's subtree, except on the nodes that are
X or downstream of the root of another event that still holds: those stay invalid.

Large subtrees (a whole ensemble, ~265k nodes) are written in batches, one transaction each.
Both operations are resumable: invalidation creates the event first and marks afterwards, so
running it again on the same root (an idempotent call: it reuses the event that holds) finishes
an interrupted run and also catches products recorded since; revalidation restores first and
records its event last, so an interrupted revalidation is simply run again.
"""
from __future__ import annotations

import uuid
from collections import Counter

from latteprov.errors import InputError
from latteprov.lineage import plain, resolve
from latteprov.store import Store

BATCH = 10_000


def _subtree(store: Store, uids: list[str]) -> list[dict]:
    """The entities of ``uids`` and everything derived from them, each once."""
    return store.read("subtrees", uids=uids) if uids else []


def impact(store: Store, ident: str) -> dict:
    """What invalidating ``ident`` would mark: counts by kind and ensemble, and the uids."""
    uid = resolve(store, ident)
    rows = _subtree(store, [uid])
    if not rows:
        raise InputError(f"{ident!r} is not a data product; only entities can be invalidated")
    counts = Counter((r["kind"], r["ensemble"]) for r in rows)
    return {"root": uid, "total": len(rows),
            "already_invalid": sum(1 for r in rows if r["valid"] is False),
            "by_kind_ensemble": [{"kind": k, "ensemble": e, "count": c}
                                 for (k, e), c in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))],
            "uids": [r["uid"] for r in rows]}


def _new_event_uid() -> str:
    # Events have no natural key: each call is a new event.
    return f"Invalidation:{uuid.uuid4().hex[:20]}"


def invalidate(store: Store, ident: str, reason: str, by: str) -> dict:
    """Mark ``ident`` and all its descendants invalid, recorded as one Invalidation event."""
    if not reason.strip():
        raise InputError("an invalidation needs a reason")
    root = resolve(store, ident)
    if not store.read("invalidation_root", uid=root):
        raise InputError(f"{ident!r} is not a data product; only entities can be invalidated")
    holding = [e for e in store.read("active_invalidations") if e["root"] == root]
    event_uid = holding[0]["uid"] if holding else store.write(
        "record_invalidation", uid=_new_event_uid(), action="invalidate", reason=reason, by=by, root=root,
        count=None)[0]["event"]["uid"]
    # Marked on the server (no uid list through Python); the count is recorded once it is known,
    # and a re-run after an interruption reuses the event and completes both.
    marked = store.write_auto("mark_subtree_invalid", uid=root, event=event_uid, batch=BATCH)[0]
    event = store.write("set_invalidation_count", uid=event_uid, count=marked["total"])[0]["event"]
    return {"event": _event(event), "already": bool(holding), "total": marked["total"], "changed": marked["changed"]}


def revalidate(store: Store, ident: str, reason: str, by: str) -> dict:
    """Undo the invalidation of ``ident`` (recorded), keeping invalid what another one still covers."""
    if not reason.strip():
        raise InputError("a revalidation needs a reason")
    root = resolve(store, ident)
    holding = store.read("active_invalidations")
    own = [e for e in holding if e["root"] == root]
    others = sorted({e["root"] for e in holding if e["root"] != root})
    if not own:
        above = store.read("invalidated_ancestors", uid=root, roots=others)
        if above:
            raise InputError(f"{ident!r} is invalid because {', '.join(r['uid'] for r in above)} is invalidated; "
                             "revalidate that instead")
        raise InputError(f"{ident!r} is not invalidated")
    subtree = _subtree(store, [root])
    kept = {r["uid"] for r in _subtree(store, others)}
    restore = [r["uid"] for r in subtree if r["uid"] not in kept]
    restored = sum(batch[0]["changed"] for batch in store.write_batches(
        "mark_valid", ({"uid": u} for u in restore), BATCH))
    event = store.write("record_invalidation", uid=_new_event_uid(), action="revalidate", reason=reason, by=by,
                        root=root, count=len(restore))[0]["event"]
    return {"event": _event(event), "revoked": [e["uid"] for e in own], "total": len(subtree),
            "restored": restored, "still_invalid": len(subtree) - len(restore)}


def _event(event: dict) -> dict:
    """An event with its time as an ISO string."""
    return {k: plain(v) for k, v in event.items()}
