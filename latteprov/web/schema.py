"""Schema documentation, generated from the model classes (:func:`latteprov.schema_doc.describe`)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint

from latteprov import schema_doc
from latteprov.web.pages import respond

bp = Blueprint("schema", __name__)


@bp.route("/schema")
def page() -> Any:
    """Every class, property, type, help text and relationship."""
    return respond("schema/index.html", {"classes": schema_doc.describe()})
