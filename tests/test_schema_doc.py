"""The schema described from the model classes, and the ``schema`` / ``queries`` commands."""
from __future__ import annotations

import json

from latteprov import model, queries, schema_doc


def by_name() -> dict[str, dict]:
    return {c["name"]: c for c in schema_doc.describe()}


def test_every_class_is_described_with_every_property() -> None:
    described = by_name()
    assert set(described) == {c.__name__ for c in model.all_classes()}
    for cls in model.all_classes():
        props = {p["name"] for p in described[cls.__name__]["properties"]}
        assert props == set(cls.defined_properties(aliases=False, rels=False))


def test_every_property_has_help_text_and_a_type() -> None:
    missing = [f"{c['name']}.{p['name']}" for c in schema_doc.describe() for p in c["properties"] if not p["help"]]
    assert missing == []
    assert {p["type"] for c in schema_doc.describe() for p in c["properties"]} <= {
        "string", "integer", "float", "boolean", "datetime", "json", "list of string"}


def test_flags_natural_keys_and_relationships() -> None:
    entity, prop = by_name()["Entity"], by_name()["OneToAll"]
    uid = next(p for p in entity["properties"] if p["name"] == "uid")
    assert uid["required"] and uid["unique"] and uid["indexed"]
    state = next(p for p in entity["properties"] if p["name"] == "state")
    assert state["choices"] == list(model.STATES)
    assert prop["natural_key"] == list(model.OneToAll.natural_key)
    assert prop["labels"] == model.labels_of(model.OneToAll)
    rels = {r["name"]: r for r in entity["relationships"]}
    assert rels["derived_from"] == {"name": "derived_from", "type": "DERIVED_FROM", "direction": "outgoing",
                                    "target": "Entity", "model": "Derivation", "declared_in": "Entity"}
    assert rels["derivatives"]["direction"] == "incoming"


def test_markdown_names_every_class_property_and_relationship_once_where_declared() -> None:
    text = schema_doc.markdown()
    for cls in schema_doc.describe():
        assert f"## {cls['name']}\n" in text
        for p in cls["properties"]:
            if p["declared_in"] == cls["name"]:
                assert f"| `{p['name']}` | {p['type']} |" in text
    assert "| `derived_from` | `DERIVED_FROM` | outgoing | Entity | Derivation |" in text
    assert "| Derivation | `role` | string |" in text


def test_schema_command_md_and_json(cli) -> None:
    assert cli("schema").output == schema_doc.markdown()
    assert json.loads(cli("schema", "--format", "json").output) == schema_doc.describe()
    assert cli("schema", "--format", "xml").exit_code == 2


def test_queries_command_lists_every_named_query(cli) -> None:
    listed = json.loads(cli("queries", "--format", "json").output)
    assert {q["name"] for q in listed} == set(queries.all_queries())
    lineage = next(q for q in listed if q["name"] == "lineage")
    assert lineage["params"] == "fields, uids" and lineage["origin"].startswith("lineage.cypher:")
