"""``latteprov serve``: the web app (graph browser, dashboard, tables, schema, JSON API)."""
from __future__ import annotations

import click
from flask import Flask

from latteprov.cli.context import AppContext, pass_app
from latteprov.errors import LatteprovError


def build_app(app: AppContext, allow_writes: bool = False, anonymous_read: bool = False) -> Flask:
    """The web app over the CLI's settings (imported here so ``latteprov --help`` stays fast)."""
    from latteprov.web import create_app

    return create_app({"SETTINGS": app.settings, "ALLOW_WRITES": allow_writes, "ANONYMOUS_READ": anonymous_read})


def run(web_app: Flask, host: str, port: int) -> None:
    """Serve ``web_app`` until interrupted (threaded werkzeug server), then close its store."""
    from werkzeug.serving import run_simple

    from latteprov.web import db

    try:
        run_simple(host, port, web_app, threaded=True)
    except OSError as exc:
        raise LatteprovError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        db.close(web_app)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--allow-writes", is_flag=True,
              help="Enable the invalidate/revalidate buttons (for logged-in writers).")
@click.option("--anonymous-read", is_flag=True, help="Let visitors browse without logging in.")
@click.option("--get", "get_path", metavar="PATH",
              help="Do not serve: run one GET request through the app and print the answer.")
@pass_app
def serve(app: AppContext, host: str, port: int, allow_writes: bool, anonymous_read: bool,
          get_path: str | None) -> None:
    """Serve the web app (graph browser, completion dashboard, tables, schema, JSON API)."""
    app.store.check()
    web_app = build_app(app, allow_writes=allow_writes, anonymous_read=anonymous_read or bool(get_path))
    if get_path:
        response = web_app.test_client().get(get_path)
        click.echo(response.get_data(as_text=True))
        if response.status_code >= 400:
            raise click.exceptions.Exit(1)
        return
    click.echo(f"latteprov web at http://{host}:{port}/ (Ctrl-C to stop)", err=True)
    run(web_app, host, port)


COMMANDS: list[click.Command] = [serve]
