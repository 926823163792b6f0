"""``latteprov ingest names|h5``, ``latteprov scan``, ``latteprov derive average|concatenate``."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from latteprov.cli.context import AppContext, pass_app
from latteprov.errors import InputError

conventions_options = [
    click.option("--conventions", "convention_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                 help="Convention file (TOML or YAML) adding templates to the CalLat preset; repeatable."),
    click.option("--ensemble-map", type=click.Path(dir_okay=False, path_type=Path),
                 help="File of 'SHORT_TAG LONG_TAG' lines (a09m310 l3296f211b630m0074m037m440)."),
]


def with_conventions(fn: Callable) -> Callable:
    for option in reversed(conventions_options):
        fn = option(fn)
    return fn


def _conventions(convention_files: tuple[Path, ...], ensemble_map: Path | None):
    from latteprov.ingest import conventions
    return conventions.load(list(convention_files), ensemble_map)


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``advance(n)``."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def report_problems(problems: list[str], failed_what: str) -> None:
    """One line per problem on stderr; exit 1 when there were any."""
    for line in problems:
        click.echo(f"error: {line}", err=True)
    if problems:
        raise click.exceptions.Exit(1)


@click.group()
def ingest() -> None:
    """Read what exists: file names and HDF5 correlator files."""


@ingest.command("names")
@click.argument("paths", nargs=-1)
@click.option("--from-list", "from_list", type=click.File("r"), help="File with one path or name per line ('-' for stdin).")
@with_conventions
@pass_app
def ingest_names(app: AppContext, paths: tuple[str, ...], from_list, convention_files, ensemble_map) -> None:
    """Record the nodes and derivations that file NAMES mean (CalLat conventions by default).

    PATH may be '-' to read names from stdin. Existing files also get a DataFile.
    """
    from latteprov.ingest.names import ingest_names as run

    conv = _conventions(convention_files, ensemble_map)
    names: list[str] = []
    for path in paths:
        if path == "-":
            names += sys.stdin.read().splitlines()
        else:
            names.append(path)
    if from_list is not None:
        names += from_list.read().splitlines()
    if not names:
        raise InputError("give PATH..., --from-list FILE or '-'")
    with progress_bar("names", len(names)) as advance:
        report = run(app.store, conv, names, advance=advance)
    w = report.written
    click.echo(f"{report.names} names, {report.matched} matched: {w.entities_created} nodes created, "
               f"{w.entities_matched} already known, {w.edges_written} edges, {report.files} files "
               f"({report.rate:,.0f} names/s)")
    if report.unmatched:
        click.echo(f"{report.unmatched} names fit no template, e.g. {', '.join(report.unmatched_examples)}", err=True)
    for conflict in w.conflicts[:10]:
        click.echo(f"warning: {conflict}", err=True)
    report_problems(report.problems, "names")


COMMANDS: list[click.Command] = [ingest]
