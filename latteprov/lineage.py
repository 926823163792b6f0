"""Lineage questions: what a product was derived from, and the shapes the answers take.

Answers have one JSON shape everywhere (CLI ``--format json``, web API):
``{"root": uid, "nodes": [{uid, name, kind, labels, props, state, valid}],
"edges": [{from, to, type, role}]}`` with ``from`` the derived product and ``to`` its input.
"""
from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from typing import Any

from latteprov import model
from latteprov.errors import InputError, NotFound
from latteprov.store import Store

SHAPE_KEYS = ("uid", "name", "kind", "labels", "state", "valid")
# Kept on entities for the status report (a copy of their files' statuses), not a property to show.
DERIVED_KEYS = ("file_statuses",)
# Downstream answers larger than this are cut to the nodes nearest the root (and summarised).
FANOUT_LIMIT = 200


def resolve(store: Store, ident: str) -> str:
    """The uid of the node called ``ident`` (a uid or a name)."""
    rows = store.read("resolve_id", id=ident)
    if not rows:
        raise NotFound(f"no node with uid or name {ident!r}")
    if len(rows) > 1 and not any(r["uid"] == ident for r in rows):
        names = ", ".join(f"{r['uid']} ({r['kind']})" for r in rows)
        raise InputError(f"name {ident!r} is ambiguous, use a uid: {names}")
    return next((r["uid"] for r in rows if r["uid"] == ident), rows[0]["uid"])


def node_json(node: Any, labels: Iterable[str] | None = None) -> dict:
    """One node in the shared JSON shape."""
    props = dict(node)
    labels = sorted(labels if labels is not None else getattr(node, "labels", ()))
    kind = props.get("kind") or ("Run" if "Run" in labels else "DataFile" if "DataFile" in labels
                                 else labels[0] if labels else "")
    state = props.get("state", props.get("exit_state"))
    return {"uid": props.get("uid"), "name": props.get("name"), "kind": kind, "labels": labels,
            "props": {k: plain(props[k]) for k in sorted(props)
                      if k not in SHAPE_KEYS and k not in DERIVED_KEYS},
            "state": state, "valid": props.get("valid", True)}


def plain(value: Any) -> Any:
    """Neo4j temporal values as ISO strings, so answers serialise as JSON."""
    return value.iso_format() if hasattr(value, "iso_format") else value


def depths(root: str, adjacency: dict[str, list[str]]) -> dict[str, int]:
    """Hop distance of every node reachable from ``root`` (breadth first)."""
    seen = {root: 0}
    queue = deque([root])
    while queue:
        current = queue.popleft()
        for nxt in adjacency.get(current, ()):
            if nxt not in seen:
                seen[nxt] = seen[current] + 1
                queue.append(nxt)
    return seen


def lineage(store: Store, ident: str, depth: int | None = None, kinds: Iterable[str] | None = None) -> dict:
    """Everything ``ident`` was derived from, with the runs that made each node."""
    check_kinds(kinds)
    uid = resolve(store, ident)
    rows = store.read("lineage", uid=uid)
    if not rows:
        raise NotFound(f"{ident!r} is not a data product (no lineage)")
    nodes: dict[str, dict] = {}
    edges: list[dict] = []
    adjacency: dict[str, list[str]] = {}
    for row in rows:
        node = node_json(row["node"], row["labels"])
        nodes[node["uid"]] = node
        adjacency[node["uid"]] = [i["to"] for i in row["inputs"]]
        edges += [{"from": node["uid"], "to": i["to"], "type": "DERIVED_FROM", "role": i["role"]}
                  for i in row["inputs"]]
        for run in row["runs"]:
            run_node = node_json(run, ["Run"])
            nodes.setdefault(run_node["uid"], run_node)
            edges.append({"from": node["uid"], "to": run_node["uid"], "type": "GENERATED_BY", "role": None})
    return _trim({"root": uid, "nodes": list(nodes.values()), "edges": edges}, adjacency, depth, kinds)


def downstream(store: Store, ident: str, depth: int | None = None, kinds: Iterable[str] | None = None,
               all_nodes: bool = False) -> dict:
    """Everything derived from ``ident``; beyond FANOUT_LIMIT nodes, the nearest ones plus counts by kind."""
    check_kinds(kinds)
    uid = resolve(store, ident)
    rows = store.read("downstream", uid=uid)
    if not rows:
        raise NotFound(f"{ident!r} is not a data product (nothing derives from it)")
    skeleton = [{"uid": r["uid"], "kind": r["kind"], "labels": r["labels"]} for r in rows]
    edges = [{"from": d["from"], "to": row["uid"], "type": "DERIVED_FROM", "role": d["role"]}
             for row in rows for d in row["derivatives"]]
    adjacency: dict[str, list[str]] = {}
    for e in edges:
        adjacency.setdefault(e["to"], []).append(e["from"])
    graph = _trim({"root": uid, "nodes": skeleton, "edges": edges}, adjacency, depth, kinds)
    counts = Counter(n["kind"] for n in graph["nodes"] if n["uid"] != uid)
    graph["summary"] = [{"kind": k, "count": c} for k, c in sorted(counts.items(), key=lambda kc: (-kc[1], kc[0]))]
    graph["truncated"] = not all_nodes and len(graph["nodes"]) > FANOUT_LIMIT
    if graph["truncated"]:
        hops = depths(uid, adjacency)
        nearest = sorted(graph["nodes"], key=lambda n: (hops[n["uid"]], n["kind"], n["uid"]))[:FANOUT_LIMIT]
        keep = {n["uid"] for n in nearest}
        graph["nodes"] = nearest
        graph["edges"] = [e for e in graph["edges"] if e["from"] in keep and e["to"] in keep]
    full = {n["uid"]: n for n in (node_json(r["node"], r["labels"]) for r in
                                  store.read("nodes_by_uid", uids=[n["uid"] for n in graph["nodes"]]))}
    graph["nodes"] = [full[n["uid"]] for n in graph["nodes"]]
    return graph


def path(store: Store, a: str, b: str) -> dict:
    """How ``b`` feeds ``a``: the nodes and edges on DERIVED_FROM paths from ``a`` down to ``b``."""
    uid_a, uid_b = resolve(store, a), resolve(store, b)
    rows = store.read("derivation_path", a=uid_a, b=uid_b)
    if not rows:
        raise NotFound(f"{b!r} does not feed {a!r}: no DERIVED_FROM path from {uid_a} to {uid_b}")
    nodes = [node_json(row["node"], row["labels"]) for row in rows]
    edges = [{"from": row["node"]["uid"], "to": i["to"], "type": "DERIVED_FROM", "role": i["role"]}
             for row in rows for i in row["inputs"]]
    return {"root": uid_a, "target": uid_b, "nodes": nodes, "edges": edges}


def details(store: Store, ident: str) -> dict:
    """One node with its inputs, number of derivatives, files, runs and invalidation events."""
    uid = resolve(store, ident)
    row = store.read("node_details", uid=uid)[0]
    active = {r["uid"] for r in store.read("active_invalidations")}
    return {"node": node_json(row["node"], row["labels"]),
            "inputs": sorted(row["inputs"], key=lambda i: (i["role"] or "", i["name"] or "")),
            "derivatives": row["derivatives"],
            "files": [{k: plain(v) for k, v in f.items()} for f in row["files"]],
            "runs": [{k: plain(v) for k, v in r.items()} for r in row["runs"]],
            "invalidations": sorted(({**{k: plain(v) for k, v in i.items()}, "active": i["uid"] in active}
                                     for i in row["invalidations"]), key=lambda i: i["at"] or "")}


def check_kinds(kinds: Iterable[str] | None) -> None:
    """Refuse kind filters that name no class of the schema."""
    for kind in kinds or ():
        model.kind_class(kind)


def _trim(graph: dict, adjacency: dict[str, list[str]], depth: int | None, kinds: Iterable[str] | None) -> dict:
    """Keep nodes within ``depth`` hops and of the given kinds (the root always stays)."""
    keep = set(depths(graph["root"], adjacency)) if depth is None else {
        uid for uid, d in depths(graph["root"], adjacency).items() if d <= depth}
    entity_keep = set(keep)
    runs_of_kept = {e["to"] for e in graph["edges"] if e["type"] == "GENERATED_BY" and e["from"] in keep}
    keep |= runs_of_kept
    if kinds:
        wanted = {k.lower() for k in kinds}
        keep = {n["uid"] for n in graph["nodes"] if n["uid"] in keep and (
            n["uid"] == graph["root"] or wanted & {label.lower() for label in n["labels"]})}
    nodes = [n for n in graph["nodes"] if n["uid"] in keep]
    edges = [e for e in graph["edges"] if e["from"] in keep and e["to"] in keep and e["from"] in entity_keep]
    return {"root": graph["root"], "nodes": nodes, "edges": edges}
