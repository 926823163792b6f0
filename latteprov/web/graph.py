"""The graph browser page: the bounded neighbourhood of one entity (built by
:mod:`latteprov.neighbourhood`), drawn by cytoscape.js.

Everything that defines a view travels in the URL (``node``, ``hops``, ``dir``, ``expand``,
``open``), so a link reproduces it; the page's script fetches the view from
``/api/neighbourhood``.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from latteprov import lineage
from latteprov.errors import NotFound
from latteprov.neighbourhood import search
from latteprov.web.pages import int_arg
from latteprov.web.db import get_store

bp = Blueprint("graph", __name__)


def view_args() -> dict:
    """The view parameters of the current request (shared by the page and the API)."""
    hops = int_arg("hops", 1)
    split = lambda name: [v for v in request.args.get(name, "").split(",") if v]  # noqa: E731
    return {"hops": hops, "direction": request.args.get("dir", "both") or "both",
            "expand": split("expand"), "open_groups": split("open"),
            "fanout": current_app.config["FANOUT"], "max_elements": current_app.config["MAX_ELEMENTS"]}


@bp.route("/graph")
def page() -> str:
    """The browser page; its script fetches the view from the API (the URL is the view)."""
    ident = request.args.get("node", "").strip()
    view_args()  # a bad value is a 400 here, not a broken page
    try:
        root = lineage.resolve(get_store(), ident) if ident else None
    except NotFound as exc:  # a fragment (Enter in the search box): list what it matches
        matches = search(get_store(), ident, limit=current_app.config["PAGE_SIZE"])
        return render_template("graph/index.html", root=None, ident=ident, matches=matches,
                               message=None if matches else str(exc)), 200 if matches else 404
    return render_template("graph/index.html", root=root, ident=ident, matches=None, message=None)
