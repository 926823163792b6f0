"""``latteprov record``: runs described in manifests, for job scripts in any language."""
from __future__ import annotations

import click

from latteprov import manifest
from latteprov.cli.context import AppContext, pass_app
from latteprov.cli.output import report_conflicts


@click.command("record")
@click.argument("manifests", nargs=-1, required=True, metavar="MANIFEST...")
@click.option("--offline", is_flag=True, help="Append the runs to the local spool without trying the database.")
@pass_app
def record(app: AppContext, manifests: tuple[str, ...], offline: bool) -> None:
    """Record the runs of MANIFEST files (JSON, YAML or JSON Lines; '-' reads stdin).

    All runs are validated before anything is written, then written in one transaction. When
    Neo4j cannot be reached (or with --offline) they go to the spool (LATTEPROV_SPOOL) for
    'latteprov sync'. The format is docs/manifest.md, the schema docs/manifest.schema.json.
    A run or entity recorded before gains the properties it lacked; a property recorded with
    another value keeps that value and is reported as a conflict (exit status 3).
    """
    result = manifest.record(app.store, manifests, offline=offline)
    if result.spool is not None:
        click.echo(f"{result.reason}: {result.runs} run(s) recorded offline in {result.spool} "
                   "(replay with 'latteprov sync')")
        return
    w = result.written
    click.echo(f"recorded {result.runs} run(s): {w.entities_created} entities created, "
               f"{w.entities_matched} already known, {w.edges_written} edges")
    report_conflicts(w.conflicts)


COMMANDS: list[click.Command] = [record]
