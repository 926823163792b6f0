"""The ready-to-run frontier: what can be computed now, from what the graph knows.

A product of a campaign step is *ready* when it is planned, failed, or done but invalidated
itself (due for recomputation), and every input it derives from is done and valid. That is
what CalLat's generator scripts find out today by checking which files exist
(docs/planning.md); here it is one query (``frontier`` in ``latteprov/cypher/planning.cypher``) per call,
grouped by step and ensemble, with the step's resources from the campaign's document.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from latteprov.errors import InputError
from latteprov.store import Store


@dataclass(frozen=True)
class StepInfo:
    """A campaign step as ``latteprov plan`` recorded it."""

    campaign: str
    step: str
    kind: str
    command: str
    resources: dict
    scheduler: tuple[str, ...]
    bundle: int
    document: dict     # the whole campaign (METAQ settings, ensembles)

    @property
    def key(self) -> str:
        """``<campaign>/<step>``: what the step's products carry as campaign_step."""
        return f"{self.campaign}/{self.step}"


def steps(store: Store) -> dict[str, StepInfo]:
    """Every planned campaign step by key, in campaign order and each campaign's step order."""
    found: dict[str, StepInfo] = {}
    for row in store.read("campaigns"):
        doc = json.loads(row["document"])
        for name, body in doc["steps"].items():
            info = StepInfo(row["name"], name, body["kind"], body["command"], dict(body.get("resources", {})),
                            tuple(body.get("scheduler", ())), body.get("bundle", 1), doc)
            found[info.key] = info
    return found


def select(known: dict[str, StepInfo], step: str | None = None) -> list[StepInfo]:
    """The steps called ``step`` (``STEP`` in any campaign, or ``CAMPAIGN/STEP``), or all of them.
    Raises InputError for a step no campaign has, naming those that exist."""
    if step is None:
        return list(known.values())
    chosen = [info for key, info in known.items() if step in (key, info.step)]
    if not chosen:
        names = ", ".join(known) or "none: run 'latteprov plan CAMPAIGN.toml' first"
        raise InputError(f"no campaign step {step!r}; planned steps: {names}")
    return chosen


def ready(store: Store, step: str | None = None, ensemble: str | None = None, limit: int | None = None) -> dict:
    """The frontier: ``{"total", "groups": [{campaign, step, kind, ensemble, ready, queued,
    running, resources, scheduler, bundle, products: [{uid, name, kind, state, valid, why}]}]}``,
    one group per step and ensemble that has ready, queued or running products, in step order;
    at most ``limit`` products listed in all (the counts are complete). ``why`` is planned,
    failed or recompute."""
    if limit is not None and limit < 0:
        raise InputError(f"limit must be 0 or more, not {limit}")
    chosen = select(steps(store), step)
    keys = [info.key for info in chosen]
    groups: dict[tuple[str, str], dict] = {}

    def group(key: str, ens: str | None) -> dict:
        info = next(i for i in chosen if i.key == key)
        return groups.setdefault((key, ens or ""), {
            "campaign": info.campaign, "step": info.step, "kind": info.kind, "ensemble": ens,
            "ready": 0, "queued": 0, "running": 0, "resources": info.resources,
            "scheduler": list(info.scheduler), "bundle": info.bundle, "products": []})

    cap = 1_000_000_000 if limit is None else limit
    for row in store.read("frontier", steps=keys, ensemble=ensemble, limit=cap):
        g = group(row["step"], row["ensemble"])
        g["ready"], g["products"] = row["ready"], row["products"]
    for state in ("queued", "running"):
        for row in store.read("step_states", steps=keys, state=state):
            if ensemble is None or row["ensemble"] == ensemble:
                group(row["step"], row["ensemble"])[state] = row["count"]
    order = {key: i for i, key in enumerate(keys)}
    out = sorted(groups.values(), key=lambda g: (order[f"{g['campaign']}/{g['step']}"], g["ensemble"] or ""))
    left = cap
    for g in out:
        g["products"] = g["products"][:left]
        left -= len(g["products"])
    return {"total": sum(g["ready"] for g in out), "groups": out}
