"""The latteprov web app: graph browser, completion dashboard, tables, schema docs, JSON API.

``create_app`` follows the Flask tutorial's factory: defaults, then the test config, then one
blueprint per area. Every page builds one context dict and :func:`respond` either renders it
or returns it as JSON (``?format=json``), datasette style, so the two cannot drift apart.
Library errors become pages (or JSON) with the right status: unknown node 404, bad input 400,
database down or too slow 503. Limits (request sizes, database time per request, writers' rates,
proxy headers) are :mod:`latteprov.web.limits`'s.

``create_app`` is also the WSGI entry point for sites that run their own server
(``gunicorn 'latteprov.web:create_app()'``): settings come from the environment and the config
file as for the CLI, and any ``LATTEPROV_WEB_<NAME>`` variable sets ``app.config[NAME]``
(values parsed as JSON where they parse, e.g. ``LATTEPROV_WEB_ANONYMOUS_READ=true``; each is
checked when the app is built, see :func:`latteprov.web.limits.check_config`).
"""
from __future__ import annotations

from typing import Any

import orjson
from flask import Flask, jsonify, redirect, render_template, url_for
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from latteprov.config import load_settings
from latteprov.errors import InputError, LatteprovError, NotFound
from latteprov.store import StoreTimeout, StoreUnavailable
from latteprov.web.pages import wants_json


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with orjson's encoder: the API's large answers (lineage of ~1,000 nodes,
    ~3,500 objects) serialise in a sixth of the time; always compact."""

    # Dates and dataclasses still go through Flask's ``default``, so they read as before.
    OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """``obj`` as JSON text (``sort_keys`` honoured; indentation options ignored)."""
        options = self.OPTIONS | (orjson.OPT_SORT_KEYS if self.sort_keys else 0)
        return orjson.dumps(obj, default=self.default, option=options).decode()


def _error(status: int, message: str) -> tuple:
    if wants_json():
        return jsonify({"error": message, "status": status}), status
    return render_template("error.html", status=status, message=message), status


# Library errors by the HTTP status they answer with; the most specific class first.
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404), (InputError, 400), (StoreUnavailable, 503), (StoreTimeout, 503), (LatteprovError, 500))


def _register_errors(app: Flask) -> None:
    for exc_class, status in ERROR_STATUS:
        app.register_error_handler(exc_class, lambda exc, status=status: _error(status, str(exc)))
    app.register_error_handler(
        HTTPException, lambda exc: _error(exc.code or 500, exc.description or exc.name))


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The web app; ``test_config`` overrides the defaults, then ``LATTEPROV_WEB_*`` variables
    (``SETTINGS``, ``ALLOW_WRITES``, ``ANONYMOUS_READ``, the limits of :mod:`latteprov.web.limits` ...).
    Raises :class:`latteprov.web.limits.WebConfigError` (one line naming the variable) for a
    setting it cannot use."""
    from latteprov.web import limits

    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.from_mapping(ALLOW_WRITES=False, FANOUT=12, MAX_ELEMENTS=1000, PAGE_SIZE=50,
                            JSON_SORT_KEYS=False, **limits.DEFAULTS)
    app.config.from_prefixed_env("LATTEPROV_WEB")
    if test_config:
        app.config.update(test_config)
    limits.check_config(app.config)
    if app.config.get("SETTINGS") is None:
        app.config["SETTINGS"] = load_settings()
    app.json.sort_keys = False

    from latteprov.web import api, auth, dashboard, frontier, graph, nodes, schema, tables

    # Login, roles and CSRF first: auth must see the write routes being registered.
    auth.init_app(app)
    for module in (graph, dashboard, frontier, tables, nodes, schema, api):
        app.register_blueprint(module.bp)
    if app.config["ALLOW_WRITES"]:
        app.register_blueprint(nodes.writes)
    _register_errors(app)
    limits.init_app(app)

    @app.context_processor
    def globals_() -> dict[str, Any]:
        return {"allow_writes": app.config["ALLOW_WRITES"]}

    @app.route("/")
    def index() -> Response:
        return redirect(url_for("dashboard.index"))

    @app.route("/healthz")
    def healthz() -> Response:
        """200 ``{"status": "ok"}`` when the database answers a read, else 503 (open to all:
        container and proxy health checks carry no login)."""
        from latteprov.web.db import get_store

        get_store().read("web_health")
        return jsonify(status="ok")

    return app
