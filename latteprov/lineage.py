"""Lineage questions: what a product was derived from, and the shapes the answers take.

Answers have one JSON shape everywhere (CLI ``--format json``, web API):
``{"root": uid, "nodes": [{uid, name, kind, labels, props, state, valid}],
"edges": [{from, to, type, role}]}`` with ``from`` the derived product and ``to`` its input.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from latteprov import model
from latteprov.errors import InputError, NotFound, shorten
from latteprov.identity import is_uid
from latteprov.lookup import resolve, resolve_many
from latteprov.store import Store

SHAPE_KEYS = ("uid", "name", "kind", "labels", "state", "valid")
# Kept on entities by the write path for the search box (the name in lower case): a copy, not a
# property to show. (file_statuses, the statuses of an entity's files, is shown and filtered.)
DERIVED_KEYS = ("search_name",)
_HIDDEN = frozenset(SHAPE_KEYS + DERIVED_KEYS)
# How many of a run's inputs and outputs (and of a file's products) a node's details list.
LISTED = 500
# Downstream answers larger than this are cut to the nodes nearest the root (and summarised).
FANOUT_LIMIT = 200


# Roots asked per query by the batched questions: large enough that the round trip and the
# query's planning vanish, small enough that one answer stays a few MB.
BATCH = 500


def _traverse_many(store: Store, query: str, idents: list[str], batch: int = BATCH,
                   **params: Any) -> list[tuple[str, str, Any]]:
    """(ident, uid, row or None) for each of ``idents`` in order, asking ``query`` about
    ``batch`` roots at a time. Names (and uids the query does not know) are resolved in one
    query first (:func:`resolve_many`, with :func:`resolve`'s errors); duplicates are asked
    once. One ident costs what one question needs: a uid goes straight into the query; a name,
    or a uid the query does not know, is resolved first (which gives the clear errors: unknown,
    ambiguous). InputError for a batch below 1."""
    if batch < 1:
        raise InputError(f"batch must be at least 1, not {batch}")
    names = [ident for ident in dict.fromkeys(idents) if not is_uid(ident)]
    uids = {**{ident: ident for ident in idents if is_uid(ident)}, **resolve_many(store, names)}
    rows: dict[str, Any] = {}
    wanted = list(dict.fromkeys(uids.values()))
    for start in range(0, len(wanted), batch):
        chunk = wanted[start:start + batch]
        rows.update(_rows_of(store, query, chunk, **params))
    out = []
    for ident in idents:
        uid = uids[ident]
        if uid not in rows and uid == ident:  # a uid of nothing the query knows: a name? a run?
            uid = resolve(store, ident)
            if uid != ident and uid not in rows:
                rows.update(_rows_of(store, query, [uid], **params))
        out.append((ident, uid, rows.get(uid)))
    return out


def _rows_of(store: Store, query: str, uids: list[str], **params: Any) -> dict[str, Any]:
    """The rows of ``query`` about ``uids`` by root uid (lineage's one row of shared nodes
    made one per root: :func:`_per_root`)."""
    found = store.read_records(query, uids=uids, **params)
    if query == "lineage":
        return _per_root(found[0] if found else None)
    return {row["root"] if "root" in row.keys() else row["uid"]: row for row in found}


def _per_root(record: Any) -> dict[str, dict]:
    """The lineage query's answer (every node once, the answers naming them) as one row per
    root: {"nodes": [the root, its ancestors, then its runs]}."""
    if record is None:
        return {}
    by_uid = {x["props"]["uid"]: x for x in record["nodes"]}
    return {a["root"]: {"nodes": [by_uid[u] for u in (*a["members"], *a["runs"])]} for a in record["answers"]}


def check_fields(fields: Iterable[str] | None) -> list[str] | None:
    """``fields`` as a list of property names (None: every property); InputError naming a name
    that no node of the schema has."""
    if fields is None:
        return None
    known = model.property_names()
    wanted = [f.strip() for f in fields if f.strip()]
    unknown = [f for f in wanted if f not in known and f != "labels"]
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(map(repr, unknown))}: fields are property names "
                         f"(uid, name, kind, state, valid, ensemble, config ...)")
    return [f for f in wanted if f not in SHAPE_KEYS]


def _node(x: Any, fields: list[str] | None) -> dict:
    """One node of a lineage or downstream row in the shared shape; with ``fields``, its props
    are those fields only."""
    if fields is None:
        return node_json(x["props"], x["labels"])
    # the lean map names every shape key: a null is one the node does not have (a run's state)
    node = node_json({k: v for k, v in x["props"].items() if v is not None}, x["labels"])
    if fields:
        node["props"] = {k: plain(v) for k, v in zip(fields, x["extra"]) if v is not None}
    return node


def node_json(node: Any, labels: Iterable[str] | None = None) -> dict:
    """One node (a driver Node or a property map) in the shared JSON shape.

    A null in a property map is a key the node does not have (Neo4j stores no nulls)."""
    props = node if isinstance(node, dict) else dict(node)
    labels = sorted(labels if labels is not None else getattr(node, "labels", ()))
    kind = props.get("kind") or ("Run" if "Run" in labels else "DataFile" if "DataFile" in labels
                                 else labels[0] if labels else "")
    state = props.get("state", props.get("exit_state"))
    return {"uid": props.get("uid"), "name": props.get("name"), "kind": kind, "labels": labels,
            "props": {k: plain(props[k]) for k in sorted(props) if k not in _HIDDEN and props[k] is not None},
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


def lineage(store: Store, ident: str, depth: int | None = None, kinds: Iterable[str] | None = None,
            fields: Iterable[str] | None = None) -> dict:
    """Everything ``ident`` was derived from, with the runs that made each node; ``depth`` hops
    at most (None: all); with ``fields`` (property names) each node's props hold only those (the
    lean listing). InputError for a negative depth, an unknown kind or field."""
    return lineage_many(store, [ident], depth, kinds, fields)[0]


def lineage_many(store: Store, idents: Iterable[str], depth: int | None = None, kinds: Iterable[str] | None = None,
                 fields: Iterable[str] | None = None, batch: int = BATCH) -> list[dict]:
    """:func:`lineage` of each of ``idents`` (uids or names), in order, asked ``batch`` at a
    time: each answer is the one :func:`lineage` gives. NotFound for the first ident that is
    not a data product, before anything is answered."""
    check_kinds(kinds)
    check_depth(depth)
    wanted = check_fields(fields)
    idents = list(idents)
    if not idents:
        return []
    found = _traverse_many(store, "lineage", idents, batch, fields=wanted)
    answers = []
    for ident, uid, row in found:
        if row is None:
            raise NotFound(f"{shorten(ident)!r} is not a data product (no lineage)")
        answers.append(_lineage_answer(uid, row, depth, kinds, wanted))
    return answers


def _lineage_answer(uid: str, row: Any, depth: int | None, kinds: Iterable[str] | None,
                    fields: list[str] | None) -> dict:
    entities = [x for x in row["nodes"] if "Run" not in x["labels"]]
    runs = {x["props"]["uid"]: _node(x, fields) for x in row["nodes"] if "Run" in x["labels"]}
    nodes: list[dict] = []
    edges: list[dict] = []
    adjacency: dict[str, list[str]] = {}
    for entity in entities:
        node = _node(entity, fields)
        nodes.append(node)
        adjacency[node["uid"]] = [to for to, _ in entity["inputs"]]
        edges += [{"from": node["uid"], "to": to, "type": "DERIVED_FROM", "role": role}
                  for to, role in entity["inputs"]]
        for run_uid in entity["runs"]:
            if run_uid in runs:  # each run listed once, after the first node it generated
                nodes.append(runs.pop(run_uid))
            edges.append({"from": node["uid"], "to": run_uid, "type": "GENERATED_BY", "role": None})
    answer = {"root": uid, "nodes": nodes, "edges": edges}
    return in_order(answer if depth is None and not kinds else _trim(answer, adjacency, depth, kinds))


def _edge_key(edge: dict) -> tuple:
    return edge["from"], edge["type"], edge["role"] or "", edge["to"]


def in_order(answer: dict, nodes_too: bool = True) -> dict:
    """A lineage-shaped answer in its defined order, whatever order the database hands rows
    in (so a graph loaded by neo4j-admin and one written in transactions answer byte for byte
    alike): the root first, then the other entities by (DERIVED_FROM hops from the root, kind,
    uid), then the runs by uid; edges by (from, type, role, to). ``nodes_too`` False keeps the
    nodes' order (downstream's query orders them: hops, kind, uid)."""
    edges = sorted(answer["edges"], key=_edge_key)
    nodes = answer["nodes"]
    if nodes_too:
        adjacency: dict[str, list[str]] = {}
        for e in edges:
            if e["type"] == "DERIVED_FROM":
                adjacency.setdefault(e["from"], []).append(e["to"])
        hops = depths(answer["root"], adjacency)
        nodes = sorted(nodes, key=lambda n: (n["uid"] != answer["root"], n["kind"] == "Run",
                                             hops.get(n["uid"], len(hops) + 1), n["kind"] or "", n["uid"] or ""))
    return {**answer, "nodes": nodes, "edges": edges}


def downstream(store: Store, ident: str, depth: int | None = None, kinds: Iterable[str] | None = None,
               all_nodes: bool = False, fields: Iterable[str] | None = None) -> dict:
    """Everything derived from ``ident``; beyond FANOUT_LIMIT nodes, the nearest ones plus counts by
    kind; with ``fields`` (property names) each node's props hold only those (the lean listing).
    InputError for a negative depth, an unknown kind or field."""
    return downstream_many(store, [ident], depth, kinds, all_nodes, fields)[0]


def downstream_many(store: Store, idents: Iterable[str], depth: int | None = None,
                    kinds: Iterable[str] | None = None, all_nodes: bool = False,
                    fields: Iterable[str] | None = None, batch: int = BATCH) -> list[dict]:
    """:func:`downstream` of each of ``idents``, in order, asked ``batch`` at a time (each
    answer the one :func:`downstream` gives); NotFound for the first that is not a data
    product, before anything is answered."""
    check_kinds(kinds)
    check_depth(depth)
    wanted = check_fields(fields)
    idents = list(idents)
    if not idents:
        return []
    params = {"depth": depth, "all": all_nodes, "limit": FANOUT_LIMIT,
              "kinds": [k.lower() for k in kinds] if kinds else None, "fields": wanted}
    found = _traverse_many(store, "downstream", idents, batch, **params)
    answers = []
    for ident, uid, row in found:
        if row is None:
            raise NotFound(f"{shorten(ident)!r} is not a data product (nothing derives from it)")
        nodes = [_node(n, wanted) for n in row["nodes"]]
        shown = {n["uid"] for n in nodes}
        edges = [{"from": n["props"]["uid"], "to": to, "type": "DERIVED_FROM", "role": role}
                 for n in row["nodes"] for to, role in n["inputs"] if to in shown]
        summary = [{"kind": k, "count": c} for k, c in sorted(row["summary"], key=lambda kc: (-kc[1], kc[0]))]
        answers.append(in_order({"root": uid, "nodes": nodes, "edges": edges, "summary": summary,
                                 "truncated": row["truncated"]}, nodes_too=False))
    return answers


def path(store: Store, a: str, b: str) -> dict:
    """How ``b`` feeds ``a``: the nodes and edges on DERIVED_FROM paths from ``a`` down to ``b``."""
    uid_a, uid_b = resolve(store, a), resolve(store, b)
    rows = store.read("derivation_path", a=uid_a, b=uid_b)
    if not rows:
        raise NotFound(f"{shorten(b)!r} does not feed {shorten(a)!r}: no DERIVED_FROM path from {uid_a} to {uid_b}")
    nodes = [node_json(row["node"], row["labels"]) for row in rows]
    edges = [{"from": row["node"]["uid"], "to": i["to"], "type": "DERIVED_FROM", "role": i["role"]}
             for row in rows for i in row["inputs"]]
    return in_order({"root": uid_a, "target": uid_b, "nodes": nodes, "edges": edges})


def details(store: Store, ident: str) -> dict:
    """One node with its inputs, number of derivatives, files, runs and invalidation events; for a
    run, what it used and generated; for a data file, its products (the first :data:`LISTED` of
    each by name, with counts). One round trip for a uid; a name is resolved first."""
    return details_many(store, [ident])[0]


def details_many(store: Store, idents: Iterable[str], batch: int = BATCH) -> list[dict]:
    """:func:`details` of each of ``idents``, in order, asked ``batch`` at a time; NotFound
    for the first that names no node, before anything is answered."""
    idents = list(idents)
    if not idents:
        return []
    found = _traverse_many(store, "node_details", idents, batch, listed=LISTED)
    answers = []
    for ident, _, row in found:
        if row is None:  # node_details knows every node resolve_id knows: deleted meanwhile
            raise NotFound(f"no node with uid or name {shorten(ident)!r}")
        answers.append(_details_answer(row))
    return answers


def _keyed(rows: Iterable[dict], *keys: str) -> list[dict]:
    """``rows`` (maps from the database) with their keys sorted, sorted by ``keys`` (then uid):
    the defined order of a ``show`` answer, whatever order the database hands them in."""
    maps = [{k: plain(r[k]) for k in sorted(r)} for r in rows]
    return sorted(maps, key=lambda r: tuple(str(r.get(k) or "") for k in (*keys, "uid")))


def _details_answer(row: Any) -> dict:
    return {"node": node_json(row["node"], row["labels"]),
            "inputs": _keyed(row["inputs"], "role", "name"),
            "derivatives": row["derivatives"],
            "files": _keyed(row["files"], "path", "dataset"),
            "runs": _keyed(row["runs"], "relation"),
            "invalidations": _keyed(row["invalidations"], "at"),
            # a run's inputs and outputs, a file's products: the first LISTED by name, and how many
            "used": _keyed(row["used"], "name"), "used_count": row["used_count"],
            "generated": _keyed(row["generated"], "name"), "generated_count": row["generated_count"],
            "stored": _keyed(row["stored"], "name"), "stored_count": row["stored_count"]}


def check_kinds(kinds: Iterable[str] | None) -> None:
    """Refuse kind filters that name no class of the schema."""
    for kind in kinds or ():
        model.kind_class(kind)


def check_depth(depth: int | None) -> None:
    """Refuse a negative depth (0 is the node itself with the run that made it)."""
    if depth is not None and depth < 0:
        raise InputError(f"depth must be 0 or more, not {depth}")


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
