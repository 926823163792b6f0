"""Rendering rows for people and programs: one function, one shared option.

Human output (rich tables) on a terminal, JSON or CSV when asked; commands produce rows
(dicts) and call :func:`emit`, never their own if/elif over formats.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console, Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from latteprov.tabular import cell, write_csv

if TYPE_CHECKING:  # imported where used: rich.tree is only needed for lineage trees
    from rich.tree import Tree

TABULAR = ("table", "json", "csv")
DOCUMENT = ("table", "json")
GRAPH = ("tree", "table", "csv", "json", "dot", "mermaid")
# Mermaid refuses to draw more edges than this by default (its maxEdges setting).
MERMAID_MAX_EDGES = 500
NODE_COLUMNS = ("uid", "kind", "name", "state", "valid")
# The exit status of a write that kept recorded values it was given others for (see report_conflicts).
EXIT_CONFLICTS = 3


def format_option(choices: Sequence[str] = TABULAR, default: str = "table") -> Callable:
    """The shared ``--format`` option."""
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output format.")


def console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(soft_wrap=False, width=None if stream.isatty() else 200, stderr=stderr)


def report_conflicts(conflicts: Sequence[str], exit: bool = True) -> None:
    """One line per conflict on stderr (a property recorded before with another value, which
    was kept); then, with ``exit``, exit :data:`EXIT_CONFLICTS` when there were any. Everything
    else was written."""
    for line in conflicts:
        click.echo(f"conflict: {line}", err=True)
    if conflicts and exit:
        raise click.exceptions.Exit(EXIT_CONFLICTS)


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, sort_keys=False)


def emit(rows: Iterable[dict], fmt: str, columns: Sequence[str] | None = None, title: str | None = None,
         human: Callable[[list[dict]], RenderableType] | None = None) -> None:
    """Print rows as a table (``human`` renders it, if given), JSON array or CSV."""
    rows = list(rows)
    if fmt == "json":
        click.echo(to_json(rows))
        return
    if fmt == "table" and human is not None:
        console().print(human(rows))
        return
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt == "csv":
        write_csv(sys.stdout, rows, cols)
        return
    table = Table(title=title, show_lines=False)
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*(_human_cell(row.get(c)) for c in cols))
    console().print(table)


def _human_cell(value: Any) -> str:
    """A table cell: a list of plain values as 'a, b' (CSV keeps JSON, which programs read back)."""
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(str(v) for v in value)
    return cell(value)


def lineage_tree(graph: dict, downward: bool = False) -> "Tree":
    """A rich tree of a lineage answer: each node under the product derived from it
    (``downward``: each product under its input, for downstream answers)."""
    from rich.tree import Tree

    nodes = {n["uid"]: n for n in graph["nodes"]}
    children: dict[str, list[tuple[str, str]]] = {}
    for e in graph["edges"]:
        parent, child = (e["to"], e["from"]) if downward else (e["from"], e["to"])
        children.setdefault(parent, []).append((child, e["role"] or e["type"].lower()))

    def label(uid: str, role: str | None) -> str:
        n = nodes[uid]
        flags = "" if n.get("valid", True) else " [red]INVALID[/red]"
        state = f" [dim]{n['state']}[/dim]" if n.get("state") else ""
        prefix = f"[cyan]{role}[/cyan]: " if role else ""
        return f"{prefix}[bold]{n['kind']}[/bold] {n['name']}{state}{flags}"

    root = Tree(label(graph["root"], None))
    seen: set[str] = set()

    def grow(branch: "Tree", uid: str) -> None:
        for child, role in sorted(children.get(uid, []), key=lambda c: (c[1], nodes[c[0]]["name"] or "")):
            if child not in nodes:
                continue
            sub = branch.add(label(child, role) + (" [dim](see above)[/dim]" if child in seen else ""))
            if child not in seen:
                seen.add(child)
                grow(sub, child)

    grow(root, graph["root"])
    return root


def emit_nodes(nodes: list[dict], fmt: str, columns: Sequence[str] | None = None, caption: str | None = None) -> None:
    """Nodes in node_json shape: as they are in JSON, flattened (shared columns, then every
    property that occurs) in a table or CSV; with ``columns``, only those (JSON too), and the
    table titled ``caption``."""
    flat = [{**n["props"], **{c: n[c] for c in NODE_COLUMNS}} for n in nodes]
    if columns is not None:
        rows = [{c: row.get(c) for c in columns} for row in flat]
        emit(rows, fmt, list(columns), title=caption)
        return
    if fmt == "json":
        emit(nodes, fmt)
        return
    extra = sorted({k for n in nodes for k in n["props"]})
    emit(flat, fmt, [*NODE_COLUMNS, *extra])


def emit_one(value: dict, fmt: str, human: Callable[[dict], RenderableType]) -> None:
    """Print one answer (not a list of rows) as JSON or through its human renderer."""
    if fmt == "json":
        click.echo(to_json(value))
    else:
        console().print(human(value))


def _node_label(node: dict) -> str:
    return f"{node['kind']}\n{node['name'] or node['uid']}"


def graph_dot(graph: dict) -> str:
    """A lineage-shaped answer as Graphviz DOT (edges point from derived product to input)."""
    lines = ["digraph provenance {", "  rankdir=BT;", '  node [shape=box, fontname="Helvetica"];']
    for n in graph["nodes"]:
        style = ', color=red, fontcolor=red' if not n.get("valid", True) else ""
        style += ", penwidth=2" if n["uid"] == graph["root"] else ""
        lines.append(f"  {_dot_id(n['uid'])} [label={_dot_id(_node_label(n))}{style}];")
    for e in graph["edges"]:
        label = e["role"] or e["type"]
        lines.append(f"  {_dot_id(e['from'])} -> {_dot_id(e['to'])} [label={_dot_id(label)}];")
    lines.append("}")
    return "\n".join(lines)


def _dot_id(text: str) -> str:
    """A DOT quoted string: the text as it is (UTF-8, so a name keeps its non-ASCII letters),
    with quotes and backslashes escaped and line breaks as DOT's \\n."""
    return json.dumps(text, ensure_ascii=False)


def nearest(graph: dict, max_edges: int) -> tuple[set[str], int]:
    """The nodes nearest the root (breadth first, edges either way) whose edges among themselves
    stay within ``max_edges``, and that number of edges."""
    adjacency: dict[str, list[str]] = {}
    for e in graph["edges"]:
        adjacency.setdefault(e["from"], []).append(e["to"])
        adjacency.setdefault(e["to"], []).append(e["from"])
    kept, edges, order = {graph["root"]}, 0, [graph["root"]]
    for uid in order:
        for other in adjacency.get(uid, ()):
            if other in kept:
                continue
            added = sum(1 for e in graph["edges"] if (e["from"] == other and e["to"] in kept)
                        or (e["to"] == other and e["from"] in kept))
            if edges + added > max_edges:
                return kept, edges
            kept.add(other)
            order.append(other)
            edges += added
    return kept, edges


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def graph_mermaid(graph: dict, max_edges: int = MERMAID_MAX_EDGES) -> str:
    """A lineage-shaped answer as a Mermaid flowchart (ids n0, n1 ...; labels quoted). Above
    Mermaid's default edge limit (``max_edges``) the chart is cut to the nodes nearest the root,
    with a note node saying so (the JSON or DOT output has everything)."""
    nodes = graph["nodes"]
    note = None
    if len(graph["edges"]) > max_edges:
        kept, shown = nearest(graph, max_edges)
        nodes = [n for n in nodes if n["uid"] in kept]
        note = (f"cut to the {len(nodes)} nodes nearest the root ({shown} of {len(graph['edges'])} edges): "
                f"Mermaid draws at most {max_edges} edges; --format json or dot has them all")
    ids = {n["uid"]: f"n{i}" for i, n in enumerate(nodes)}
    lines = ["flowchart BT"]
    if note:
        lines += [f"  %% {note}", f'  note["{_mermaid_text(note)}"]']
    for n in nodes:
        lines.append(f'  {ids[n["uid"]]}["{_mermaid_text(_node_label(n))}"]')
    for e in graph["edges"]:
        if e["from"] in ids and e["to"] in ids:
            lines.append(f'  {ids[e["from"]]} -->|"{_mermaid_text(e["role"] or e["type"])}"| {ids[e["to"]]}')
    invalid = [ids[n["uid"]] for n in nodes if not n.get("valid", True)]
    if invalid:
        lines += ["  classDef invalid stroke:#d00,color:#d00", f"  class {','.join(invalid)} invalid"]
    return "\n".join(lines)


def _summary_table(graph: dict) -> RenderableType:
    shown = len(graph["nodes"])
    table = Table(title=f"showing the {shown} nearest nodes; all descendants by kind (--all lists every one)")
    table.add_column("kind")
    table.add_column("count", justify="right")
    for row in graph["summary"]:
        table.add_row(row["kind"], str(row["count"]))
    return table


def graph_rows(graph: dict, fields: Sequence[str] = ()) -> list[dict]:
    """A lineage-shaped answer as rows (CSV, table): each node with ``fields`` (props of the
    lean listing; empty when a node has none) and its inputs in the answer, ``role=uid`` joined
    by ';' (so the rows carry the edges too)."""
    inputs: dict[str, list[str]] = {}
    for e in graph["edges"]:
        inputs.setdefault(e["from"], []).append(f"{e['role'] or e['type']}={e['to']}")
    return [{**{c: n[c] for c in NODE_COLUMNS}, **{f: n["props"].get(f) for f in fields},
             "inputs": ";".join(inputs.get(n["uid"], []))} for n in graph["nodes"]]


# How each format of GRAPH prints a lineage-shaped answer (downward: a downstream answer;
# fields: the lean listing's properties, shown as columns by the formats of FIELDS_FORMATS).
_GRAPH_RENDERERS: dict[str, Callable[[dict, bool, Sequence[str]], None]] = {
    "json": lambda graph, downward, fields: click.echo(to_json(graph)),
    "dot": lambda graph, downward, fields: click.echo(graph_dot(graph)),
    "mermaid": lambda graph, downward, fields: click.echo(graph_mermaid(graph)),
    "csv": lambda graph, downward, fields: emit(graph_rows(graph, fields), "csv", [*NODE_COLUMNS, *fields, "inputs"]),
    "table": lambda graph, downward, fields: emit(graph_rows(graph, fields), "table", [*NODE_COLUMNS, *fields]),
    "tree": lambda graph, downward, fields: console().print(lineage_tree(graph, downward=downward)),
}
FIELDS_FORMATS = ("json", "csv", "table")
"""The formats of GRAPH that show --fields (JSON in each node's props, CSV and table as columns)."""


def emit_graph(graph: dict, fmt: str, downward: bool = False, fields: Sequence[str] = ()) -> None:
    """Print a lineage-shaped answer (lineage, downstream, path) in one of :data:`GRAPH`, with
    ``fields`` as columns in CSV and table."""
    _GRAPH_RENDERERS[fmt](graph, downward, fields)
    if graph.get("truncated") and fmt in ("tree", "table"):
        console().print(_summary_table(graph))


def status_table(rows: list[dict]) -> RenderableType:
    """Status rows as a table with a bar of done/total per row, then every other state, invalid
    and the file statuses (the model's vocabulary, in its order)."""
    from latteprov import model  # here: the other renderers do not need neomodel loaded

    states = [s for s in model.STATES if s != "done"]
    table = Table(title="completion by ensemble and kind")
    for col in ("ensemble", "kind", "done / total", "", *states, "invalid", *(f.replace("_", " ") for f in model.FILE_STATUSES)):
        table.add_column(col, justify="left" if col in ("ensemble", "kind", "") else "right")
    for r in rows:
        bar = ProgressBar(total=max(r["total"], 1), completed=r["done"], width=20,
                          complete_style="green" if r["done"] == r["total"] else "yellow")
        invalid = Text(str(r["invalid"]), style="red" if r["invalid"] else "")
        table.add_row(r["ensemble"] or "(shared)", r["kind"], f"{r['done']} / {r['total']}", bar,
                      *(str(r[s]) for s in states), invalid, *(str(r[f]) for f in model.FILE_STATUSES))
    return table


def _rows_table(title: str, rows: list[dict], columns: Sequence[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*(cell(row.get(c)) for c in columns))
    return table


def details_view(details: dict) -> RenderableType:
    """``latteprov show``: the node's properties, inputs, files, runs and invalidation events."""
    node = details["node"]
    props = [{"property": k, "value": v} for k, v in
             [("uid", node["uid"]), ("name", node["name"]), ("kind", node["kind"]), ("labels", node["labels"]),
              ("state", node["state"]), ("valid", node["valid"]), *sorted(node["props"].items())]]
    parts: list[RenderableType] = [_rows_table(f"{node['kind']} {node['name']}", props, ("property", "value")),
                                   Text(f"derived products: {details['derivatives']}")]
    for title, key, cols in (("inputs", "inputs", ("role", "kind", "name", "uid", "valid")),
                             ("files", "files", ("host", "path", "dataset", "status", "size")),
                             ("runs", "runs", ("relation", "name", "run_kind", "exit_state", "host", "started_at")),
                             ("invalidations", "invalidations", ("at", "action", "active", "reason", "by", "root"))):
        if details[key]:
            parts.append(_rows_table(title, details[key], cols))
    for title, key in (("used (the run's inputs)", "used"), ("generated (the run's outputs)", "generated"),
                       ("products stored in this file", "stored")):
        if details.get(key):
            more = details[f"{key}_count"] - len(details[key])
            parts.append(_rows_table(f"{title}: {details[key + '_count']}" + (f", the first {len(details[key])} shown" if more else ""),
                                     details[key], ("kind", "name", "state", "valid", "uid")))
    return Group(*parts)


def impact_view(impact: dict, dry_run: bool = False) -> RenderableType:
    """What an invalidation would mark, by kind and ensemble; a dry run says nothing changed."""
    root = f"{impact.get('root_label') or impact['root']} ({impact['root']})"
    heading = Text(f"{'dry run: ' if dry_run else ''}invalidating {root} would mark {impact['total']} entities"
                   f" ({impact['already_invalid']} already invalid)" + ("; nothing was changed" if dry_run else ""))
    return Group(heading, _rows_table("", impact["by_kind_ensemble"], ("kind", "ensemble", "count")))


def outcome_view(outcome: dict) -> RenderableType:
    """The result of an invalidation or revalidation, one key per line."""
    event = outcome["event"]
    label = outcome.get("impact", {}).get("root_label")
    root = f"{label} ({event['root']})" if label else event["root"]
    lines = [f"{event['action']} event {event['uid']} on {root} at {event['at']} by {event['by']}: {event['reason']}"]
    lines += [f"  {k}: {v}" for k, v in outcome.items() if k not in ("event", "impact")]
    return Text("\n".join(lines))
