"""W3C PROV documents of a subgraph: PROV-JSON, PROV-N and PROV-XML, written by ``prov``.

The mapping (W3C PROV-DM, https://www.w3.org/TR/prov-dm/; serialisations: PROV-N
https://www.w3.org/TR/prov-n/, PROV-XML https://www.w3.org/TR/prov-xml/, PROV-JSON W3C Member
Submission 2013, https://www.w3.org/Submission/2013/SUBM-prov-json-20130424/):

===================  =======================================================================
latteprov            PROV
===================  =======================================================================
Entity (any kind)    ``entity(lp:<Kind>_<hex>)``: ``prov:type`` ``lqcd:<Kind>``, ``prov:label``
                     its name, ``lqcd:uid`` and every property as ``lqcd:<property>``
DataFile             ``entity(lp:DataFile_<hex>)``, ``prov:location`` host:path
Run                  ``activity`` with ``prov:startTime``/``prov:endTime`` = started_at/ended_at
user, host of a run  ``agent`` (``prov:Person`` / ``lqcd:Host``), ``wasAssociatedWith`` the run
                     with ``prov:role`` 'user' / 'host'
Invalidation         ``activity`` at its time, associated with the agent who did it;
                     ``wasInvalidatedBy(root, event, at)`` with ``lqcd:reason`` (a revalidation:
                     ``used(event, root, at)``)
===================  =======================================================================

and the relationships of :data:`latteprov.rows.LINK_RULES` as :data:`PROV_RELATIONS` says
(``DERIVED_FROM`` as ``wasDerivedFrom`` with the role as ``lqcd:role``, ``STORED_AT`` as
``specializationOf(file, product)``: a file is the product at one location). Identifiers are
qualified names in the ``lp`` namespace (:data:`NODE_NS`); uids of the shape ``Kind:hex`` give
``Kind_hex``, other run uids ``Run_`` and 20 hex digits of their sha256; the exact uid is always
the ``lqcd:uid`` attribute. Integers are typed ``xsd:long`` (sizes exceed ``xsd:int``).
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from prov.constants import PROV, PROV_LABEL, PROV_LOCATION, PROV_ROLE, PROV_TYPE, XSD_LONG
from prov.model import Literal, ProvDocument, QualifiedName

from latteprov.exchange.subgraph import Subgraph
from latteprov.identity import is_uid

NODE_NS = ("lp", "urn:latteprov:node:")
TERM_NS = ("lqcd", "urn:latteprov:lqcd#")
FORMATS = {"prov-json": "json", "prov-n": "provn", "prov-xml": "xml"}
# Properties said otherwise (identifier, prov:type, prov:label) or kept only for the status report.
_NOT_ATTRIBUTES = frozenset({"uid", "name", "kind", "file_statuses"})


def local_name(uid: str, kind: str) -> str:
    """The local part of a node's PROV identifier (see the module docstring)."""
    if is_uid(uid):
        return uid.replace(":", "_", 1)
    return f"{kind}_{hashlib.sha256(uid.encode()).hexdigest()[:20]}"


def agent_name(kind: str, label: str) -> str:
    """``<kind>_<label>`` with characters outside [A-Za-z0-9._-] replaced (and then a short
    digest, so two labels never share an identifier)."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", label)
    if slug != label or not slug:
        slug += "_" + hashlib.sha256(label.encode()).hexdigest()[:8]
    return f"{kind}_{slug}"


class _Builder:
    def __init__(self) -> None:
        self.doc = ProvDocument()
        self.lp = self.doc.add_namespace(*NODE_NS)
        self.lqcd = self.doc.add_namespace(*TERM_NS)
        self.ids: dict[str, QualifiedName] = {}
        self.agents: dict[tuple[str, str], QualifiedName] = {}

    def value(self, value: Any) -> Any:
        if isinstance(value, bool) or isinstance(value, float):
            return value
        if isinstance(value, int):
            return Literal(str(value), XSD_LONG)
        if isinstance(value, (list, tuple)):
            return json.dumps(list(value))
        return value

    def attributes(self, props: dict, kind: str) -> dict:
        attrs: dict = {PROV_TYPE: self.lqcd[kind], self.lqcd["uid"]: props["uid"]}
        if props.get("name"):
            attrs[PROV_LABEL] = props["name"]
        for key in sorted(props):
            if key not in _NOT_ATTRIBUTES and props[key] is not None:
                attrs[self.lqcd[key]] = self.value(props[key])
        return attrs

    def agent(self, kind: str, label: str) -> QualifiedName:
        key = (kind, label)
        if key not in self.agents:
            ident = self.lp[agent_name(kind, label)]
            self.doc.agent(ident, {PROV_TYPE: PROV["Person"] if kind == "user" else self.lqcd["Host"],
                                   PROV_LABEL: label})
            self.agents[key] = ident
        return self.agents[key]

    def node(self, uid: str, kind: str) -> QualifiedName:
        return self.ids.setdefault(uid, self.lp[local_name(uid, kind)])


def document(sub: Subgraph) -> ProvDocument:
    """The PROV document of ``sub`` (see the module docstring for the mapping)."""
    b = _Builder()
    for uid, entity in sub.entities.items():
        kind = entity["props"]["kind"]
        b.doc.entity(b.node(uid, kind), b.attributes(entity["props"], kind))
    for uid, props in sub.files.items():
        attrs = b.attributes({**props, "kind": "DataFile"}, "DataFile")
        attrs[PROV_LOCATION] = f"{props['host']}:{props['path']}" if props.get("host") else props["path"]
        b.doc.entity(b.node(uid, "DataFile"), attrs)
    for uid, props in sub.runs.items():
        run = b.node(uid, "Run")
        rest = {k: v for k, v in props.items() if k not in ("started_at", "ended_at")}
        b.doc.activity(run, props.get("started_at"), props.get("ended_at"), b.attributes({**rest, "kind": "Run"}, "Run"))
        for role in ("user", "host"):
            if props.get(role):
                b.doc.wasAssociatedWith(run, b.agent(role, props[role]), other_attributes={PROV_ROLE: role})
    for event in sub.invalidations:
        kind = "Invalidation" if event.get("action", "invalidate") == "invalidate" else "Revalidation"
        activity = b.node(event["uid"], "Invalidation")
        b.doc.activity(activity, event.get("at"), event.get("at"), b.attributes({**event, "kind": kind}, kind))
        if event.get("by"):
            b.doc.wasAssociatedWith(activity, b.agent("user", event["by"]), other_attributes={PROV_ROLE: kind.lower()})
        root = b.ids[event["root"]]
        if kind == "Invalidation":
            PROV_RELATIONS["INVALIDATED_BY"].write(b, root, activity, {"time": event.get("at"), "reason": event["reason"]})
        else:
            b.doc.used(activity, root, event.get("at"), other_attributes={PROV_ROLE: "revalidated"})
    for e in sub.edges:
        PROV_RELATIONS[e["type"]].write(b, b.ids[e["from"]], b.ids[e["to"]], e)
    return b.doc


class Relation(NamedTuple):
    """A relationship type of latteprov.rows.LINK_RULES in PROV-DM: the PROV term, and how it
    is written ``(builder, source id, target id, edge) -> record``."""

    term: str
    write: Callable[["_Builder", QualifiedName, QualifiedName, dict], Any]


# How each relationship type of latteprov.rows.LINK_RULES is said in PROV-DM.
PROV_RELATIONS = {
    "DERIVED_FROM": Relation("wasDerivedFrom", lambda b, a, c, e: b.doc.wasDerivedFrom(
        a, c, other_attributes={b.lqcd["role"]: e["role"]})),
    "GENERATED_BY": Relation("wasGeneratedBy", lambda b, a, c, e: b.doc.wasGeneratedBy(a, c)),
    "USED": Relation("used", lambda b, a, c, e: b.doc.used(a, c)),
    "STORED_AT": Relation("specializationOf", lambda b, a, c, e: b.doc.specializationOf(c, a)),
    "INVALIDATED_BY": Relation("wasInvalidatedBy", lambda b, a, c, e: b.doc.wasInvalidatedBy(
        a, c, e["time"], other_attributes={b.lqcd["reason"]: e["reason"]})),
}


def serialize(sub: Subgraph, fmt: str) -> str:
    """``sub`` as text in ``fmt`` (prov-json, prov-n or prov-xml)."""
    doc = document(sub)
    if FORMATS[fmt] == "provn":
        return doc.get_provn() + "\n"
    if FORMATS[fmt] == "json":
        return doc.serialize(format="json", indent=2) + "\n"
    return doc.serialize(format="xml")
