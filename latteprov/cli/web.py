"""``latteprov serve``: the web app (graph browser, dashboard, tables, schema, JSON API)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from flask import Flask

from latteprov.cli.context import AppContext, pass_app
from latteprov.errors import LatteprovError

if TYPE_CHECKING:
    import socket

    from latteprov.web.serving import ServeOptions


def build_app(app: AppContext, allow_writes: bool = False, anonymous_read: bool = False,
              proxy_headers: bool = False, trusted_proxies: str = "127.0.0.1,::1") -> Flask:
    """The web app over the CLI's settings (imported here so ``latteprov --help`` stays fast)."""
    from latteprov.web import create_app

    config = {"SETTINGS": app.settings, "ALLOW_WRITES": allow_writes, "ANONYMOUS_READ": anonymous_read}
    if proxy_headers:
        config.update(PROXY_HEADERS=True, TRUSTED_PROXIES=trusted_proxies)
    return create_app(config)


def run_dev(web_app: Flask, host: str, port: int) -> None:
    """Serve ``web_app`` with werkzeug's development server until interrupted (``--dev`` only:
    one process, no access log worth the name, no timeouts), then close its store."""
    from werkzeug.serving import run_simple

    from latteprov.web import db

    from latteprov.web.serving import url_of

    click.echo(f"latteprov web (development server) at {url_of(host, port)} (Ctrl-C to stop)", err=True)
    try:
        run_simple(host, port, web_app, threaded=True)
    except OSError as exc:
        raise LatteprovError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        db.close(web_app)


def listen(options: "ServeOptions") -> "socket.socket":
    """The socket to serve on, bound before the app is built so a port in use is the one line
    said (:func:`latteprov.web.serving.bind`)."""
    from latteprov.web.serving import bind, check_access_log, check_options

    check_options(options)
    check_access_log(options.access_log)
    return bind(options.host, options.port)


def run(web_app: Flask, options: "ServeOptions", sock: "socket.socket", dev: bool = False) -> None:
    """Serve ``web_app`` on ``sock`` (from :func:`listen`): gunicorn
    (:mod:`latteprov.web.serving`), or werkzeug's development server with ``dev``."""
    if dev:
        sock.close()
        run_dev(web_app, options.host, options.port)
        return
    from latteprov.web.serving import serve as serve_production

    serve_production(web_app, options, sock)


def serve_options(f: Callable) -> Callable:
    """The serving options ``latteprov serve`` and ``latteprov demo`` share."""
    for option in reversed([
        click.option("--host", default="127.0.0.1", show_default=True,
                     help="Interface to listen on (0.0.0.0 for every interface; behind a proxy keep 127.0.0.1)."),
        click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
                     help="Port to listen on (0: any free port, printed)."),
        click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
                     help="Worker processes (about one per core)."),
        click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
                     help="Threads per worker (requests mostly wait for Neo4j)."),
        click.option("--timeout", default=60, show_default=True, type=click.IntRange(5, 3600),
                     help="Seconds before a silent worker is restarted; database work per request "
                          "is bounded apart (LATTEPROV_WEB_DB_TIMEOUT, default 30 s)."),
        click.option("--access-log", default="-", show_default=True, metavar="FILE",
                     help="Where the access log goes ('-': standard output; 'none' for no log)."),
        click.option("--proxy-headers", is_flag=True,
                     help="Behind a reverse proxy: take client address, scheme and host from its "
                          "X-Forwarded-* headers (only from --forwarded-allow-ips)."),
        click.option("--forwarded-allow-ips", default="127.0.0.1,::1", show_default=True, metavar="IPS",
                     help="Comma-separated addresses or networks (10.0.0.0/8) of the proxies whose "
                          "headers are believed."),
        click.option("--dev", is_flag=True,
                     help="Werkzeug's development server instead (one process; never for a group server)."),
    ]):
        f = option(f)
    return f


def options_from(kwargs: dict[str, Any]) -> "ServeOptions":
    """The :class:`~latteprov.web.serving.ServeOptions` of the options of :func:`serve_options`."""
    from latteprov.web.serving import ServeOptions

    log = kwargs["access_log"]
    return ServeOptions(host=kwargs["host"], port=kwargs["port"], workers=kwargs["workers"],
                        threads=kwargs["threads"], timeout=kwargs["timeout"],
                        access_log=None if log == "none" else log, proxy_headers=kwargs["proxy_headers"],
                        forwarded_allow_ips=kwargs["forwarded_allow_ips"])


@click.command()
@serve_options
@click.option("--allow-writes", is_flag=True,
              help="Enable the invalidate/revalidate buttons (for logged-in writers).")
@click.option("--anonymous-read", is_flag=True, help="Let visitors browse without logging in.")
@click.option("--get", "get_path", metavar="PATH",
              help="Do not serve: run one GET request through the app and print the answer.")
@pass_app
def serve(app: AppContext, allow_writes: bool, anonymous_read: bool, get_path: str | None, **kwargs: Any) -> None:
    """Serve the web app (graph browser, completion dashboard, tables, schema, JSON API) with
    gunicorn: worker processes with threads, an access log, request size limits and time
    limits, writers' rate limits, graceful stop on SIGTERM (see docs/install.md, "Group server")."""
    app.store.check()
    app.close()  # the check's connection is not for the workers to inherit
    app.__dict__.pop("store", None)
    options = options_from(kwargs)
    sock = None if get_path else listen(options)
    web_app = build_app(app, allow_writes=allow_writes, anonymous_read=anonymous_read or bool(get_path),
                        proxy_headers=kwargs["proxy_headers"], trusted_proxies=kwargs["forwarded_allow_ips"])
    if sock is not None:
        from latteprov.web.serving import exposure_warning

        warning = exposure_warning(options)
        if warning:
            click.echo(warning, err=True)
    if get_path:
        response = web_app.test_client().get(get_path)
        click.echo(response.get_data(as_text=True))
        if response.status_code >= 400:
            raise click.exceptions.Exit(1)
        return
    run(web_app, options, sock, dev=kwargs["dev"])


COMMANDS: list[click.Command] = [serve]
