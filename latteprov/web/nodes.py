"""The node page (everything about one node), its lineage and downstream lists, and the
write routes (invalidate, revalidate) that exist only in apps started with ``--allow-writes``.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from latteprov import invalidate as invalidation
from latteprov import lineage
from latteprov.errors import InputError
from latteprov.web.auth import require_role
from latteprov.web.pages import int_arg, respond, wants_json
from latteprov.web.db import get_store

bp = Blueprint("nodes", __name__)
writes = Blueprint("node_writes", __name__)


def depth_arg() -> int | None:
    """The ``depth`` query argument (absent: unbounded; 0 or more)."""
    return int_arg("depth", None, 0, 1_000_000)


@bp.route("/node/<path:ident>")
def page(ident: str) -> Any:
    """One node, as a page or (``?format=json``) the panel's data."""
    return respond("nodes/node.html", lineage.details(get_store(), ident))


# What the lists of related.html show besides uid, name, kind, state and valid: the page asks
# only for these (the lean listing); a node's page shows the rest.
LISTED_FIELDS = ("ensemble",)


def fields_arg() -> list[str] | None:
    """The properties to list: ``fields`` (comma-separated) when given; else the page's own
    columns for the HTML list, every property for JSON (the CLI's default)."""
    raw = request.args.get("fields")
    if raw is not None:
        return [f for f in raw.split(",") if f.strip()]
    return None if wants_json() else list(LISTED_FIELDS)


@bp.route("/lineage/<path:ident>")
def lineage_page(ident: str) -> Any:
    """Everything the node was derived from, as a list (the graph shows it drawn)."""
    answer = lineage.lineage(get_store(), ident, depth=depth_arg(), kinds=request.args.getlist("kind") or None,
                             fields=fields_arg())
    return respond("nodes/related.html", answer)


@bp.route("/downstream/<path:ident>")
def downstream_page(ident: str) -> Any:
    """Everything derived from the node, as a list (only the listed columns travel)."""
    answer = lineage.downstream(get_store(), ident, depth=depth_arg(), kinds=request.args.getlist("kind") or None,
                                all_nodes=request.args.get("all") in ("1", "true", "yes"), fields=fields_arg())
    return respond("nodes/related.html", answer)


def _who() -> str:
    """The logged-in user's name for the invalidation record."""
    return getattr(current_user, "username", None) or "web"


def _done(uid: str, message: str, result: Any) -> Any:
    if request.accept_mimetypes.best == "application/json" or request.args.get("format") == "json":
        return {"uid": uid, "result": result}
    flash(message)
    return redirect(url_for("nodes.page", ident=uid))


@writes.route("/node/<path:ident>/invalidate", methods=["POST"])
@require_role("writer")
def invalidate(ident: str) -> Response:
    """Invalidate the node and everything downstream of it, with the reason given."""
    reason = request.form.get("reason", "").strip()
    if not reason:
        raise InputError("an invalidation needs a reason")
    store = get_store()
    uid = lineage.resolve(store, ident)
    result = invalidation.invalidate(store, uid, reason, _who())
    return _done(uid, f"invalidated: {reason}", result)


@writes.route("/node/<path:ident>/revalidate", methods=["POST"])
@require_role("writer")
def revalidate(ident: str) -> Response:
    """Undo an invalidation (recorded as an event too)."""
    reason = request.form.get("reason", "").strip() or "revalidated from the web"
    store = get_store()
    uid = lineage.resolve(store, ident)
    result = invalidation.revalidate(store, uid, reason, _who())
    return _done(uid, f"revalidated: {reason}", result)
