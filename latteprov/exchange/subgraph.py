"""The part of the graph an export carries, closed so that it stands on its own.

- **upstream** of a product: the product and everything it derives from (its lineage);
- **downstream** of a product: everything derived from it (its impact), and everything those
  derive from, so that every derivation in the file has both its ends in it;
- **everything**: the whole graph.

Runs come with the entities: every run that generated one of them (and, downstream, every
run that used one of the impacted products), and the lineage of whatever those runs used is
added until nothing is missing. Each entity brings its data files and the invalidation events
rooted at it; since the set is closed upstream, every event that makes one of its products
invalid is in it. A :class:`Subgraph` holds plain Python values (datetimes as ``datetime``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from graphlib import TopologicalSorter
from typing import Any

from latteprov.errors import InputError
from latteprov.lookup import resolve
from latteprov.store import Store, chunks

DIRECTIONS = ("upstream", "downstream")
CHUNK = 5000


def native(value: Any) -> Any:
    """A value read from Neo4j as plain Python: driver DateTimes become aware ``datetime``
    (nanoseconds beyond the microsecond are dropped), lists are converted item by item."""
    if hasattr(value, "to_native"):
        return value.to_native()
    if isinstance(value, list):
        return [native(v) for v in value]
    return value


def _plain(props: dict) -> dict:
    return {k: native(v) for k, v in props.items()}


@dataclass
class Subgraph:
    """Nodes and edges of an export. ``entities``: uid -> {labels, props} in topological order
    (inputs before the products made from them); ``runs``, ``files``: uid -> props;
    ``invalidations``: event props (``root`` is the entity it names); ``edges``: {from, to,
    type, role} of DERIVED_FROM, GENERATED_BY, USED and STORED_AT."""

    root: str | None = None
    direction: str | None = None
    entities: dict[str, dict] = field(default_factory=dict)
    runs: dict[str, dict] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)
    invalidations: list[dict] = field(default_factory=list)
    edges: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many entities, runs, files, invalidation events and edges it holds."""
        return {"entities": len(self.entities), "runs": len(self.runs), "files": len(self.files),
                "invalidations": len(self.invalidations), "edges": len(self.edges)}


def _collect(store: Store, name: str, uids: list[str], key: str = "uids") -> list[str]:
    found: list[str] = []
    for part in chunks(uids, CHUNK):
        found += store.read(name, uids=part)[0][key]
    return found


def select(store: Store, ident: str | None = None, direction: str | None = None) -> Subgraph:
    """The subgraph of ``ident`` (uid or name of a data product) in ``direction`` (upstream or
    downstream), or of the whole graph when ``ident`` is None.

    Raises NotFound for an unknown ``ident``, InputError for a node that is no data product or
    a direction that is neither."""
    if ident is None:
        everything = store.read("exchange_all")[0]
        return fetch(store, set(everything["entities"]), set(everything["runs"]), None, None)
    if direction not in DIRECTIONS:
        raise InputError(f"say which part of {ident!r} to export: --upstream (its lineage) or "
                         "--downstream (its impact)")
    uid = resolve(store, ident)
    if direction == "upstream":
        impact: list[str] = []
        members = set(_collect(store, "exchange_upstream", [uid]))
    else:
        impact = store.read("exchange_downstream", uid=uid)[0]["uids"]
        members = set(_collect(store, "exchange_upstream", impact))
    if uid not in members:
        raise InputError(f"{ident!r} is not a data product; only entities have a lineage or an impact")
    runs: dict[str, list[str]] = {}
    asked: set[str] = set()
    used_asked = False
    while True:
        fresh = sorted(members - asked)
        asked |= members
        rows = []
        for part in chunks(fresh, CHUNK):
            rows += store.read("exchange_runs_touching", generated=part, used=[])
        if not used_asked:
            used_asked = True
            for part in chunks(impact, CHUNK):
                rows += store.read("exchange_runs_touching", generated=[], used=part)
        for row in rows:
            runs[row["uid"]] = row["used"]
        missing = sorted({u for used in runs.values() for u in used} - members)
        if not missing:
            break
        members |= set(_collect(store, "exchange_upstream", missing))
    return fetch(store, members, set(runs), uid, direction)


def fetch(store: Store, entity_uids: set[str], run_uids: set[str], root: str | None,
          direction: str | None) -> Subgraph:
    """Read the entities and runs named (with their files, events and edges) into a Subgraph."""
    sub = Subgraph(root=root, direction=direction)
    rows = []
    for part in chunks(sorted(entity_uids), CHUNK):
        rows += store.read("exchange_entities", uids=part)
    order = TopologicalSorter({r["props"]["uid"]: [i["to"] for i in r["inputs"]] for r in rows})
    by_uid = {r["props"]["uid"]: r for r in rows}
    for uid in order.static_order():
        row = by_uid[uid]
        sub.entities[uid] = {"labels": sorted(row["labels"]), "props": _plain(row["props"])}
        for i in sorted(row["inputs"], key=lambda i: (i["role"], i["to"])):
            sub.edges.append({"from": uid, "to": i["to"], "type": "DERIVED_FROM", "role": i["role"]})
        for run in sorted(row["runs"]):
            if run in run_uids:
                sub.edges.append({"from": uid, "to": run, "type": "GENERATED_BY", "role": None})
        for f in sorted(row["files"], key=lambda f: f["uid"]):
            sub.files[f["uid"]] = _plain(f)
            sub.edges.append({"from": uid, "to": f["uid"], "type": "STORED_AT", "role": None})
        sub.invalidations += [_plain(i) for i in row["invalidations"]]
    sub.invalidations.sort(key=lambda i: (i.get("at") or datetime.min.replace(tzinfo=timezone.utc), i["uid"]))
    for part in chunks(sorted(run_uids), CHUNK):
        for row in store.read("exchange_runs", uids=part):
            uid = row["props"]["uid"]
            sub.runs[uid] = _plain(row["props"])
            sub.edges += [{"from": uid, "to": e, "type": "USED", "role": None}
                          for e in sorted(row["used"]) if e in sub.entities]
    return sub
