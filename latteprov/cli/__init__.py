"""The ``latteprov`` command: parses options, calls the library, renders the result.

Each area of commands lives in its own module and lists them in ``COMMANDS``. Library errors
(:class:`latteprov.errors.LatteprovError`) become one-line ``click.ClickException``s here and
nowhere else.
"""
from __future__ import annotations

import click

from latteprov import __version__
from latteprov.cli import core, db, demo, export, ingest, plan, record, sync, users, web
from latteprov.cli.context import AppContext
from latteprov.errors import LatteprovError


class LatteprovGroup(click.Group):
    """A group that turns library errors into one clear line and a non-zero exit."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except LatteprovError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=LatteprovGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="latteprov")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Provenance tracker for lattice-QCD data, backed by Neo4j."""
    ctx.obj = AppContext()
    ctx.call_on_close(ctx.obj.close)


for _area in (db, core, record, ingest, plan, web, sync, users, export, demo):
    for _command in _area.COMMANDS:
        main.add_command(_command)
