"""Rendering rows for people and programs: one function, one shared option.

Human output (rich tables) on a terminal, JSON or CSV when asked; commands produce rows
(dicts) and call :func:`emit`, never their own if/elif over formats.
"""
from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

TABULAR = ("table", "json", "csv")


def format_option(choices: Sequence[str] = TABULAR, default: str = "table") -> Callable:
    """The shared ``--format`` option."""
    return click.option("--format", "fmt", type=click.Choice(list(choices)), default=default,
                        show_default=True, help="Output format.")


def console() -> Console:
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200)


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, sort_keys=False)


def emit(rows: Iterable[dict], fmt: str, columns: Sequence[str] | None = None, title: str | None = None) -> None:
    """Print rows as a table, JSON array or CSV."""
    rows = list(rows)
    if fmt == "json":
        click.echo(to_json(rows))
        return
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in cols})
        return
    table = Table(title=title, show_lines=False)
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in cols))
    console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def lineage_tree(graph: dict) -> "Tree":
    """A rich tree of a lineage answer: each node under the product derived from it."""
    from rich.tree import Tree

    nodes = {n["uid"]: n for n in graph["nodes"]}
    children: dict[str, list[tuple[str, str]]] = {}
    for e in graph["edges"]:
        children.setdefault(e["from"], []).append((e["to"], e["role"] or e["type"].lower()))

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
