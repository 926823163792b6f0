"""The JSON API under ``/api/``: the CLI's ``--format json`` shapes, described at ``/api/openapi.json``.

Where a page already builds exactly the CLI's shape (node details, lineage, downstream), the API
registers that same view: in this blueprint :func:`latteprov.web.pages.respond` answers JSON, so page
and API cannot drift apart. The other endpoints are thin calls into the library.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Response

from latteprov import __version__, find, invalidate, schema_doc, status
from latteprov.neighbourhood import DIRECTIONS, MAX_HOPS, neighbourhood as view_around, search as search_entities
from latteprov.web.graph import view_args
from latteprov.web.nodes import downstream_page, lineage_page, page as node_page
from latteprov.web.pages import int_arg
from latteprov.web.db import get_store

bp = Blueprint("api", __name__, url_prefix="/api")

for _rule, _view in (("/node/<path:ident>", node_page), ("/lineage/<path:ident>", lineage_page),
                     ("/downstream/<path:ident>", downstream_page)):
    bp.add_url_rule(_rule, view_func=_view)


@bp.route("/neighbourhood/<path:ident>")
def neighbourhood(ident: str) -> Response:
    """The graph browser's bounded view (``hops``, ``expand``, ``open``)."""
    return jsonify(view_around(get_store(), ident, **view_args()))


@bp.route("/search")
def search() -> Response:
    """Suggestions: entities whose name or uid starts with the words of ``q``."""
    return jsonify(search_entities(get_store(), request.args.get("q", ""), limit=int_arg("limit", 15, 1, 100)))


@bp.route("/status")
def completion() -> Response:
    """``latteprov status``: counts per ensemble and kind (``ensemble`` for one)."""
    return jsonify(status.status(get_store(), request.args.get("ensemble") or None))


@bp.route("/find/<kind>")
def find_nodes(kind: str) -> Response:
    """``latteprov find``: nodes of ``kind`` matching every ``where`` filter."""
    filters = find.parse_filters(request.args.getlist("where"))
    return jsonify(find.find(get_store(), kind, filters, order_by=request.args.get("order") or None,
                             descending=request.args.get("desc") in ("1", "true", "yes"),
                             limit=int_arg("limit", 100, 0, 100_000), offset=int_arg("offset", 0, 0)))


@bp.route("/count/<kind>")
def count_nodes(kind: str) -> Response:
    """How many nodes of ``kind`` match every ``where`` filter."""
    filters = find.parse_filters(request.args.getlist("where"))
    return jsonify({"kind": kind, "count": find.count(get_store(), kind, filters)})


@bp.route("/impact/<path:ident>")
def impact(ident: str) -> Response:
    """``latteprov invalidate --dry-run``: what invalidating the node would mark."""
    return jsonify(invalidate.impact(get_store(), ident))


@bp.route("/schema")
def schema() -> Response:
    """The model: every class with its properties and relationships."""
    return jsonify(schema_doc.describe())


@bp.route("/openapi.json")
def openapi() -> Response:
    """This API described as OpenAPI 3."""
    return jsonify(openapi_document(current_app.config["ALLOW_WRITES"]))


def _param(name: str, where: str = "query", schema: dict | None = None, required: bool = False,
           description: str = "") -> dict:
    return {"name": name, "in": where, "required": required or where == "path",
            "schema": schema or {"type": "string"}, "description": description}


def _get(summary: str, response: str, params: list[dict], errors: tuple[int, ...] = (400, 404)) -> dict:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}}}}
    for code in errors:
        responses[str(code)] = {"description": {400: "bad input", 404: "unknown node"}[code],
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


IDENT = _param("ident", "path", description="uid or name of a node")
_NODE = {"type": "object", "required": ["uid", "kind", "labels", "props", "valid"], "properties": {
    "uid": {"type": "string"}, "name": {"type": ["string", "null"]}, "kind": {"type": "string"},
    "labels": {"type": "array", "items": {"type": "string"}}, "props": {"type": "object"},
    "state": {"type": ["string", "null"]}, "valid": {"type": ["boolean", "null"]}}}
_EDGE = {"type": "object", "required": ["from", "to", "type"], "properties": {
    "from": {"type": "string"}, "to": {"type": "string"}, "type": {"type": "string"},
    "role": {"type": ["string", "null"]}}}
_GRAPH = {"type": "object", "required": ["root", "nodes", "edges"], "properties": {
    "root": {"type": "string"}, "nodes": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
    "edges": {"type": "array", "items": {"$ref": "#/components/schemas/Edge"}},
    "summary": {"type": "array", "items": {"type": "object"}}, "truncated": {"type": "boolean"}}}


def openapi_document(allow_writes: bool = False) -> dict:
    """The OpenAPI 3.1 description of the ``/api/`` endpoints (and the write routes when enabled)."""
    kinds_param = _param("kind", schema={"type": "array", "items": {"type": "string"}},
                         description="keep only nodes of these kinds (repeatable)")
    depth = _param("depth", schema={"type": "integer", "minimum": 0, "maximum": 1_000_000},
                   description="at most this many hops")
    where = _param("where", schema={"type": "array", "items": {"type": "string"}},
                   description="filter PROPERTY OP VALUE, OP one of = != < <= > >= ~ (repeatable)")
    fields = _param("fields", description="lean listing: comma-separated properties each node keeps "
                                          "besides uid, name, kind, state and valid (default: all)")
    paths = {
        "/api/node/{ident}": _get("One node with inputs, files, runs and invalidations (latteprov show)", "Details", [IDENT]),
        "/api/lineage/{ident}": _get("Everything the node was derived from (latteprov lineage)", "Graph",
                                     [IDENT, depth, kinds_param, fields]),
        "/api/downstream/{ident}": _get("Everything derived from the node (latteprov downstream)", "Graph",
                                        [IDENT, depth, kinds_param, _param("all", schema={"type": "boolean"}), fields]),
        "/api/neighbourhood/{ident}": _get("The graph browser's bounded view", "Neighbourhood", [
            IDENT, _param("hops", schema={"type": "integer", "minimum": 1, "maximum": MAX_HOPS}),
            _param("dir", schema={"type": "string", "enum": list(DIRECTIONS)},
                   description="both (neighbourhood), up (lineage: inputs) or down (downstream: products)"),
            _param("expand", description="comma-separated uids grown by one more hop"),
            _param("open", description="comma-separated collapsed groups to open (uid|dir|kind)")]),
        "/api/search": _get("Search suggestions by name or uid prefix", "SearchResults",
                            [_param("q", required=True), _param("limit", schema={"type": "integer", "minimum": 1, "maximum": 100})], (400,)),
        "/api/status": _get("Completion counts per ensemble and kind (latteprov status)", "Status",
                            [_param("ensemble")], (404,)),
        "/api/find/{kind}": _get("Nodes of a kind matching filters (latteprov find)", "Nodes", [
            _param("kind", "path"), where, _param("order"), _param("desc", schema={"type": "boolean"}),
            _param("limit", schema={"type": "integer", "minimum": 0, "maximum": 100_000}),
            _param("offset", schema={"type": "integer", "minimum": 0})], (400,)),
        "/api/count/{kind}": _get("How many nodes of a kind match filters", "Count", [_param("kind", "path"), where], (400,)),
        "/api/impact/{ident}": _get("What invalidating the node would mark (latteprov invalidate --dry-run)",
                                    "Impact", [IDENT]),
        "/api/schema": _get("The graph model", "Schema", [], ()),
    }
    if allow_writes:
        for action in ("invalidate", "revalidate"):
            paths[f"/node/{{ident}}/{action}"] = {"post": {
                "summary": f"{action.capitalize()} the node (writer role, X-CSRFToken header from /auth/me)",
                "parameters": [IDENT],
                "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
                    "type": "object", "properties": {"reason": {"type": "string"}}}}}},
                "responses": {"200": {"description": "done (with Accept: application/json)"},
                              "302": {"description": "done, back to the node page"},
                              "400": {"description": "bad input or CSRF token"},
                              "401": {"description": "login required"}, "403": {"description": "not a writer"}}}}
    obj = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "latteprov API", "version": __version__,
                 "description": "Provenance of lattice-QCD data: the same JSON as the CLI's --format json."},
        "paths": paths,
        "components": {"schemas": {
            "Node": _NODE, "Edge": _EDGE, "Graph": _GRAPH,
            "Details": {"type": "object", "required": ["node", "inputs", "files", "runs", "invalidations"],
                        "properties": {"node": {"$ref": "#/components/schemas/Node"},
                                       "inputs": {"type": "array", "items": obj}, "derivatives": {"type": "integer"},
                                       "files": {"type": "array", "items": obj}, "runs": {"type": "array", "items": obj},
                                       "invalidations": {"type": "array", "items": obj}}},
            "Neighbourhood": {"type": "object", "required": ["root", "nodes", "edges", "summaries", "truncated"],
                              "properties": {**_GRAPH["properties"], "hops": {"type": "integer"},
                                             "expand": {"type": "array", "items": {"type": "string"}},
                                             "open": {"type": "array", "items": {"type": "string"}},
                                             "summaries": {"type": "array", "items": {
                                                 "type": "object", "required": ["id", "of", "dir", "kind", "count"]}}}},
            "SearchResults": {"type": "array", "items": {"type": "object", "required": ["uid", "kind"]}},
            "Status": {"type": "array", "items": {"type": "object", "required": list(status.COLUMNS)}},
            "Nodes": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
            "Count": {"type": "object", "required": ["kind", "count"], "properties": {
                "kind": {"type": "string"}, "count": {"type": "integer"}}},
            "Impact": {"type": "object", "required": ["root", "total", "by_kind_ensemble", "uids"]},
            "Schema": {"type": "array", "items": {"type": "object", "required": ["name", "properties", "relationships"]}},
            "Error": {"type": "object", "required": ["error", "status"], "properties": {
                "error": {"type": "string"}, "status": {"type": "integer"}}},
        }},
    }
