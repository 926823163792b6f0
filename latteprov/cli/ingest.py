"""``latteprov ingest names|h5``, ``latteprov scan``, ``latteprov derive tslice|average|fft|project|concatenate``."""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from latteprov.cli.context import AppContext, pass_app
from latteprov.cli.export import ingest_qcdml
from latteprov.cli.output import EXIT_CONFLICTS, report_conflicts
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


def report_problems(problems: list[str]) -> None:
    """One line per problem on stderr; exit 1 when there were any."""
    for line in problems:
        click.echo(f"error: {line}", err=True)
    if problems:
        raise click.exceptions.Exit(1)


@click.group()
def ingest() -> None:
    """Read what exists: file names, HDF5 correlator files and ILDG QCDml documents."""


ingest.add_command(ingest_qcdml)


@ingest.command("names")
@click.argument("paths", nargs=-1)
@click.option("--from-list", "from_list", type=click.File("r"), help="File with one path or name per line ('-' for stdin).")
@click.option("--dry-run", is_flag=True, help="Say what the names would create (by kind) and what is known already; write nothing.")
@click.option("--initial", is_flag=True,
              help="Bulk first load into the EMPTY LOCAL database: CSV files and neo4j-admin import (the "
                   "server is restarted), then what 'latteprov init' does. Refused otherwise.")
@with_conventions
@pass_app
def ingest_names(app: AppContext, paths: tuple[str, ...], from_list, dry_run: bool, initial: bool, convention_files,
                 ensemble_map) -> None:
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
    if initial and dry_run:
        raise click.UsageError("--initial and --dry-run exclude each other")
    sink = None
    if initial:
        from latteprov.bulkload import InitialLoad

        sink = InitialLoad(app.store, app.settings)
        sink.check()  # refused before any progress is shown
    with progress_bar("names", len(names)) as advance:
        report = run(app.store, conv, names, advance=advance, dry_run=dry_run, sink=sink)
    w = report.written
    if dry_run:
        kinds = ", ".join(f"{kind} {n}" for kind, n in (report.would_create or {}).items())
        click.echo(f"dry run: {report.names} names, {report.matched} matched; their nodes (a name gives several: "
                   f"the product and its inputs): {w.entities_created} would be created{f' ({kinds})' if kinds else ''}, "
                   f"{w.entities_matched} are known already; nothing was written")
        if report.unmatched:
            click.echo(f"{report.unmatched} names fit no template, e.g. {', '.join(report.unmatched_examples)}", err=True)
        report_problems(report.problems)
        return
    click.echo(f"{report.names} names, {report.matched} matched: {w.entities_created} nodes created, "
               f"{w.entities_matched} already known, {w.edges_written} edges, {report.files} files "
               f"({report.rate:,.0f} names/s)")
    if report.unmatched:
        click.echo(f"{report.unmatched} names fit no template, e.g. {', '.join(report.unmatched_examples)}", err=True)
    report_conflicts(w.conflicts, exit=False)
    report_problems(report.problems)
    if w.conflicts:
        raise click.exceptions.Exit(EXIT_CONFLICTS)


@ingest.command("h5")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--ensemble", help="Ensemble tag of collected files (default: from the file name, a15m310-devel.h5 -> a15m310).")
@click.option("--stream", help="Stream of collected files (default: the layout's).")
@click.option("--checksum", is_flag=True, help="Add a streamed sha256 of each file.")
@with_conventions
@pass_app
def ingest_h5(app: AppContext, files: tuple[str, ...], ensemble, stream, checksum, convention_files, ensemble_map) -> None:
    """Record the correlators in HDF5 FILES, and the lineage their `meta` attributes name."""
    from latteprov.ingest.h5 import ingest_h5 as run

    conv = _conventions(convention_files, ensemble_map)
    with progress_bar("files", len(files)) as advance:
        report = run(app.store, conv, files, ensemble=ensemble, stream=stream, checksum=checksum, advance=advance)
    w = report.written
    click.echo(f"{report.ingested} of {report.files} files ingested: {w.entities_created} nodes created, "
               f"{w.entities_matched} already known, {w.edges_written} edges; {len(report.problems)} failed")
    report_conflicts(w.conflicts, exit=False)
    report_problems(report.problems)
    if w.conflicts:
        raise click.exceptions.Exit(EXIT_CONFLICTS)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--tape-listing", type=click.Path(exists=True, dir_okay=False),
              help="Output of 'hsi ls -l' (or one path per line): files listed are on tape.")
@click.option("--expected-sizes", type=click.Path(exists=True, dir_okay=False),
              help="Lines 'PATTERN SIZE' (shell pattern on the file name): smaller files are wrong_size.")
@pass_app
def scan(app: AppContext, paths: tuple[str, ...], tape_listing, expected_sizes) -> None:
    """Refresh the status of the DataFiles under PATHS (all DataFiles of this host when none)."""
    from latteprov.ingest.scan import scan as run

    with progress_bar("files", None) as advance:
        report = run(app.store, paths, tape_listing=tape_listing, expected_sizes=expected_sizes, advance=advance)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts.items()))
    click.echo(f"{report.files} files scanned in {report.seconds:.1f} s ({counts or 'none'})")


@click.group()
def derive() -> None:
    """Recorded post-processing that writes HDF5 with `meta` lineage."""


def _derive_command(name: str, help_text: str, *options: Callable) -> click.Command:
    @click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
    @click.option("-o", "--output", type=click.Path(),
                  help="File (one input) or directory to write; default: CalLat's name beside each input.")
    @with_conventions
    @pass_app
    def command(app: AppContext, inputs, output, convention_files, ensemble_map, **params) -> None:
        from latteprov.ingest import derive as steps

        result = getattr(steps, name)(app.store, _conventions(convention_files, ensemble_map), list(inputs), output,
                                      **params)
        click.echo(f"{', '.join(result.outputs)}: {len(result.datasets)} datasets from {result.inputs} inputs, "
                   f"run {result.run}")

    command.__doc__ = help_text
    for option in reversed(options):
        command = option(command)
    return derive.command(name)(command)


_derive_command("tslice", "Cut the per-source 4D correlators of INPUTS to their source-sink window (CalLat's tslice).",
                click.option("--tslice-fact", type=float, help="Spectra: keep int(Nt * FACT) + 1 time slices."))
_derive_command("average", "Average the per-source correlators of INPUTS over sources (and spectra over spins).")
_derive_command("fft", "Fourier-transform the source averages of INPUTS (CalLat's fft), keeping |p_i| <= K.",
                click.option("--max-momentum", type=click.IntRange(min=0), default=5, show_default=True,
                             help="K, the largest momentum component kept."))
_derive_command("project", "Pick one momentum out of the FFTs of INPUTS (and time-reverse negative parity).",
                click.option("--momentum", type=(int, int, int), default=(0, 0, 0), show_default=True,
                             metavar="PX PY PZ", help="The momentum picked (the current's, for form factors)."),
                click.option("--time-reversal", is_flag=True,
                             help="Time-reverse negative-parity correlators (phase -1 spectra, +1 form factors)."),
                click.option("--truncate", type=click.IntRange(min=1), help="Keep the first N time slices."))
_derive_command("concatenate", "Stack the per-configuration correlators of INPUTS into OUTPUT with cfgs_srcs.")

COMMANDS: list[click.Command] = [ingest, scan, derive]
