"""Serving the web app in production: gunicorn, pre-forked workers with threads.

Why gunicorn (not waitress): its master process restarts a worker that dies or hangs (the
``timeout``), a worker that grows is recycled after ``max_requests``, several processes use both
cores for the app's Python work (rendering, JSON) that one process's threads would share
under the GIL, SIGTERM is a graceful stop (no new connections, requests in flight finish
within ``graceful_timeout``), SIGHUP reloads, the access log is built in, and it trusts the
``X-Forwarded-Proto`` of given proxy addresses only (``forwarded_allow_ips``). It runs on
Linux and other Unix systems only, as the group servers do; ``latteprov serve --dev`` (werkzeug's
development server) is there for anything else.

The listening socket is bound here, before gunicorn starts, and handed over as ``fd://``:
a port in use is one line, and port 0 means "any free port" (the line printed names it).
The app is built once in the master (``preload_app``) so every worker shares its secret key
and no worker imports anything on a request; the master opens no database connection, each
worker opens its own pool on first use and closes it on exit.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

from flask import Flask

from latteprov.errors import LatteprovError


@dataclass(frozen=True)
class ServeOptions:
    """How ``latteprov serve`` runs gunicorn. ``timeout``, ``graceful_timeout``, ``keepalive``:
    seconds; ``access_log``: a file path or ``-`` (standard output), None for none;
    ``forwarded_allow_ips``: comma-separated proxy addresses whose ``X-Forwarded-*`` headers
    are believed (with ``proxy_headers``)."""

    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    threads: int = 8
    timeout: int = 60
    graceful_timeout: int = 20
    keepalive: int = 5
    max_requests: int = 5000
    access_log: str | None = "-"
    proxy_headers: bool = False
    forwarded_allow_ips: str = "127.0.0.1,::1"


def url_of(host: str, port: int) -> str:
    """The URL of ``host``:``port`` (an IPv6 address in brackets)."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name) is the machine's own loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(options: ServeOptions) -> str | None:
    """The one-line warning for serving on a host other than loopback without a reverse proxy
    (gunicorn reads request headers with no time limit, so a few slow clients can hold every
    worker thread; nginx in front reads them first), else None."""
    if is_loopback(options.host) or options.proxy_headers:
        return None
    return (f"warning: serving on {options.host} without --proxy-headers: slow clients can hold every "
            "worker thread (gunicorn has no header timeout); put nginx in front (docs/install.md, "
            "'Group server')")


def check_options(options: ServeOptions) -> None:
    """LatteprovError (one line) for options gunicorn would refuse only once started:
    ``forwarded_allow_ips`` must be addresses or networks (or ``*``)."""
    from latteprov.web.limits import WebConfigError, networks

    try:
        networks("--forwarded-allow-ips", options.forwarded_allow_ips)
    except WebConfigError as exc:
        raise LatteprovError(str(exc)) from None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (inheritable, for gunicorn's workers);
    LatteprovError naming the address when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise LatteprovError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = "the port is already in use" if exc.errno == 98 else (exc.strerror or str(exc))
        raise LatteprovError(f"cannot serve on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


def check_access_log(path: str | None) -> None:
    """LatteprovError (one line) unless the access log ``path`` can be appended to ('-' and
    None always can)."""
    if path in (None, "-"):
        return
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise LatteprovError(f"cannot write the access log {path}: {exc.strerror or exc}") from None


def gunicorn_config(options: ServeOptions, fd: int) -> dict[str, Any]:
    """gunicorn's settings for ``options``, listening on the already bound ``fd``."""
    return {
        "bind": [f"fd://{fd}"],
        "workers": options.workers,
        "threads": options.threads,
        "worker_class": "gthread",
        "timeout": options.timeout,
        "graceful_timeout": options.graceful_timeout,
        "keepalive": options.keepalive,
        "max_requests": options.max_requests,
        "max_requests_jitter": max(options.max_requests // 10, 0),
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
        "accesslog": options.access_log,
        "access_log_format": '%(h)s - %(u)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"',
        "errorlog": "-",
        "loglevel": "warning",
        "forwarded_allow_ips": options.forwarded_allow_ips if options.proxy_headers else "127.0.0.1,::1",
        "preload_app": True,
        "control_socket_disable": True,
        "proc_name": "latteprov-web",
    }


def serve(web_app: Flask, options: ServeOptions, sock: socket.socket | None = None) -> None:
    """Serve ``web_app`` with gunicorn until SIGTERM or SIGINT, on ``sock`` (from :func:`bind`;
    bound here from ``options`` when None); LatteprovError (one line) when the address cannot
    be bound or gunicorn stops with an error."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # gunicorn is a dependency on every platform it runs on
        raise LatteprovError("gunicorn is not installed (it runs on Linux and Unix only): "
                             "use 'latteprov serve --dev' here") from None
    from latteprov.web import db

    sock = sock or bind(options.host, options.port)
    port = sock.getsockname()[1]
    config = gunicorn_config(options, sock.detach())  # gunicorn owns (and closes) the descriptor now

    class Application(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in config.items():
                self.cfg.set(key, value)
            self.cfg.set("worker_exit", lambda server, worker: db.close(web_app))

        def load(self) -> Flask:
            return web_app

    print(f"latteprov web at {url_of(options.host, port)} (gunicorn, {options.workers} workers x "
          f"{options.threads} threads; SIGTERM or Ctrl-C stops it)", file=sys.stderr, flush=True)
    master = os.getpid()
    try:
        Application().run()
    except SystemExit as exc:
        if os.getpid() != master:  # a worker ending: its exit is gunicorn's business
            raise
        if exc.code not in (0, None):
            raise LatteprovError(f"the web server stopped with status {exc.code} (see the lines above)") from None
    finally:
        if os.getpid() == master:
            db.close(web_app)
