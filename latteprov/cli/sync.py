"""``latteprov sync``: replay offline spools into the graph."""
from __future__ import annotations

from pathlib import Path

import click

from latteprov import spool
from latteprov.cli.context import AppContext, pass_app
from latteprov.cli.output import EXIT_CONFLICTS, report_conflicts


@click.command("sync")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@pass_app
def sync(app: AppContext, directory: Path | None) -> None:
    """Replay the spool files of DIRECTORY (default: the spool, LATTEPROV_SPOOL) into the graph.

    Replay is idempotent; each file moves to DIRECTORY/done/ once its content is committed.
    Runs that started and never finished (killed at their wall-clock limit) are marked failed;
    conflicting properties are reported, never overwritten (exit status 3). Files still being
    written are skipped. A file that cannot be replayed moves to DIRECTORY/rejected/ with its
    reason beside it (exit status 1, after syncing the others); move it back to retry it.
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
    for path in report.busy:
        click.echo(f"skipped {path.name}: locked (a job is still writing it, or another sync is replaying it)")
    click.echo(f"synced {len(report.files)} file(s) from {directory}: "
               f"{sum(f.runs for f in report.files)} run(s), {len(report.unfinished)} never finished, "
               f"{len(report.conflicts)} conflict(s), {len(report.busy)} busy, {len(report.rejected)} rejected")
    for path, reason in report.rejected:
        click.echo(f"rejected: {reason} (moved to {path}; the reason is in {path.name}.reason)", err=True)
    report_conflicts(report.conflicts, exit=False)
    if report.rejected:
        raise click.ClickException(f"{len(report.rejected)} spool file(s) could not be replayed; they are in "
                                   f"{directory / spool.REJECTED} (move one back into {directory} to retry it)")
    if report.conflicts:
        raise click.exceptions.Exit(EXIT_CONFLICTS)


COMMANDS: list[click.Command] = [sync]
