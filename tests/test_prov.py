"""W3C PROV export: each serialisation reads back with ``prov`` and says what the graph says
(entities, runs with their times, agents, derivations with roles, generation, usage,
invalidation with time and reason); PROV-JSON validates against the published schema."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from prov.constants import PROV_ROLE
from prov.model import Literal, ProvActivity, ProvAgent, ProvAssociation, ProvDerivation, ProvDocument, ProvEntity, \
    ProvGeneration, ProvInvalidation, ProvSpecialization, ProvUsage

from exchange_support import PLAQUETTE_REASON, campaign
from latteprov.exchange import provdoc
from latteprov.rows import LINK_RULES

SCHEMA = json.loads((Path(__file__).parent / "data" / "prov-json.schema.json").read_text())
READ_FORMAT = {"prov-json": "json", "prov-n": "provn", "prov-xml": "xml"}


@pytest.fixture
def graph(store):
    return campaign(store)


def export(cli, tmp_path, fmt: str, *args: str) -> ProvDocument:
    out = tmp_path / f"out.{fmt}"
    result = cli("export", "--format", fmt, *args, "-o", out)
    assert result.exit_code == 0, result.output
    return ProvDocument.deserialize(content=out.read_text(), format=READ_FORMAT[fmt])


def _value(value):
    """A read-back attribute value as Python: typed literals (xsd:long ...) converted."""
    if isinstance(value, Literal):
        kind = value.datatype.localpart if value.datatype else None
        return int(value.value) if kind in ("long", "int") else float(value.value) if kind == "double" else value.value
    return value


def attrs(record) -> dict:
    """A record's attributes by local name ('uid', 'role', 'startTime' ...), single values."""
    return {k.localpart: _value(v) for k, v in record.attributes}


def read_back(doc: ProvDocument) -> dict:
    """The document as sets of graph facts, in uids."""
    uid_of = {}
    facts = {"entities": {}, "activities": {}, "agents": set(), "associations": set(), "derived": set(),
             "generated": set(), "used": set(), "invalidated": set(), "stored": set()}
    for rec in doc.get_records(ProvEntity):
        uid_of[rec.identifier] = attrs(rec)["uid"]
        facts["entities"][attrs(rec)["uid"]] = attrs(rec)
    for rec in doc.get_records(ProvActivity):
        a = attrs(rec)
        uid_of[rec.identifier] = a["uid"]
        facts["activities"][a["uid"]] = (rec.get_startTime(), rec.get_endTime(), a)
    for rec in doc.get_records(ProvAgent):
        uid_of[rec.identifier] = attrs(rec)["label"]
        facts["agents"].add(attrs(rec)["label"])
    for rec in doc.get_records():
        a = {k.localpart: _value(v) for k, v in rec.formal_attributes if v is not None}
        a.update(attrs(rec))
        if isinstance(rec, ProvDerivation):
            facts["derived"].add((uid_of[rec.args[0]], uid_of[rec.args[1]], a["role"]))
        elif isinstance(rec, ProvGeneration):
            facts["generated"].add((uid_of[rec.args[0]], uid_of[rec.args[1]]))
        elif isinstance(rec, ProvUsage):
            facts["used"].add((uid_of[rec.args[0]], uid_of[rec.args[1]], a.get("role")))
        elif isinstance(rec, ProvInvalidation):
            facts["invalidated"].add((uid_of[rec.args[0]], uid_of[rec.args[1]], a["time"], a["reason"]))
        elif isinstance(rec, ProvSpecialization):
            facts["stored"].add((uid_of[rec.args[1]], uid_of[rec.args[0]]))
        elif isinstance(rec, ProvAssociation):
            facts["associations"].add((uid_of[rec.args[0]], uid_of[rec.args[1]], a[PROV_ROLE.localpart]))
    return facts


def native(value):
    return value.to_native() if hasattr(value, "to_native") else value


def expected(store, entities: set[str], activities: set[str]) -> dict:
    """What the graph says about the exported entities and runs, read straight from Neo4j."""
    q = store.run_text
    return {
        "derived": {(r["a"], r["b"], r["role"]) for r in q(
            "MATCH (a:Entity)-[d:DERIVED_FROM]->(b) WHERE a.uid IN $u RETURN a.uid AS a, b.uid AS b, d.role AS role",
            u=sorted(entities))},
        "generated": {(r["a"], r["b"]) for r in q(
            "MATCH (a:Entity)-[:GENERATED_BY]->(b:Run) WHERE a.uid IN $u RETURN a.uid AS a, b.uid AS b", u=sorted(entities))},
        "used": {(r["a"], r["b"], None) for r in q(
            "MATCH (a:Run)-[:USED]->(b) WHERE a.uid IN $u RETURN a.uid AS a, b.uid AS b", u=sorted(activities))},
        "stored": {(r["a"], r["b"]) for r in q(
            "MATCH (a:Entity)-[:STORED_AT]->(f) WHERE a.uid IN $u RETURN a.uid AS a, f.uid AS b", u=sorted(entities))},
        "runs": {r["uid"]: (native(r["s"]), native(r["e"]), r["user"], r["host"]) for r in q(
            "MATCH (r:Run) WHERE r.uid IN $u RETURN r.uid AS uid, r.started_at AS s, r.ended_at AS e, "
            "r.user AS user, r.host AS host", u=sorted(activities))},
        "events": {r["uid"]: r for r in q(
            "MATCH (x:Entity)-[:INVALIDATED_BY]->(i) WHERE x.uid IN $u RETURN i.uid AS uid, x.uid AS root, "
            "i.action AS action, i.at AS at, i.reason AS reason, i.by AS by", u=sorted(entities))},
    }


@pytest.mark.parametrize("fmt", list(READ_FORMAT))
def test_each_serialisation_reads_back_as_the_graph(graph, store, cli, tmp_path, fmt) -> None:
    doc = export(cli, tmp_path, fmt, graph["invalid_config"], "--downstream")
    got = read_back(doc)
    products = {u for u, a in got["entities"].items() if a["type"].localpart != "DataFile"}
    impact = {r["uid"] for r in store.run_text(
        "MATCH (:Entity {uid: $u})<-[:DERIVED_FROM]-*(d) RETURN d.uid AS uid", u=graph["invalid_config"])}
    assert impact <= products and len(impact) > 10
    events = {u: a for u, a in got["activities"].items() if a[2]["type"].localpart in ("Invalidation", "Revalidation")}
    runs = set(got["activities"]) - set(events)
    want = expected(store, products, runs)
    assert got["derived"] == want["derived"] and all(role for _, _, role in got["derived"])
    assert got["generated"] == want["generated"]
    assert {u for u in got["used"] if u[0] in runs} == want["used"]
    assert got["stored"] == want["stored"]
    assert {u for u, a in got["entities"].items() if a["type"].localpart == "DataFile"} == {f for _, f in want["stored"]}
    assert {u: (s, e) for u, (s, e, _) in got["activities"].items() if u in runs} == \
        {u: (s, e) for u, (s, e, _, _) in want["runs"].items()}
    people = {r[2] for r in want["runs"].values() if r[2]} | {e["by"] for e in want["events"].values()}
    hosts = {r[3] for r in want["runs"].values() if r[3]}
    assert got["agents"] == people | hosts
    assert {(run, agent, role) for run, agent, role in got["associations"] if run in runs} == \
        {(u, r[2], "user") for u, r in want["runs"].items() if r[2]} | {(u, r[3], "host") for u, r in want["runs"].items() if r[3]}
    holding = {(e["root"], e["uid"], native(e["at"]), e["reason"]) for e in want["events"].values()
               if e["action"] == "invalidate"}
    assert got["invalidated"] == holding
    assert any(reason == PLAQUETTE_REASON for *_, reason in got["invalidated"])
    for row in store.run_text("MATCH (n:Entity) WHERE n.uid IN $u RETURN n.uid AS uid, properties(n) AS p",
                              u=sorted(products)):
        uid, props = row["uid"], row["p"]
        for key in ("config", "valid", "state", "quark_mass", "ensemble"):
            if props.get(key) is not None:
                assert got["entities"][uid][key] == props[key], (uid, key)


def test_upstream_holds_the_lineage_and_the_runs_that_made_it(graph, store, cli, tmp_path) -> None:
    got = read_back(export(cli, tmp_path, "prov-n", graph["correlator"], "--upstream"))
    lineage = {r["uid"] for r in store.run_text(
        "MATCH (:Entity {uid: $u})-[:DERIVED_FROM]->*(a) RETURN a.uid AS uid", u=graph["correlator"])}
    products = {u for u, a in got["entities"].items() if a["type"].localpart != "DataFile"}
    assert lineage <= products
    makers = {r["run"] for r in store.run_text(
        "MATCH (a:Entity)-[:GENERATED_BY]->(r:Run) WHERE a.uid IN $u RETURN r.uid AS run", u=sorted(products))}
    assert makers and makers <= set(got["activities"])
    # the revalidated configuration is in this lineage: its revalidation is there, as a use
    assert any(role == "revalidated" for *_, role in got["used"])


def test_prov_json_validates_against_the_published_schema(graph, cli, tmp_path) -> None:
    out = tmp_path / "doc.json"
    assert cli("export", "--format", "prov-json", graph["config"], "--downstream", "-o", out).exit_code == 0
    document = json.loads(out.read_text())
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    assert list(validator.iter_errors(document)) == []
    assert document["wasDerivedFrom"] and document["wasInvalidatedBy"] and document["agent"]
    broken = json.loads(out.read_text())
    del next(iter(broken["wasDerivedFrom"].values()))["prov:usedEntity"]
    assert list(validator.iter_errors(broken)), "the schema must catch a derivation without its used entity"


def test_the_whole_graph_is_exported_without_an_id(graph, store, cli, tmp_path) -> None:
    got = read_back(export(cli, tmp_path, "prov-xml"))
    entities = store.run_text("MATCH (n:Entity) RETURN count(n) AS n")[0]["n"]
    files = store.run_text("MATCH (n:DataFile) RETURN count(n) AS n")[0]["n"]
    runs = {r["uid"] for r in store.run_text("MATCH (r:Run) RETURN r.uid AS uid")}
    assert len(got["entities"]) == entities + files
    assert runs <= set(got["activities"]) and graph["run"] in got["activities"]
    start, end, _ = got["activities"][graph["run"]]
    zoned = store.run_text("MATCH (r:Run {uid: $u}) RETURN r.started_at AS s, r.ended_at AS e", u=graph["run"])[0]
    assert (start, end) == (native(zoned["s"]), native(zoned["e"]))


def test_every_link_rule_has_its_prov_relation() -> None:
    assert set(provdoc.PROV_RELATIONS) == set(LINK_RULES)
    for type_, rule in LINK_RULES.items():
        named = re.search(r"\((\w+)\)$", rule.meaning)
        if named:
            assert provdoc.PROV_RELATIONS[type_].term == named.group(1)


def test_identifiers_are_qualified_names_that_keep_the_uid() -> None:
    assert provdoc.local_name("OneToAll:0123456789abcdef0123", "OneToAll") == "OneToAll_0123456789abcdef0123"
    odd = provdoc.local_name("run:solve:prop x/1", "Run")
    assert re.fullmatch(r"Run_[0-9a-f]{20}", odd) and odd != provdoc.local_name("run:solve:prop x/2", "Run")
    assert provdoc.agent_name("user", "callat") == "user_callat"
    assert provdoc.agent_name("user", "Dr. Strangelove") != provdoc.agent_name("user", "Dr_ Strangelove")


@pytest.mark.parametrize("args, message", [
    (("--format", "prov-json", "x"), "--upstream"),
    (("--format", "archive"), "needs the ID"),
    (("--format", "prov-n", "--downstream"), "needs the ID"),
    (("--format", "qcdml", "x", "--upstream"), "no --upstream"),
])
def test_missing_or_extra_options_are_usage_errors(cli, args, message) -> None:
    result = cli("export", *args)
    assert result.exit_code == 2 and message in result.output


def test_an_unknown_id_is_one_line(graph, cli) -> None:
    result = cli("export", "--format", "prov-json", "no-such-product", "--upstream")
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        "Error: no node with uid, name or location 'no-such-product'"]
    run = cli("export", "--format", "prov-json", graph["run"], "--upstream")
    assert run.exit_code == 1 and "not a data product" in run.output
