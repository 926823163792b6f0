"""Export of the provenance graph as CSV files for ``neo4j-admin database import``.

The initial load of a big server (XL and beyond, see docs/scaling.md) is fastest offline:
``neo4j-admin database import full`` reads node and relationship CSV files with typed headers
(``uid:ID``, ``config:int``, ``:LABEL``; ``:START_ID``, ``:END_ID``, ``:TYPE``). One node file
per class (its header from the model's declared properties), one relationship file per type,
and ``import.args``: the options for ``neo4j-admin database import full @DIR/import.args``.
Rows are streamed from one read transaction per query, so memory does not grow with the graph.
Web users, the locks and the status tallies (recounted by ``latteprov init``) are not provenance
and are left out.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neomodel import BooleanProperty, DateTimeNeo4jFormatProperty, FloatProperty, IntegerProperty, StructuredNode

from latteprov import model, queries
from latteprov.errors import InputError
from latteprov.rows import LINK_RULES
from latteprov.store import Store

RELATIONSHIP_TYPES = tuple(LINK_RULES)


def exported_classes() -> list[type[StructuredNode]]:
    """The node classes that are exported: concrete entities, runs, files, invalidation events."""
    entities = [cls for cls in model.entity_classes() if cls.natural_key]
    return [*entities, model.Run, model.DataFile, model.Invalidation]


def _csv_type(prop: Any) -> str:
    if isinstance(prop, BooleanProperty):
        return "boolean"
    if isinstance(prop, IntegerProperty):
        return "long"
    if isinstance(prop, FloatProperty):
        return "double"
    if isinstance(prop, DateTimeNeo4jFormatProperty):
        return "datetime"
    return "string"


def node_header(cls: type[StructuredNode]) -> list[tuple[str, str]]:
    """(property, header cell) pairs of a class's node file; ``uid`` is the import id."""
    cells = [("uid", "uid:ID")]
    for name, prop in sorted(model.properties(cls).items()):
        if name != "uid":
            cells.append((name, f"{name}:{_csv_type(prop)}"))
    return cells + [(":LABEL", ":LABEL")]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.iso_format() if hasattr(value, "iso_format") else value


@dataclass
class ExportResult:
    """What was written: rows per file."""

    directory: Path
    files: dict[str, int] = field(default_factory=dict)

    @property
    def nodes(self) -> int:
        return sum(n for f, n in self.files.items() if f.startswith("nodes-"))

    @property
    def relationships(self) -> int:
        return sum(n for f, n in self.files.items() if f.startswith("relationships-"))


def _write_rows(path: Path, header: list[str], rows: Iterable[list[Any]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def neo4j_import(store: Store, directory: Path) -> ExportResult:
    """Write the graph as neo4j-admin import CSV files into ``directory`` (must be empty or new)."""
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InputError(f"{directory} is not an empty directory; export writes into a new or empty one")
    directory.mkdir(parents=True, exist_ok=True)
    result = ExportResult(directory)
    for cls in exported_classes():
        header = node_header(cls)
        kind = cls.__name__
        name = "export_entities" if issubclass(cls, model.Entity) else f"export_{kind.lower()}s"

        def rows(tx: Any, name: str = name, kind: str = kind, header: list = header) -> int:
            stream = tx.run(queries.get(name).text, kind=kind)
            return _write_rows(directory / f"nodes-{kind}.csv", [h for _, h in header],
                               ([_cell(";".join(r["labels"])) if p == ":LABEL" else _cell(r["props"].get(p))
                                 for p, _ in header] for r in stream))

        result.files[f"nodes-{kind}.csv"] = store.read_tx(rows)
    with ExitStack() as stack:
        writers, counts = {}, {t: 0 for t in RELATIONSHIP_TYPES}
        for type_ in RELATIONSHIP_TYPES:
            f = stack.enter_context((directory / f"relationships-{type_}.csv").open("w", newline="", encoding="utf-8"))
            writers[type_] = csv.writer(f)
            writers[type_].writerow([":START_ID", ":END_ID", ":TYPE", "role"])

        def relationships(tx: Any) -> None:
            for r in tx.run(queries.get("export_relationships").text, types=list(RELATIONSHIP_TYPES)):
                writers[r["type"]].writerow([r["from"], r["to"], r["type"], _cell(r["role"])])
                counts[r["type"]] += 1

        store.read_tx(relationships)
    result.files.update({f"relationships-{t}.csv": n for t, n in counts.items()})
    args = ["--id-type=string", "--multiline-fields=true", "--skip-duplicate-nodes=false"]
    args += [f"--nodes={directory.resolve() / f}" for f in result.files if f.startswith("nodes-")]
    args += [f"--relationships={directory.resolve() / f}" for f in result.files if f.startswith("relationships-")]
    (directory / "import.args").write_text("\n".join(args) + "\n", encoding="utf-8")
    return result
