"""The web app's limits: request sizes, the database's time per request, writers' rates, and
the proxy headers it trusts.

Settings (``app.config``; a site sets them as ``LATTEPROV_WEB_<NAME>`` environment variables,
read by :func:`latteprov.web.create_app`):

- ``MAX_CONTENT_LENGTH`` (bytes, default 1 MiB) and ``MAX_FORM_MEMORY_SIZE`` (bytes, default
  64 KiB): a larger request body is answered 413 before the view runs (Flask's own limits);
  the URL and header sizes are the WSGI server's (``latteprov serve`` keeps gunicorn's limits:
  a request line of 8190 bytes, 100 header fields of 8190 bytes each);
- ``DB_TIMEOUT`` (seconds, default 30): every transaction a request runs is ended by the server
  after that long, and the request answers 503 (see :class:`latteprov.store.StoreTimeout`);
- ``WRITE_RATE_LIMIT`` (default ``"30 per minute"``): how often one user may call the routes
  that need the writer role (invalidate, revalidate), all together; ``LOGIN_RATE_LIMIT`` (default
  ``"20 per minute"``): login attempts per client address. Over the limit: 429 with
  ``Retry-After``. Counts are kept by Flask-Limiter in ``RATELIMIT_STORAGE_URI`` (default
  ``memory://``: per process, so with several workers each keeps its own count and a user may
  make up to workers x the limit; a ``redis://`` or ``memcached://`` URI shares them);
  ``RATELIMIT_ENABLED`` (default True);
- ``PROXY_HEADERS`` (default False) and ``TRUSTED_PROXIES`` (default ``"127.0.0.1,::1"``):
  behind a reverse proxy, take the client address, scheme, host and prefix from its
  ``X-Forwarded-*`` headers (werkzeug's ProxyFix, one proxy) for requests that come from a
  trusted proxy only; headers from anyone else are dropped.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 1 << 20,
    "MAX_FORM_MEMORY_SIZE": 64 << 10,
    "DB_TIMEOUT": 30.0,
    "WRITE_RATE_LIMIT": "30 per minute",
    "LOGIN_RATE_LIMIT": "20 per minute",
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ENABLED": True,
    "PROXY_HEADERS": False,
    "TRUSTED_PROXIES": "127.0.0.1,::1",
}
FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
             "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX")


def user_key() -> str:
    """Whom a rate limit counts: the logged-in user's name, else the client's address."""
    if current_user.is_authenticated:
        return f"user:{current_user.username}"
    return f"addr:{request.remote_addr}"


def _address_key() -> str:
    return f"addr:{request.remote_addr}"


class TrustedProxyFix:
    """ProxyFix for requests whose peer is one of ``trusted`` (addresses); from any other peer
    the ``X-Forwarded-*`` headers are removed, so no client can claim another address."""

    def __init__(self, wsgi_app: Callable, trusted: Iterable[str]) -> None:
        self.trusted = {t.strip() for t in trusted if t.strip()}
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
        self.plain = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        if "*" in self.trusted or environ.get("REMOTE_ADDR") in self.trusted:
            return self.fixed(environ, start_response)
        for key in FORWARDED:
            environ.pop(key, None)
        return self.plain(environ, start_response)


def _trusted(value: str | Iterable[str]) -> list[str]:
    return value.split(",") if isinstance(value, str) else list(value)


def init_app(app: Flask) -> Limiter:
    """Apply the limits to ``app`` (after every blueprint is registered): the rate limits on
    the login form and on every view that needs the writer role, and the proxy fix. Returns the
    app's own limiter (each app counts apart)."""
    from latteprov.web.auth import WRITE_ROLES

    limiter = Limiter(user_key, app=app, storage_uri=app.config["RATELIMIT_STORAGE_URI"],
                      headers_enabled=True, strategy="moving-window")
    writes = limiter.shared_limit(lambda: current_app.config["WRITE_RATE_LIMIT"], scope="writes")
    for endpoint, view in list(app.view_functions.items()):
        if getattr(view, "required_role", None) in WRITE_ROLES:
            app.view_functions[endpoint] = writes(view)
    if "auth.login" in app.view_functions:
        app.view_functions["auth.login"] = limiter.limit(
            lambda: current_app.config["LOGIN_RATE_LIMIT"], key_func=_address_key,
            methods=["POST"])(app.view_functions["auth.login"])
    if app.config["PROXY_HEADERS"]:
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, _trusted(app.config["TRUSTED_PROXIES"]))  # type: ignore[method-assign]
    return limiter
