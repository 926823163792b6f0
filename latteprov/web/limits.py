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
- ``PROXY_HEADERS`` (default False) and ``TRUSTED_PROXIES`` (default ``"127.0.0.1,::1"``;
  addresses or networks such as ``10.0.0.0/8``):
  behind a reverse proxy, take the client address, scheme, host and prefix from its
  ``X-Forwarded-*`` headers (werkzeug's ProxyFix, one proxy) for requests that come from a
  trusted proxy only; headers from anyone else are dropped.

Every setting is checked when the app is built (:func:`check_config`): booleans are
true/false, yes/no, on/off or 1/0 (any case), numbers must be in their ranges, the rate-limit
storage is built once (a ``redis://`` URI needs the ``redis`` package installed); a bad one is
:class:`WebConfigError`, one line naming the variable.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from latteprov.errors import LatteprovError

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


class WebConfigError(LatteprovError):
    """A web setting (``LATTEPROV_WEB_<NAME>`` or the app's config) has a value the app cannot
    use; the message names the variable, what it takes, and the value."""


TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off"})
BOOLEANS = ("ALLOW_WRITES", "ANONYMOUS_READ", "READ_ONLY", "RATELIMIT_ENABLED", "PROXY_HEADERS")
# name: (type, minimum, maximum, unit)
NUMBERS: dict[str, tuple[type, float, float, str]] = {
    "FANOUT": (int, 1, 10_000, "neighbours"),
    "MAX_ELEMENTS": (int, 1, 1_000_000, "elements"),
    "PAGE_SIZE": (int, 1, 1000, "rows"),
    "MAX_CONTENT_LENGTH": (int, 1, 1 << 40, "bytes"),
    "MAX_FORM_MEMORY_SIZE": (int, 1, 1 << 40, "bytes"),
    "DB_TIMEOUT": (float, 0.1, 86_400, "seconds"),
}
RATES = ("WRITE_RATE_LIMIT", "LOGIN_RATE_LIMIT")


def _bad(name: str, wants: str, value: Any) -> WebConfigError:
    return WebConfigError(f"LATTEPROV_WEB_{name} must be {wants}, not {str(value)[:60]!r}")


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise _bad(name, "true or false (also yes/no, on/off, 1/0)", value)


def _number(name: str, value: Any) -> float:
    kind, low, high, unit = NUMBERS[name]
    wants = f"{'a whole number' if kind is int else 'a number'} of {unit} from {low:g} to {high:g}"
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        if kind is int and isinstance(value, float):
            raise ValueError
        number = kind(value.strip()) if isinstance(value, str) else kind(value)
    except (ValueError, OverflowError):
        raise _bad(name, wants, value) from None
    if not low <= number <= high or number != number:
        raise _bad(name, wants, value)
    return number


def networks(name: str, value: str | Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """The proxy addresses and networks of ``value`` (comma-separated text or a list; ``*``:
    any, returned as None); WebConfigError naming ``name`` for one that is neither."""
    items = value.split(",") if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else None
    if items is None:
        raise WebConfigError(f"{name} must be comma-separated addresses or networks, not {str(value)[:60]!r}")
    items = [str(item).strip() for item in items if str(item).strip()]
    if "*" in items:
        return None
    found = []
    for item in items:
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise WebConfigError(f"{name}: {item[:60]!r} is not an IP address or network "
                                 "(e.g. 10.0.0.5, 10.0.0.0/8, ::1)") from None
    if not found:
        raise WebConfigError(f"{name} names no proxy address")
    return found


def check_config(config: dict) -> None:
    """Check and normalise the web settings in ``config`` (in place): booleans, numbers in their
    ranges, rate limits, the rate-limit storage (built once to see that it can be), the trusted
    proxies. WebConfigError (one line naming ``LATTEPROV_WEB_<NAME>``) for the first bad one."""
    from limits import parse_many
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    from latteprov.config import Settings

    for name in BOOLEANS:
        if name in config:
            config[name] = _boolean(name, config[name])
    for name in NUMBERS:
        if config.get(name) is not None:
            config[name] = _number(name, config[name])
    for name in RATES:
        try:
            if not isinstance(config[name], str) or not parse_many(config[name]):
                raise ValueError
        except ValueError:
            raise _bad(name, "a rate such as '30 per minute' or '5/second'", config[name]) from None
    uri = config["RATELIMIT_STORAGE_URI"]
    try:
        if not isinstance(uri, str):
            raise ConfigurationError("not text")
        storage_from_string(uri)
    except (ConfigurationError, ValueError, ImportError, OSError) as exc:
        reason = str(exc).split(". ")[0]
        raise WebConfigError(f"LATTEPROV_WEB_RATELIMIT_STORAGE_URI {str(uri)[:60]!r} cannot be used: {reason}") from None
    networks("LATTEPROV_WEB_TRUSTED_PROXIES", config["TRUSTED_PROXIES"])
    if config.get("SETTINGS") is not None and not isinstance(config["SETTINGS"], Settings):
        raise WebConfigError("LATTEPROV_WEB_SETTINGS cannot be set from the environment (the database "
                             "settings come from NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD and the config file)")
    key = config.get("SECRET_KEY")
    if key is not None and (not isinstance(key, (str, bytes)) or not key):
        raise WebConfigError("LATTEPROV_WEB_SECRET_KEY must be non-empty text (or set LATTEPROV_SECRET_KEY)")


def user_key() -> str:
    """Whom a rate limit counts: the logged-in user's name, else the client's address."""
    if current_user.is_authenticated:
        return f"user:{current_user.username}"
    return f"addr:{request.remote_addr}"


def _address_key() -> str:
    return f"addr:{request.remote_addr}"


class TrustedProxyFix:
    """ProxyFix for requests whose peer is in ``trusted`` (addresses or networks such as
    ``10.0.0.0/8``, comma-separated text or a list; ``*``: any); from any other peer the
    ``X-Forwarded-*`` headers are removed, so no client can claim another address."""

    def __init__(self, wsgi_app: Callable, trusted: str | Iterable[str]) -> None:
        self.trusted = networks("LATTEPROV_WEB_TRUSTED_PROXIES", trusted if isinstance(trusted, str) else list(trusted))
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
        self.plain = wsgi_app

    def is_trusted(self, peer: str | None) -> bool:
        """Whether the peer address ``peer`` is one of the trusted proxies."""
        if self.trusted is None:
            return True
        try:
            address = ipaddress.ip_address((peer or "").split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        if self.is_trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        for key in FORWARDED:
            environ.pop(key, None)
        return self.plain(environ, start_response)


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
        app.wsgi_app = TrustedProxyFix(app.wsgi_app, app.config["TRUSTED_PROXIES"])  # type: ignore[method-assign]
    return limiter
