"""Exchange: ``latteprov export`` (a bulk load's CSV files, W3C PROV, archives, ILDG QCDml),
``latteprov import`` (archives) and ``latteprov ingest qcdml`` (registered under ``ingest``)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click

from latteprov import export as exporter
from latteprov.cli.context import AppContext, pass_app
from latteprov.cli.output import emit, report_conflicts


FORMATS = ("neo4j-import", "archive", "prov-json", "prov-n", "prov-xml", "qcdml")


@contextmanager
def _output(path: Path | None, binary: bool = False) -> Iterator[IO]:
    """stdout, or ``path`` written whole or not at all (a sibling .partial file renamed at the end)."""
    if path is None:
        stream = click.get_binary_stream("stdout") if binary else click.get_text_stream("stdout")
        yield stream
        stream.flush()  # before the summary on stderr
        return
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as out:
            yield out
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="neo4j-import", show_default=True,
              help="neo4j-import: CSV files for 'neo4j-admin database import' of the whole graph (TARGET: a new "
                   "or empty directory); archive: ID's lineage or impact for 'latteprov import' elsewhere; "
                   "prov-json, prov-n, prov-xml: W3C PROV of ID's lineage or impact, or of the whole graph; "
                   "qcdml: the ILDG QCDml document of configuration ID.")
@click.argument("target", metavar="[ID | DIRECTORY]", required=False)
@click.option("--upstream", "direction", flag_value="upstream", help="ID and everything it derives from (lineage).")
@click.option("--downstream", "direction", flag_value="downstream",
              help="Everything derived from ID (impact), with what that derives from.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (whole or not at all) instead of stdout.")
@pass_app
def export_command(app: AppContext, fmt: str, target: str | None, direction: str | None, output: Path | None) -> None:
    """Export the graph, or the part of it around ID (uid or name), for use elsewhere.

    \b
    latteprov export --format neo4j-import DIRECTORY
    latteprov export --format prov-json|prov-n|prov-xml [ID --upstream|--downstream] [-o FILE]
    latteprov export --format archive ID --upstream|--downstream [-o FILE]
    latteprov export --format qcdml CONFIGURATION [-o FILE]

    Formats and mappings: docs/exchange.md.
    """
    if fmt == "neo4j-import":
        if target is None or direction or output:
            raise click.UsageError("--format neo4j-import takes a DIRECTORY and no --upstream/--downstream/--output")
        result = exporter.neo4j_import(app.store, Path(target))
        emit([{"file": name, "rows": rows} for name, rows in result.files.items()], "table",
             title=f"{result.nodes} nodes, {result.relationships} relationships")
        click.echo(f"load with: {result.command()}")
        return
    if fmt == "qcdml":
        if target is None or direction:
            raise click.UsageError("--format qcdml takes the configuration's ID and no --upstream/--downstream")
        from latteprov.exchange import qcdml

        document = qcdml.configuration_document(app.store, target)
        with _output(output, binary=True) as out:
            out.write(document)
        return
    if target is None and (fmt == "archive" or direction):
        raise click.UsageError(f"--format {fmt} needs the ID of a data product"
                               + (" and --upstream or --downstream" if fmt == "archive" else ""))
    if target is not None and direction is None:
        raise click.UsageError(f"say which part of {target!r} to export: --upstream (its lineage) or "
                               "--downstream (its impact)")
    from latteprov.exchange import subgraph

    sub = subgraph.select(app.store, target, direction)
    counts = ", ".join(f"{n} {what.replace('invalidations', 'invalidation events')}"
                       for what, n in sub.counts().items())
    what = f"{target} ({direction})" if target else "the whole graph"
    if fmt == "archive":
        from latteprov.exchange import archive

        with _output(output) as out:
            archive.write(sub, out)
    else:
        from latteprov.exchange import provdoc

        text = provdoc.serialize(sub, fmt)
        with _output(output) as out:
            out.write(text)
    click.echo(f"{fmt} of {what}: {counts}" + (f" -> {output}" if output else ""), err=True)


@click.command("import")
@click.argument("archive_path", metavar="ARCHIVE", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def import_command(app: AppContext, archive_path: Path) -> None:
    """Merge ARCHIVE (from 'latteprov export --format archive') into this database.

    Everything is checked first and written in one transaction, with the checks of every write:
    a second import changes nothing; a value the graph recorded before differently is kept and
    reported ('conflict:' lines, exit status 3); a bad archive writes nothing (exit status 1).
    """
    from latteprov.exchange import archive

    result = archive.import_archive(app.store, archive.read(archive_path))
    w = result.write
    click.echo(f"{archive_path}: {w.entities_created} entities created, {w.entities_matched} already there, "
               f"{w.edges_written} edges written, {result.events_created} invalidation events recorded, "
               f"{result.marked_invalid} entities marked invalid")
    report_conflicts(result.conflicts)


@click.command("qcdml")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--ensemble", metavar="TAG",
              help="Ensemble of the configuration documents (default: the last segment of their markovChainURI).")
@pass_app
def ingest_qcdml(app: AppContext, files: tuple[Path, ...], ensemble: str | None) -> None:
    """Record ILDG QCDml documents: ensembles (markovChain) and configurations (gaugeConfiguration).

    All FILES are read and checked first, then written in one transaction (nothing of them is
    written if one is malformed or names an ensemble of another geometry).
    """
    from latteprov.exchange import qcdml

    report = qcdml.ingest(app.store, list(files), ensemble)
    w = report.result
    click.echo(f"{len(report.ensembles)} ensemble and {len(report.configurations)} configuration documents: "
               f"{w.entities_created} entities created, {w.entities_matched} already there, {w.edges_written} edges")
    report_conflicts(w.conflicts)


COMMANDS: list[click.Command] = [export_command, import_command]
