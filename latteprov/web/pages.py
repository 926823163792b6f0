"""What every page of the web app shares: answering a page's context as HTML or JSON, and
reading integer arguments. Apart from the app factory so that the pages import it, not the
package that imports them."""
from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request
from werkzeug.wrappers import Response

from latteprov.errors import InputError


def wants_json() -> bool:
    """Whether this request asks for JSON: the API, or ``?format=json`` on a page."""
    return request.path.startswith("/api/") or request.args.get("format") == "json"


def respond(template: str, context: dict[str, Any], status: int = 200) -> Response | tuple:
    """The page's context as JSON when asked, else rendered by ``template``."""
    if wants_json():
        return jsonify(context), status
    return render_template(template, **context), status


# The largest integer an argument may have (and a product of arguments, e.g. page x size): far
# inside Neo4j's 64-bit integers (the driver refuses anything beyond) and exact in JSON.
INT_LIMIT = 2**53


def int_arg(name: str, default: int | None = None, minimum: int | None = None, maximum: int | None = None) -> int | None:
    """The query argument ``name`` as an integer (``default`` when absent or empty); InputError
    (HTTP 400 with the message) for text that is not an integer or a value outside
    [``minimum``, ``maximum``] (each bounded by +-``INT_LIMIT`` when None or beyond it, so no
    value reaches a query that the database cannot take). The one place the web parses integers."""
    minimum = -INT_LIMIT if minimum is None else max(minimum, -INT_LIMIT)
    maximum = INT_LIMIT if maximum is None else min(maximum, INT_LIMIT)
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if len(raw) > 40:
        raise InputError(f"{name} must be an integer between {minimum} and {maximum}, not {raw[:40]!r}...")
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name} must be an integer, not {raw[:40]!r}") from None
    if not minimum <= value <= maximum:
        raise InputError(f"{name} must be between {minimum} and {maximum}, not {raw[:40]}")
    return value
