"""The completion dashboard: per ensemble and kind, how far production has come.

Bars split each kind into planned, queued, running, done and failed (and invalid, orthogonal to
state), and the files into on disk, on tape, missing, wrong size, unknown, as LatteDB's
progress view did. Every count links to the table filtered to the nodes it counts. Per
ensemble and campaign step, the planned work: how many products are ready to run, queued as
METAQ tasks and running (linked to the frontier page).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from latteprov import frontier, model, status
from latteprov.web.pages import respond
from latteprov.web.db import get_store
from latteprov.web.tables import table_url

bp = Blueprint("dashboard", __name__)

# The bar's order: done first, then the states nearest to it, failed last.
STATES = tuple(sorted(model.STATES, key=lambda s: (s == "failed", -model.STATE_RANK[s])))
FILES = model.FILE_STATUSES
# Kinds in the order the model declares them: ensemble, configurations, actions, sources,
# propagators, correlators, derived data (the order of the chain).
KIND_ORDER = {cls.__name__: i for i, cls in enumerate(model.entity_classes())}


def _bar(row: dict, keys: tuple[str, ...], total: int) -> list[dict]:
    return [{"key": k, "count": row[k], "percent": 100.0 * row[k] / total if total else 0.0} for k in keys]


def dashboard_context(ensemble: str | None) -> dict:
    """The status rows grouped by ensemble, each with its bar segments and table links."""
    rows = status.status(get_store(), ensemble)
    # A missing file of a product not made yet is expected; the others are lost.
    not_made = {(r["ensemble"] or None, r["kind"]): r["files"]
                for r in get_store().read("web_missing_not_made", ensemble=ensemble,
                                                     not_started=list(model.NOT_STARTED), missing="missing")}
    groups: dict[str, dict] = {}
    for row in rows:
        name = row["ensemble"] or "shared"
        group = groups.setdefault(name, {"ensemble": row["ensemble"], "title": name, "kinds": []})
        files = sum(row[k] for k in FILES)
        expected = min(not_made.get((row["ensemble"], row["kind"]), 0), row["missing"])
        group["kinds"].append({
            **row,
            "states": _bar(row, STATES, row["total"]),
            "invalid_percent": 100.0 * row["invalid"] / row["total"] if row["total"] else 0.0,
            "files": _bar(row, FILES, files),
            "file_total": files,
            "missing_lost": row["missing"] - expected, "missing_not_made": expected,
            "links": {key: table_url(row["kind"], ensemble=row["ensemble"], **filt) for key, filt in (
                ("total", {}), *((s, {"state": s}) for s in STATES), ("invalid", {"valid": "false"}),
                *((f, {"file_statuses": f}) for f in FILES))},
        })
    for group in groups.values():  # every ensemble's rows in one order: the model's (the chain's)
        group["kinds"].sort(key=lambda k: KIND_ORDER.get(k["kind"], len(KIND_ORDER)))
    for g in frontier.ready(get_store(), ensemble=ensemble, limit=0)["groups"]:
        name = g["ensemble"] or "shared"
        group = groups.setdefault(name, {"ensemble": g["ensemble"], "title": name, "kinds": []})
        group.setdefault("work", []).append({
            **{k: g[k] for k in ("campaign", "step", "kind", "ready", "queued", "running")},
            "link": url_for("frontier.index", step=f"{g['campaign']}/{g['step']}", ensemble=g["ensemble"])})
    return {"ensemble": ensemble, "rows": rows, "ensembles": list(groups.values()),
            "states": STATES, "file_statuses": FILES}


@bp.route("/dashboard")
def index() -> Any:
    """Completion per ensemble (``?ensemble=`` for one)."""
    return respond("dashboard/index.html", dashboard_context(request.args.get("ensemble") or None))
