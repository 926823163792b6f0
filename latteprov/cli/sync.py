"""``latteprov sync``: replay offline spools into the graph."""
from __future__ import annotations

from pathlib import Path

import click

from latteprov import spool
from latteprov.cli.context import AppContext, pass_app


@click.command("sync")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@pass_app
def sync(app: AppContext, directory: Path | None) -> None:
    """Replay the spool files of DIRECTORY (default: the spool, LATTEPROV_SPOOL) into the graph.

    Replay is idempotent; each file moves to DIRECTORY/done/ once its content is committed.
    Runs that started and never finished (killed at their wall-clock limit) are marked failed;
    conflicting properties are reported, never overwritten. Files still being written are skipped.
    """
    if directory is None and not app.settings.spool_dir.is_dir():
        click.echo(f"nothing to sync: {app.settings.spool_dir} does not exist")
        return
    directory = directory or app.settings.spool_dir
    report = spool.sync(app.store, directory)
    for f in report.files:
        torn = " (a torn last line, never acknowledged to its job, was left out)" if f.torn else ""
        click.echo(f"{f.path.name}: {f.events} event(s), {f.runs} run(s){torn}")
    for uid in report.unfinished:
        click.echo(f"failed: run {uid} started but never finished (killed at its wall-clock limit?)")
    for conflict in report.conflicts:
        click.echo(f"conflict (not overwritten): {conflict}")
    for path in report.busy:
        click.echo(f"skipped {path.name}: a job is still writing it")
    click.echo(f"synced {len(report.files)} file(s) from {directory}: "
               f"{sum(f.runs for f in report.files)} run(s), {len(report.unfinished)} never finished, "
               f"{len(report.conflicts)} conflict(s), {len(report.busy)} busy")
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if report.errors:
        raise click.ClickException(f"{len(report.errors)} spool file(s) could not be replayed; they stay in {directory}")


COMMANDS: list[click.Command] = [sync]
