"""Invalidating a product and everything derived from it, and undoing that; both recorded.

An invalidation is an :class:`~latteprov.model.Invalidation` event ``{uid, action, reason, by,
at, root, count}`` linked from its root by ``INVALIDATED_BY``; the root and every transitive
descendant (DERIVED_FROM reversed) get ``valid=false``. The event covers the root's subtree,
found by traversal when asked (:func:`latteprov.lineage.details`), so marking a 265k-node
subtree is a property write per node and no edge per node. Nothing is deleted.

An event *holds* while no later ``revalidate`` event names the same root. Revalidating X
records such an event and sets ``valid=true`` on X's subtree, except on the nodes that are
X or downstream of the root of another event that still holds: those stay invalid.

Both run on the server (no uid list goes through Python) in transactions of :data:`BATCH`
entities, each of which takes the tally lock and keeps ``Tally.invalid`` exact, then settle in
one transaction that takes the DAG lock first: whatever a concurrent record committed meanwhile
is marked then, and a record that commits later reads the new validity (writes that add
derivations hold that lock from reading their inputs' validity to their commit). Both are
resumable: invalidation creates the event first and marks afterwards, so running it again on
the same root (an idempotent call: it reuses the event that holds) finishes an interrupted run
and also catches products recorded since; revalidation restores first and records its event
last, so an interrupted revalidation is simply run again.
"""
from __future__ import annotations

import uuid

from latteprov.errors import InputError
from latteprov.lineage import plain, resolve
from latteprov.store import Store

BATCH = 10_000


def impact(store: Store, ident: str, with_uids: bool = True) -> dict:
    """What invalidating ``ident`` would mark: ``{root, root_label ('Kind name'), total,
    already_invalid, by_kind_ensemble: [{kind, ensemble, count}]}`` (and ``uids``)."""
    uid = resolve(store, ident)
    rows = store.read("subtree_impact", uid=uid)
    if not rows:
        raise InputError(f"{ident!r} is not a data product; only entities can be invalidated")
    label = store.read("node_kinds", uids=[uid])[0]["kinds"][0]["name"]  # 'GaugeConfig l3296...e.305'
    out = {"root": uid, "root_label": label, "total": sum(r["count"] for r in rows),
           "already_invalid": sum(r["already_invalid"] for r in rows),
           "by_kind_ensemble": [{"kind": r["kind"], "ensemble": r["ensemble"], "count": r["count"]} for r in rows]}
    if with_uids:
        out["uids"] = [r["uid"] for r in store.read("subtrees", uids=[uid])]
    return out


def _new_event_uid() -> str:
    # Events have no natural key: each call is a new event.
    return f"Invalidation:{uuid.uuid4().hex[:20]}"


def invalidate(store: Store, ident: str, reason: str, by: str, batch: int = BATCH) -> dict:
    """Mark ``ident`` and all its descendants invalid, recorded as one Invalidation event
    (``batch`` entities a transaction)."""
    if not reason.strip():
        raise InputError("an invalidation needs a reason")
    root = resolve(store, ident)
    if not store.read("invalidation_root", uid=root):
        raise InputError(f"{ident!r} is not a data product; only entities can be invalidated")
    holding = [e for e in store.read("active_invalidations") if e["root"] == root]
    event_uid = holding[0]["uid"] if holding else store.write(
        "record_invalidation", uid=_new_event_uid(), action="invalidate", reason=reason, by=by, root=root,
        count=None)[0]["event"]["uid"]
    # Marked on the server; the count is recorded once it is known, and a re-run after an
    # interruption reuses the event and completes both.
    marked = _counts(store.write_auto("mark_subtree_invalid", uid=root, batch=batch), "changed")
    # Products recorded while the batches ran: marked under the DAG lock, after which every
    # record sees the root invalid (no race between a record and an invalidation).
    marked["changed"] += _settled(store.write("settle_subtree_invalid", uid=root), "changed")
    event = store.write("set_invalidation_count", uid=event_uid, count=marked["total"])[0]["event"]
    return {"event": _event(event), "already": bool(holding), "total": marked["total"], "changed": marked["changed"]}


def revalidate(store: Store, ident: str, reason: str, by: str, batch: int = BATCH) -> dict:
    """Undo the invalidation of ``ident`` (recorded), keeping invalid what another one still covers
    (``batch`` entities a transaction)."""
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
    done = _counts(store.write_auto("mark_subtree_valid", uid=root, others=others, batch=batch),
                   "kept", "restored")
    done["restored"] += _settled(store.write("settle_subtree_valid", uid=root, others=others), "restored")
    event = store.write("record_invalidation", uid=_new_event_uid(), action="revalidate", reason=reason, by=by,
                        root=root, count=done["restored"])[0]["event"]
    return {"event": _event(event), "revoked": [e["uid"] for e in own], "total": done["total"],
            "restored": done["restored"], "still_invalid": done["kept"]}


def _settled(rows: list[dict], key: str) -> int:
    """What a settle_* statement changed (no row, or a null sum, when nothing was left)."""
    return (rows[0][key] or 0) if rows else 0


def _counts(rows: list[dict], *keys: str) -> dict:
    """The one row of a marking statement (none when the subtree vanished meanwhile)."""
    return rows[0] if rows else {"total": 0, **dict.fromkeys(keys, 0)}


def _event(event: dict) -> dict:
    """An event with its time as an ISO string."""
    return {k: plain(v) for k, v in event.items()}
