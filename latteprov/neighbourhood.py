"""The bounded neighbourhood of one entity and search by name fragments: what the graph browser draws.

A view never grows without bound: it takes ``hops`` (1 to :data:`MAX_HOPS`) steps along
DERIVED_FROM (inputs, products or both), and a node's neighbours of one kind and direction that
number more than ``fanout`` are given as one summary ("104 Sequential") until the caller opens
that group. Nodes the caller expands get one more hop; past ``max_elements`` nodes+edges the
answer stops growing and says ``truncated``. The web's ``/graph`` page and ``/api/neighbourhood``
serve these answers; the Python API can ask for them directly.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from latteprov import lineage
from latteprov.errors import InputError, NotFound
from latteprov.store import Store

MAX_HOPS = 3
"""The most hops a view takes before the caller expands nodes one by one."""



def _file_counts(statuses: Iterable[str | None]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status or "unknown"] = counts.get(status or "unknown", 0) + 1
    return counts


def _node(raw: Any, labels: list[str], files: list[str | None]) -> dict:
    node = lineage.node_json(raw, labels)
    node["files"] = _file_counts(files)
    return node


DIRECTIONS = {"both": ("up", "down"), "up": ("up",), "down": ("down",)}


def neighbourhood(store: Store, ident: str, hops: int = 1, expand: Iterable[str] = (),
                  open_groups: Iterable[str] = (), fanout: int = 12, max_elements: int = 1000,
                  direction: str = "both") -> dict:
    """The bounded view around ``ident``: nodes, edges, summary nodes of collapsed groups.
    ``direction``: ``both`` (the neighbourhood), ``up`` (lineage: inputs only) or ``down``
    (downstream: products only)."""
    if not 1 <= hops <= MAX_HOPS:
        raise InputError(f"hops must be between 1 and {MAX_HOPS}, not {hops}")
    if direction not in DIRECTIONS:
        raise InputError(f"dir must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    wanted = DIRECTIONS[direction]
    root = lineage.resolve(store, ident)
    expand, open_groups = [u for u in expand if u], sorted({g for g in open_groups if g})
    nodes: dict[str, dict] = {}
    edges: dict[tuple[str, str, str | None], dict] = {}
    summaries: dict[str, dict] = {}
    done: set[str] = set()
    frontier, level, truncated = [root], 0, False

    def size() -> int:  # what the page draws: a summary is a node and its edge
        return len(nodes) + len(edges) + 2 * len(summaries)

    while frontier and not truncated:
        # Each new neighbour costs a node and an edge: ask only about as many frontier nodes
        # as the remaining budget can show, so a wide last hop does not query what gets cut.
        budget = max_elements - size()
        if len(frontier) > budget // 2 + 1:
            frontier, truncated = frontier[:budget // 2 + 1], True
        rows = store.read("web_neighbours", uids=frontier, open=open_groups, fanout=fanout, limit=max(budget, 1))
        done.update(frontier)
        found: list[str] = []
        for row in rows:
            uid = row["node"]["uid"]
            nodes.setdefault(uid, _node(row["node"], row["labels"], row["files"]))
            if row["dir"] is None or row["dir"] not in wanted:
                continue
            if not row["shown"]:
                key = f"{uid}|{row['dir']}|{row['kind']}"
                summaries[key] = {"id": key, "of": uid, "dir": row["dir"], "kind": row["kind"],
                                  "count": row["count"]}
                continue
            for nb in row["neighbours"]:
                if size() >= max_elements:
                    truncated = True
                    break
                other = nb["node"]["uid"]
                if other not in nodes:
                    nodes[other] = _node(nb["node"], nb["labels"], nb["files"])
                    found.append(other)
                for role in nb["roles"]:
                    src, dst = (uid, other) if row["dir"] == "up" else (other, uid)
                    edges[(src, dst, role)] = {"from": src, "to": dst, "type": "DERIVED_FROM", "role": role}
        if root not in nodes:
            raise NotFound(f"{ident!r} is a run or a file, not an entity: it has no graph view")
        level += 1
        if level < hops:
            frontier = [u for u in dict.fromkeys(found) if u not in done]
        else:
            # Past the default hops only the nodes the user expanded grow, one hop each.
            frontier = [u for u in expand if u in nodes and u not in done]
    return {"root": root, "hops": hops, "dir": direction, "expand": expand, "open": open_groups,
            "nodes": list(nodes.values()), "edges": list(edges.values()),
            "summaries": list(summaries.values()), "truncated": truncated}


def search(store: Store, text: str, limit: int = 15) -> list[dict]:
    """Entities whose name contains every word of ``text`` anywhere (or whose uid starts with
    it), best first: [{uid, name, kind, ensemble, state, valid, details}]. Words are split at white space; any
    script; case does not matter."""
    words = text.split()
    if not words:
        return []
    return store.read("web_search", first=words[0], words=[w.lower() for w in words], limit=limit)
