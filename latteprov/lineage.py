"""Lineage questions: what a product was derived from, and the shapes the answers take.

Answers have one JSON shape everywhere (CLI ``--format json``, web API):
``{"root": uid, "nodes": [{uid, name, kind, labels, props, state, valid}],
"edges": [{from, to, type, role}]}`` with ``from`` the derived product and ``to`` its input.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from latteprov.errors import InputError, NotFound
from latteprov.store import Store

SHAPE_KEYS = ("uid", "name", "kind", "labels", "state", "valid")


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
            "props": {k: _plain(v) for k, v in props.items() if k not in SHAPE_KEYS},
            "state": state, "valid": props.get("valid", True)}


def _plain(value: Any) -> Any:
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
