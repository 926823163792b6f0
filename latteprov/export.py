"""Export of the provenance graph as CSV files for ``neo4j-admin database import full``.

The initial load of a big server (XL and beyond, see docs/scaling.md) is fastest offline:
``neo4j-admin database import full`` reads node and relationship CSV files with typed headers
(Neo4j Operations Manual 5, "Import": ``uid:ID``, ``config:long``, ``file_statuses:string[]``,
``:LABEL``; ``:START_ID``, ``:END_ID``, ``:TYPE``). One node file per class (its header from
the model's declared properties), one relationship file per type of
:data:`latteprov.rows.LINK_RULES`, and ``import.args``, the options naming them, so that

    neo4j-admin database import full <database> @DIR/import.args

runs as printed (the database name goes before the options file: its last options take a list
of files, and a name after them would be read as one more file).

What the files hold reads back exactly: text is always quoted, so an empty text (the ``host``
and ``dataset`` of most data files) stays an empty text while a missing property is an empty
unquoted cell; lists are typed arrays (``;``-separated); datetimes keep their zone. Rows are
streamed from one read transaction per query, so memory does not grow with the graph. Web
users, the locks and the status tallies (recounted by ``latteprov init``) are not provenance
and are left out.
"""
from __future__ import annotations

import shlex
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from neomodel import (ArrayProperty, BooleanProperty, DateTimeNeo4jFormatProperty, FloatProperty, IntegerProperty,
                      StructuredNode)

from latteprov import model, queries
from latteprov.errors import InputError
from latteprov.rows import LINK_RULES
from latteprov.store import Store

RELATIONSHIP_TYPES = tuple(LINK_RULES)
ARRAY_DELIMITER = ";"  # neo4j-admin's default, also between the labels of :LABEL
ARGS_FILE = "import.args"


def exported_classes() -> list[type[StructuredNode]]:
    """The node classes that are exported: concrete entities, runs, files, invalidation events."""
    entities = [cls for cls in model.entity_classes() if cls.natural_key]
    return [*entities, model.Run, model.DataFile, model.Invalidation]


def _csv_type(prop: Any) -> str:
    if isinstance(prop, ArrayProperty):
        return _csv_type(prop.base_property) + "[]"
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


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _datetime_text(value: Any) -> str:
    """A driver DateTime as neo4j-admin reads it back: ISO 8601 with its offset, and its named
    zone in brackets when it has one (``2026-11-25T06:00:00+01:00[Europe/Zurich]``)."""
    text = value.iso_format()
    zone = getattr(value.tzinfo, "key", None) or getattr(value.tzinfo, "zone", None)
    return f"{text}[{zone}]" if isinstance(zone, str) and zone and zone != "UTC" else text


def cell(value: Any, where: str = "") -> str:
    """One CSV field: '' for a missing value, text quoted (so "" is an empty text), numbers and
    booleans bare, lists joined by ';' (InputError naming ``where`` if an item holds a ';')."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in value]
        if any(ARRAY_DELIMITER in item for item in items):
            raise InputError(f"{where}: an item of {value!r} holds the array delimiter {ARRAY_DELIMITER!r}")
        return _quoted(ARRAY_DELIMITER.join(items))
    if hasattr(value, "iso_format"):
        return _datetime_text(value)
    return _quoted(str(value))


def write_line(f: IO[str], cells: Iterable[str]) -> None:
    """One CSV line of already formatted cells (:func:`cell`)."""
    f.write(",".join(cells) + "\n")


@dataclass
class ExportResult:
    """What was written: rows per file, and the directory."""

    directory: Path
    files: dict[str, int] = field(default_factory=dict)

    @property
    def nodes(self) -> int:
        return sum(n for f, n in self.files.items() if f.startswith("nodes-"))

    @property
    def relationships(self) -> int:
        return sum(n for f, n in self.files.items() if f.startswith("relationships-"))

    def command(self, database: str = "neo4j") -> str:
        """The neo4j-admin command that loads these files into ``database`` (a new or empty one)."""
        return ("neo4j-admin database import full "
                f"{shlex.quote(database)} {shlex.quote('@' + str((self.directory / ARGS_FILE).resolve()))}")


def _args_line(option: str, path: Path) -> str:
    text = f"{option}={path}"
    if '"' in text or "\\" in text:
        raise InputError(f"{path}: neo4j-admin's options file cannot name a path holding '\"' or '\\'")
    return f'"{text}"'  # quoted: a path may hold spaces


def neo4j_import(store: Store, directory: Path) -> ExportResult:
    """Write the graph as neo4j-admin import CSV files into ``directory`` (must be empty or new).

    Raises InputError for a non-empty directory. Returns the rows written per file;
    :meth:`ExportResult.command` is the command that loads them.
    """
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
            count = 0
            with (directory / f"nodes-{kind}.csv").open("w", encoding="utf-8", newline="") as f:
                write_line(f, (h for _, h in header))
                for r in queries.run(tx, name, kind=kind):
                    props = r["props"]
                    where = f"{kind} {props.get('uid')}"
                    write_line(f, (cell(r["labels"], where) if p == ":LABEL" else cell(props.get(p), f"{where}.{p}")
                                    for p, _ in header))
                    count += 1
            return count

        result.files[f"nodes-{kind}.csv"] = store.read_tx(rows)
    with ExitStack() as stack:
        out, counts = {}, {t: 0 for t in RELATIONSHIP_TYPES}
        for type_ in RELATIONSHIP_TYPES:
            out[type_] = stack.enter_context(
                (directory / f"relationships-{type_}.csv").open("w", encoding="utf-8", newline=""))
            write_line(out[type_], [":START_ID", ":END_ID", ":TYPE", "role:string"])

        def relationships(tx: Any) -> None:
            for r in queries.run(tx, "export_relationships", types=list(RELATIONSHIP_TYPES)):
                write_line(out[r["type"]], [cell(r["from"]), cell(r["to"]), r["type"], cell(r["role"])])
                counts[r["type"]] += 1

        store.read_tx(relationships)
    result.files.update({f"relationships-{t}.csv": n for t, n in counts.items()})
    write_args(result)
    return result


def write_args(result: ExportResult) -> None:
    """Write ``import.args``: the options naming the result's files for neo4j-admin. The file
    lists first, single-valued options last: whatever follows this file on the command line is
    then never taken for one more file."""
    where = result.directory.resolve()
    args = [_args_line("--nodes", where / f) for f in result.files if f.startswith("nodes-")]
    args += [_args_line("--relationships", where / f) for f in result.files if f.startswith("relationships-")]
    args += ["--id-type=string", "--multiline-fields=true", "--skip-duplicate-nodes=false",
             f"--array-delimiter={ARRAY_DELIMITER}", _args_line("--report-file", where / "import.report")]
    (result.directory / ARGS_FILE).write_text("\n".join(args) + "\n", encoding="utf-8")
