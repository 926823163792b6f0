"""``latteprov synth``: deterministic synthetic campaigns, into the database or as CalLat file-name lists."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from latteprov import synth
from latteprov.cli.context import AppContext, pass_app


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=False)


@click.command("synth")
@click.option("--tier", default="S", show_default=True,
              help="Campaign size: S, M, L or XL (docs/performance.md), or e.g. M/4 for a quarter of M's configurations.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of positions, states and file statuses.")
@click.option("--write", "write", is_flag=True, help="Write the campaign into the database (bulk path).")
@click.option("--initial", is_flag=True,
              help="Write it as a bulk first load into the EMPTY LOCAL database (CSV files, neo4j-admin "
                   "import, the server restarted, then what 'latteprov init' does); refused otherwise.")
@click.option("--names", "names_file", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write the campaign's CalLat file names, one a line, to this file ('-' for stdout).")
@pass_app
def synth_command(app: AppContext, tier: str, seed: int, write: bool, initial: bool, names_file: Path | None) -> None:
    """Generate a deterministic synthetic campaign of TIER (S, M, L, XL)."""
    if (write or initial) == (names_file is not None) or (write and initial):
        raise click.UsageError("give exactly one of --write, --initial and --names FILE")
    synth.tier_shape(tier)
    if names_file is not None:
        out = click.get_text_stream("stdout") if str(names_file) == "-" else names_file.open("w")
        with out:
            count = 0
            for name in synth.names(tier, seed):
                out.write(name + "\n")
                count += 1
        click.echo(f"{count} file names of tier {tier.upper()} (seed {seed})", err=True)
        return
    expected = synth.counts(tier)
    if initial:
        from latteprov.bulkload import InitialLoad, initial_load

        InitialLoad(app.store, app.settings).check()  # refused before any progress is shown
        with _progress() as bar:
            task = bar.add_task(f"tier {tier.upper()}: configurations", total=synth.batch_count(tier))

            def batches() -> Iterator:
                for batch in synth.campaign(tier, seed):
                    yield batch
                    bar.advance(task, 1)

            load = initial_load(app.store, app.settings, batches(), say=lambda msg: bar.console.log(msg))
        seconds = ", ".join(f"{k} {v} s" for k, v in load.bulk.seconds.items())
        click.echo(f"{load.bulk.nodes} nodes and {load.bulk.relationships} edges loaded by neo4j-admin "
                   f"(tier {tier.upper()}: {expected['nodes']} nodes, {expected['edges']} edges expected; {seconds})")
        return
    from latteprov import schema

    schema.install(app.store)
    with _progress() as bar:
        task = bar.add_task(f"tier {tier.upper()}: configurations", total=synth.batch_count(tier))
        result = synth.write(app.store, tier, seed, progress=lambda n: bar.advance(task, n))
    click.echo(f"{result.entities_created} entities created, {result.entities_matched} already there, "
               f"{result.edges_written} edges written (tier {tier.upper()}: {expected['nodes']} nodes, "
               f"{expected['edges']} edges expected)")


COMMANDS: list[click.Command] = [synth_command]
