"""The ``latteprov`` command: parses options, calls the library, renders the result.

Each area of commands lives in its own module and lists them in ``COMMANDS``. Library errors
(:class:`latteprov.errors.LatteprovError`) become one-line ``click.ClickException``s here and
nowhere else.
"""
from __future__ import annotations

import importlib

import click

from latteprov import __version__
from latteprov.cli.context import AppContext
from latteprov.errors import LatteprovError, shorten

MESSAGE_LIMIT = 2000
"""At most this many characters of an error message are printed."""

# Command name -> the module of latteprov.cli that defines it (in its COMMANDS). A command's
# module, and what it imports (the driver, neomodel, Flask ...), is loaded only when that
# command runs or help lists it, so `latteprov --version` and a query start fast
# (docs/performance.md). tests/test_cli_startup.py checks the table against the modules.
COMMAND_MODULES = {
    "db": "db", "init": "db",
    "lineage": "core", "downstream": "core", "path": "core", "show": "core", "find": "core", "status": "core",
    "invalidate": "core", "revalidate": "core", "schema": "core", "queries": "core",
    "record": "record", "sync": "sync",
    "ingest": "ingest", "scan": "ingest", "derive": "ingest",
    "serve": "web", "users": "users", "synth": "synth", "export": "export", "import": "export", "demo": "demo",
    "plan": "plan", "ready": "plan", "tasks": "plan",
}
AREAS = tuple(dict.fromkeys(COMMAND_MODULES.values()))


class LatteprovGroup(click.Group):
    """A group that loads each command's module on first use and turns library errors into one
    clear line and a non-zero exit."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_MODULES, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        area = COMMAND_MODULES.get(name)
        if area is None:
            return None
        module = importlib.import_module(f"latteprov.cli.{area}")
        return {command.name: command for command in module.COMMANDS}[name]

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except LatteprovError as exc:  # a message echoing a huge value is cut (the value's own cut is 200)
            raise click.ClickException(shorten(str(exc), MESSAGE_LIMIT)) from None


@click.group(cls=LatteprovGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="latteprov")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Provenance tracker for lattice-QCD data, backed by Neo4j.

    Exit status: 0 done; 1 an error, said in one line (nothing of that input written); 2 a
    usage error; 3 written, but some property was recorded before with another value, which was
    kept (one 'conflict:' line each on stderr).
    """
    ctx.obj = AppContext()
    ctx.call_on_close(ctx.obj.close)

