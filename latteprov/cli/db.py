"""``latteprov db start|stop|status`` and ``latteprov init``: the database itself."""
from __future__ import annotations

import time
from pathlib import Path

import click

from latteprov.cli.context import AppContext, pass_app
from latteprov.server import manager


@click.group()
def db() -> None:
    """Run a local Neo4j Community server (no Docker needed) and ask how it is."""


def _home(app: AppContext, data_dir: Path | None) -> Path:
    return (data_dir or app.settings.server_dir).expanduser()


data_dir_option = click.option("--data-dir", type=click.Path(path_type=Path), default=None,
                               help="Server home (data, log, pid). Default: <user data dir>/latteprov/neo4j.")


@db.command()
@data_dir_option
@click.option("--port", type=click.IntRange(1, 65535), default=manager.NEO4J_DEFAULT_PORT, show_default=True,
              help="Bolt port on 127.0.0.1.")
@click.option("--no-auth", is_flag=True, help="Disable authentication (throwaway test servers only).")
@click.option("--page-cache", default="512m", show_default=True, help="Neo4j page cache size.")
@click.option("--heap", default="1g", show_default=True, help="JVM heap size.")
@pass_app
def start(app: AppContext, data_dir: Path | None, port: int, no_auth: bool, page_cache: str, heap: str) -> None:
    """Start Neo4j in the background; fetch its jars with Maven the first time."""
    home = _home(app, data_dir)
    began = time.monotonic()
    if not (app.settings.cache_dir / f"neo4j-{manager.NEO4J_VERSION}" / "lib" / ".complete").exists():
        click.echo(f"fetching Neo4j {manager.NEO4J_VERSION} jars from Maven Central (once) ...", err=True)
    info, started = manager.start(home, app.settings.cache_dir, port=port, auth=not no_auth,
                                  page_cache=page_cache, heap=heap)
    if not started:
        click.echo(f"Neo4j already running at {info.uri} (pid {info.pid}, data {home})")
        return
    click.echo(f"Neo4j {manager.NEO4J_VERSION} running at {info.uri} (pid {info.pid}, data {home}, "
               f"started in {time.monotonic() - began:.1f} s)")
    if not no_auth:
        click.echo(f"user neo4j, password in {home / 'password'} (mode 0600; latteprov reads it itself)")


@db.command()
@data_dir_option
@pass_app
def stop(app: AppContext, data_dir: Path | None) -> None:
    """Stop the local Neo4j cleanly (the data stays)."""
    home = _home(app, data_dir)
    if manager.stop(home):
        click.echo(f"Neo4j stopped (data kept in {home})")
    else:
        click.echo(f"no Neo4j running from {home}")


@db.command()
@pass_app
def status(app: AppContext) -> None:
    """Print the server's URI, version and counts; exit non-zero when nothing answers."""
    info = app.store.server_info()
    click.echo(f"{app.settings.uri}  Neo4j {info['version']} {info['edition']}  "
               f"{info['nodes']} nodes  {info['relationships']} relationships")


@click.command()
@pass_app
def init(app: AppContext) -> None:
    """Install the constraints and indexes (idempotent)."""
    from latteprov import schema

    done = schema.install(app.store)
    click.echo(f"schema installed: {len(done)} constraints and indexes at {app.settings.uri}")


COMMANDS: list[click.Command] = [db, init]
