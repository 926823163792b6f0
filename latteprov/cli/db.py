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


def _backup_line(result) -> str:
    m = result.manifest
    counts = m.get("counts") or {}
    what = f"{counts['nodes']} nodes, {counts['relationships']} relationships, " if counts else ""
    return (f"{what}{m['bytes'] / 1e6:.1f} MB ({m['kind']}, Neo4j {m['neo4j']}) in {result.directory / m['file']}")


@db.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@data_dir_option
@click.option("--online", is_flag=True,
              help="Export the graph of NEO4J_URI (any server, it keeps serving) as an archive instead "
                   "of dumping the local server.")
@click.option("--force", is_flag=True, help="Replace an earlier backup in DIRECTORY.")
@pass_app
def backup(app: AppContext, directory: Path, data_dir: Path | None, online: bool, force: bool) -> None:
    """Back the graph up into DIRECTORY (new or empty).

    The local server (default): stopped, dumped with neo4j-admin (Community's offline
    dump), started again as it was, so it does not answer for the dump's duration. --online:
    the whole graph of the configured server as a latteprov archive, read in one transaction
    while it serves (remote servers; it carries the provenance, not web users or campaigns).
    """
    from latteprov import backup as backups

    began = time.monotonic()
    with backups.interruptible():
        if online:
            result = backups.backup_online(app.store, directory, force=force)
        else:
            result = backups.backup_local(_home(app, data_dir), app.settings.cache_dir, directory, force=force)
    click.echo(f"backed up {_backup_line(result)} in {time.monotonic() - began:.1f} s")


@db.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@data_dir_option
@click.option("--online", is_flag=True,
              help="Merge an --online (archive) backup into the database of NEO4J_URI.")
@click.option("--force", is_flag=True,
              help="Replace the local database (or merge into a database that holds provenance).")
@pass_app
def restore(app: AppContext, directory: Path, data_dir: Path | None, online: bool, force: bool) -> None:
    """Restore the backup in DIRECTORY.

    A dump goes into the local server (stopped for the load and started again if it ran); only
    the Neo4j version that wrote it is accepted, and the database it replaces is kept until the
    load succeeds and put back if it fails or SIGTERM/Ctrl-C arrives. --online merges an archive backup into the configured server.
    """
    from latteprov import backup as backups

    began = time.monotonic()
    if online:
        with backups.interruptible():
            result = backups.restore_online(app.store, directory, force=force)
        done = result.manifest["imported"]
        click.echo(f"restored {directory / result.manifest['file']} into {app.settings.uri}: "
                   f"{done['entities_created']} entities created, {done['entities_matched']} already there, "
                   f"{done['edges_written']} edges, {done['events_created']} invalidation events "
                   f"({time.monotonic() - began:.1f} s)")
        return
    home = _home(app, data_dir)
    with backups.interruptible():
        result = backups.restore_local(home, app.settings.cache_dir, directory, force=force)
    check = {True: "; checksum of uids and edges matches the backup", False: "",
             None: " (not verified: the server is stopped or the backup was of a stopped server)"}[result.verified]
    if result.verified is False:
        raise backups.BackupError(f"restored {directory} into {home}, but its uids and edges differ from the "
                                  "backup's checksum")
    click.echo(f"restored {_backup_line(result)} into {home}{check} ({time.monotonic() - began:.1f} s)")


@click.command()
@pass_app
def init(app: AppContext) -> None:
    """Install the constraints and indexes (idempotent)."""
    from latteprov import schema

    done = schema.install(app.store)
    click.echo(f"schema installed: {len(done)} constraints and indexes at {app.settings.uri}")


COMMANDS: list[click.Command] = [db, init]
