"""The ready-to-run frontier page: per campaign step and ensemble, what can run now (ready),
what is queued as METAQ tasks and what runs, with the products listed and linked to their
node pages (``latteprov ready`` in the browser; ``?format=json`` gives its JSON)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from latteprov import frontier
from latteprov.errors import InputError
from latteprov.web.pages import int_arg, respond
from latteprov.web.db import get_store

bp = Blueprint("frontier", __name__)

DEFAULT_LIMIT = 200


def frontier_context() -> dict:
    """The frontier for ``step``, ``ensemble`` and ``limit`` (products listed; default 200)."""
    limit = int_arg("limit", DEFAULT_LIMIT, 0, 1_000_000_000)
    step, ensemble = request.args.get("step") or None, request.args.get("ensemble") or None
    answer = frontier.ready(get_store(), step, ensemble, limit)
    listed = sum(len(g["products"]) for g in answer["groups"])
    return {**answer, "step": step, "ensemble": ensemble, "limit": limit, "listed": listed}


@bp.route("/frontier")
def index() -> Any:
    """What is ready to run, per step and ensemble (``?step=``, ``?ensemble=``, ``?limit=``)."""
    return respond("frontier/index.html", frontier_context())
