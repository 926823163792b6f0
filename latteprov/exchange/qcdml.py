"""ILDG QCDml: configuration and ensemble documents in, configuration documents out.

Read (the schemas of the International Lattice Data Grid, https://www.lqcd.org/ildg/):

- **configuration** documents, ``gaugeConfiguration`` of QCDml config 1.3 (schema revision
  1.3.1: ``management`` with ``crcCheckSum`` and ``archiveHistory/elem``, ``implementation``,
  ``algorithm``, ``precision``, ``markovStep`` with ``markovChainURI``, ``series``, ``update``,
  ``avePlaquette``, ``dataLFN``) and of config 2.0 (``dataLFN`` first, ``archiveEvent``,
  ``markovSequence/markovStep/record`` with ``crcCheckSum`` and ``avePlaquette``; one markov
  step per document);
- **ensemble** documents, ``markovChain`` of QCDml ensemble 1.4 (schema revision 1.4.8, size as
  ``elem/name,length``) and 2.0 (size as ``x, y, z, t``).

Into the graph (one transaction for all the files of a call, through
:func:`latteprov.graph.write_in_tx`):

- an ensemble document gives the **Ensemble** (tag: the last segment of its markovChainURI;
  ``nx``, ``nt``, ``beta``, ``nf``, and for HISQ sea quarks ``ml``/``ms``/``mc``, the markov
  chain URI), its **GaugeAction** (``action_type`` the QCDml element without
  ``GluonAction``: ``LuescherWeisz``, ``treelevelSymanzik`` ...; ``beta``, ``u0``) and its HISQ
  sea actions (**Hisq**, tagged light for the two-flavour action, then strange and charm by
  mass); other quark actions count towards ``nf`` only;
- a configuration document gives the **GaugeConfig** (ensemble, stream = ``series``, config =
  ``update``, ``plaquette`` = ``avePlaquette``), derived from its Ensemble (role ``ensemble``),
  the **DataFile** at its ``dataLFN`` (host empty: a logical file name is grid-wide) with
  ``crc32`` = ``crcCheckSum``, and the markov step as a **Run** of kind ``markov_step`` that
  generated it: host and code version from ``implementation``, user and end time from the
  ``generate`` event of the archive history, and in its parameters the document's
  ``management``, ``implementation``, ``algorithm`` and ``precision`` as they were written, so
  that :func:`configuration_document` writes the document back.

Parsing is safe: lxml without entity expansion, DTD loading or network access, huge trees
refused, and a document with a DOCTYPE (where entity bombs live) is refused outright.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import neo4j
from lxml import etree

from latteprov import graph, queries, rows
from latteprov.checks import known_geometry
from latteprov.errors import InputError, NotFound
from latteprov.exchange import files
from latteprov.lookup import resolve
from latteprov.store import Store

NS = "http://www.lqcd.org/ildg/QCDml/"
CONFIG_VERSIONS = {NS + "config1.3": "1.3", NS + "config2.0": "2.0"}
ENSEMBLE_VERSIONS = {NS + "ensemble1.4": "1.4", NS + "ensemble2.0": "2.0"}
RUN_KIND = "markov_step"
MAX_BYTES = 16 * 1024 * 1024  # QCDml documents are kilobytes; anything this big is not one


class QCDmlError(InputError):
    """A QCDml document cannot be read, or contradicts the graph; the message names the file."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                           dtd_validation=False, remove_comments=True, remove_pis=True)


def parse(path: Path) -> etree._Element:
    """The root element of the XML document at ``path``, parsed safely (see the module
    docstring). Raises QCDmlError for a file that cannot be read, is not well-formed XML, or
    declares a DOCTYPE."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise QCDmlError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_BYTES:
        raise QCDmlError(f"{path}: {len(data)} bytes is too large for a QCDml document")
    no_doctype = f"{path}: a DOCTYPE is not allowed in a QCDml document (entity declarations are refused)"
    # Refused before parsing, so an entity bomb is named as what it is; the parsed document's
    # DOCTYPE is checked again below (whatever its encoding).
    if any("<!DOCTYPE".encode(codec) in data[:65536] for codec in ("utf-8", "utf-16-le", "utf-16-be")):
        raise QCDmlError(no_doctype)
    try:
        tree = etree.fromstring(data, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        line = f":{exc.lineno}" if getattr(exc, "lineno", None) else ""
        raise QCDmlError(f"{path}{line}: not well-formed XML ({exc.msg})") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise QCDmlError(no_doctype)
    return tree.getroot()


# -- reading ---------------------------------------------------------------------------------
class _Doc:
    """Element access with errors that name the file and the element path."""

    def __init__(self, path: Path, root: etree._Element) -> None:
        self.path, self.root = path, root
        self.ns = etree.QName(root).namespace

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def find(self, elem: etree._Element, steps: str, required: bool = True) -> etree._Element | None:
        found = elem.find("/".join(self.q(s) for s in steps.split("/")))
        if found is None and required:
            raise QCDmlError(f"{self.path}: {self._where(elem)}/{steps} is missing")
        return found

    def all(self, elem: etree._Element, steps: str) -> list[etree._Element]:
        return elem.findall("/".join(self.q(s) for s in steps.split("/")))

    def text(self, elem: etree._Element, steps: str, required: bool = True) -> str | None:
        found = self.find(elem, steps, required)
        if found is None:
            return None
        value = (found.text or "").strip()
        if not value and required:
            raise QCDmlError(f"{self.path}: {self._where(elem)}/{steps} is empty")
        return value or None

    def number(self, elem: etree._Element, steps: str, cast: type = float, required: bool = True) -> Any:
        value = self.text(elem, steps, required)
        if value is None:
            return None
        try:
            number = cast(value)
        except ValueError:
            raise QCDmlError(f"{self.path}: {self._where(elem)}/{steps} is {value!r}, not a "
                             f"{'whole number' if cast is int else 'number'}") from None
        if cast is float and not math.isfinite(number):
            raise QCDmlError(f"{self.path}: {self._where(elem)}/{steps} is {value!r}, not a finite number")
        return number

    def _where(self, elem: etree._Element) -> str:
        parts = []
        while elem is not None:
            parts.append(etree.QName(elem).localname)
            elem = elem.getparent()
        return "/".join(reversed(parts))


def tree_json(elem: etree._Element, ns: str) -> list:
    """An element as JSON that :func:`tree_xml` turns back into it: ``[tag, text]`` for a leaf,
    ``[tag, [children]]`` otherwise (tags in the document's namespace by local name, others in
    Clark notation ``{ns}tag``), with a third item for attributes when there are any."""
    qname = etree.QName(elem)
    tag = qname.localname if qname.namespace == ns else qname.text
    children = [tree_json(c, ns) for c in elem if isinstance(c.tag, str)]
    out: list = [tag, children if children else (elem.text or "").strip()]
    if elem.attrib:
        out.append(dict(sorted(elem.attrib.items())))
    return out


def tree_xml(item: list, ns: str, parent: etree._Element | None = None) -> etree._Element:
    """The element :func:`tree_json` described (appended to ``parent`` when given)."""
    tag = item[0] if item[0].startswith("{") else f"{{{ns}}}{item[0]}"
    attrib = item[2] if len(item) > 2 else {}
    elem = etree.SubElement(parent, tag, attrib) if parent is not None else etree.Element(tag, attrib, nsmap={None: ns})
    if isinstance(item[1], list):
        for child in item[1]:
            tree_xml(child, ns, elem)
    else:
        elem.text = item[1]
    return elem


def ensemble_tag(uri: str) -> str:
    """The ensemble tag a markovChainURI names: its last path segment
    (``mc://ldg/callat/nucleon/a09m310`` -> ``a09m310``)."""
    tag = uri.rstrip("/").rsplit("/", 1)[-1]
    if not re.match(r"^[\w.+-]+$", tag):
        raise InputError(f"markovChainURI {uri!r} names no ensemble (its last segment is the tag)")
    return tag


@dataclass
class EnsembleDoc:
    """What an ensemble document says (see the module docstring)."""

    path: Path
    version: str
    uri: str
    tag: str
    nx: int
    nt: int
    beta: float | None
    gauge_action: dict | None
    sea: list[dict] = field(default_factory=list)  # {quark_mass, quark_tag, nflavours}
    nf: str | None = None


@dataclass
class ConfigDoc:
    """What a configuration document says (see the module docstring)."""

    path: Path
    version: str
    uri: str
    series: str
    update: int
    plaquette: float
    lfn: str
    crc: str
    params: dict
    user: str | None
    generated_at: datetime | None
    host: str
    code_version: str


def _flavours(doc: _Doc, actions: list[etree._Element]) -> tuple[list[dict], str | None]:
    found = []
    for action in actions:
        n = doc.number(action, "numberOfFlavours", int)
        mass = doc.number(action, "mass", required=False)
        found.append({"n": n, "mass": mass, "hisq": etree.QName(action).localname == "hisqQuarkAction"})
    found.sort(key=lambda f: (f["n"] != 2, f["mass"] if f["mass"] is not None else float("inf")))
    nf = "+".join(str(f["n"]) for f in found) if found else None
    sea, singles = [], iter(("strange", "charm"))
    for f in found:
        tag = "light" if f["n"] == 2 else next(singles, None)
        if f["hisq"] and f["mass"] is not None and tag is not None:
            sea.append({"quark_mass": f["mass"], "quark_tag": tag})
    return sea, nf


def read_ensemble(path: Path, root: etree._Element) -> EnsembleDoc:
    """An ensemble document (``markovChain``) of QCDml ensemble 1.4 or 2.0."""
    doc = _Doc(path, root)
    version = ENSEMBLE_VERSIONS[doc.ns]
    uri = doc.text(root, "markovChainURI")
    size = doc.find(root, "physics/size")
    if version == "1.4":
        extent = {}
        for elem in doc.all(size, "elem"):
            extent[(doc.text(elem, "name") or "").lower()] = doc.number(elem, "length", int)
    else:
        extent = {axis: doc.number(size, axis, int, required=axis in "xt") for axis in "xyzt"}
    if extent.get("x") is None or extent.get("t") is None:
        raise QCDmlError(f"{path}: physics/size gives no x and t extent")
    spatial = {extent.get(axis) for axis in "xyz" if extent.get(axis) is not None}
    if len(spatial) > 1:
        raise QCDmlError(f"{path}: lattice {'x'.join(str(extent[a]) for a in 'xyzt' if extent.get(a))} is not L^3 x T; "
                         "latteprov's ensembles have one spatial extent")
    gluon = [c for c in doc.find(root, "physics/action/gluon") if isinstance(c.tag, str)]
    gauge_action, beta = None, None
    if gluon:
        element = gluon[0]
        beta = doc.number(element, "beta", required=False)
        name = etree.QName(element).localname
        action_type = name[:-len("GluonAction")] if name.endswith("GluonAction") else name
        if beta is not None:
            gauge_action = {"action_type": action_type, "beta": beta,
                            "u0": doc.number(element, "u0", required=False)}
    quark = doc.find(root, "physics/action/quark", required=False)
    sea, nf = _flavours(doc, [c for c in quark if isinstance(c.tag, str)] if quark is not None else [])
    try:
        tag = ensemble_tag(uri)
    except InputError as exc:
        raise QCDmlError(f"{path}: {exc}") from None
    return EnsembleDoc(path, version, uri, tag, extent["x"], extent["t"], beta, gauge_action, sea, nf)


def _date(doc: _Doc, elem: etree._Element, steps: str) -> datetime:
    text = doc.text(elem, steps)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QCDmlError(f"{doc.path}: {doc._where(elem)}/{steps} {text!r} is not an xs:dateTime") from None
    if value.tzinfo is None:
        raise QCDmlError(f"{doc.path}: {doc._where(elem)}/{steps} {text!r} has no time zone")
    return value


def read_config(path: Path, root: etree._Element) -> ConfigDoc:
    """A configuration document (``gaugeConfiguration``) of QCDml config 1.3 or 2.0."""
    doc = _Doc(path, root)
    version = CONFIG_VERSIONS[doc.ns]
    management = doc.find(root, "management")
    implementation = doc.find(root, "implementation")
    algorithm = doc.find(root, "algorithm")
    precision = doc.text(root, "precision")
    markov: dict = {}
    if version == "1.3":
        step = doc.find(root, "markovStep")
        uri, series = doc.text(step, "markovChainURI"), doc.text(step, "series")
        update, plaquette = doc.number(step, "update", int), doc.number(step, "avePlaquette")
        lfn, crc = doc.text(step, "dataLFN"), doc.text(management, "crcCheckSum")
        events = doc.all(management, "archiveHistory/elem")
        kept = [c for c in management if isinstance(c.tag, str) and etree.QName(c).localname != "crcCheckSum"]
    else:
        lfn = doc.text(root, "dataLFN")
        sequence = doc.find(root, "markovSequence")
        steps = doc.all(sequence, "markovStep")
        if len(steps) != 1:
            raise QCDmlError(f"{path}: {len(steps)} markovStep elements; latteprov reads one configuration "
                             "per document")
        records = doc.all(steps[0], "record")
        if len(records) != 1:
            raise QCDmlError(f"{path}: {len(records)} record elements in the markovStep; latteprov reads one")
        uri, series = doc.text(sequence, "markovChainURI"), doc.text(sequence, "series")
        update = doc.number(steps[0], "update", int)
        plaquette, crc = doc.number(records[0], "avePlaquette"), doc.text(records[0], "crcCheckSum")
        markov = {"field": doc.text(records[0], "field"),
                  "sequence_annotation": doc.text(sequence, "annotation", required=False),
                  "step_annotation": doc.text(steps[0], "annotation", required=False),
                  "additionalInfo": [tree_json(e, doc.ns) for e in doc.all(root, "additionalInfo")]}
        events = doc.all(management, "archiveHistory/archiveEvent")
        kept = [c for c in management if isinstance(c.tag, str)]
    if not events:
        raise QCDmlError(f"{path}: management/archiveHistory holds no revision")
    generate = next((e for e in events if doc.text(e, "revisionAction") == "generate"), None)
    user = doc.text(generate, "participant/name", required=False) if generate is not None else None
    generated_at = _date(doc, generate, "date") if generate is not None else None
    for event in events:
        _date(doc, event, "date")
    machine, code = doc.find(implementation, "machine"), doc.find(implementation, "code")
    params = {"qcdml": version, "markovChainURI": uri, "dataLFN": lfn,
              "management": [tree_json(e, doc.ns) for e in kept],
              "implementation": tree_json(implementation, doc.ns), "algorithm": tree_json(algorithm, doc.ns),
              "precision": precision, **({"markov": markov} if markov else {})}
    return ConfigDoc(path, version, uri, series, update, plaquette, lfn, crc, params, user, generated_at,
                     host=doc.text(machine, "name"), code_version=f"{doc.text(code, 'name')} {doc.text(code, 'version')}")


def read(path: Path) -> EnsembleDoc | ConfigDoc:
    """The QCDml document at ``path``: a configuration or an ensemble document."""
    root = parse(path)
    qname = etree.QName(root)
    if qname.localname == "gaugeConfiguration" and qname.namespace in CONFIG_VERSIONS:
        return read_config(Path(path), root)
    if qname.localname == "markovChain" and qname.namespace in ENSEMBLE_VERSIONS:
        return read_ensemble(Path(path), root)
    known = ", ".join(f"gaugeConfiguration of {ns}" for ns in CONFIG_VERSIONS) + ", " + \
        ", ".join(f"markovChain of {ns}" for ns in ENSEMBLE_VERSIONS)
    raise QCDmlError(f"{path}: root element {qname.localname!r} in namespace {qname.namespace or '(none)'} is not "
                     f"a QCDml document latteprov reads ({known})")


# -- into the graph --------------------------------------------------------------------------
@dataclass
class IngestReport:
    """What an ingest of QCDml documents wrote."""

    ensembles: list[str] = field(default_factory=list)
    configurations: list[str] = field(default_factory=list)
    result: graph.WriteResult = field(default_factory=graph.WriteResult)


def _ensemble_rows(batch: graph.GraphBatch, e: EnsembleDoc) -> str:
    sea_mass = {s["quark_tag"]: s["quark_mass"] for s in e.sea}
    uid = batch.add("Ensemble", name=e.tag, tag=e.tag, markov_chain_uri=e.uri, nx=e.nx, nt=e.nt, beta=e.beta,
                    nf=e.nf, ml=sea_mass.get("light"), ms=sea_mass.get("strange"), mc=sea_mass.get("charm"))
    if e.gauge_action:
        action = e.gauge_action
        name = f"{action['action_type']} beta={action['beta']:g}"
        batch.link(uid, batch.add("GaugeAction", name=name, **action), "gauge_action")
    for s in e.sea:
        name = f"HISQ {s['quark_tag']} mq={s['quark_mass']:g}"
        batch.link(uid, batch.add("Hisq", name=name, **s), "sea_action")
    return uid


def _config_rows(batch: graph.GraphBatch, c: ConfigDoc, tag: str) -> str:
    ensemble_uid = batch.add("Ensemble", name=tag, tag=tag, markov_chain_uri=c.uri)
    name = c.lfn.rstrip("/").rsplit("/", 1)[-1] or f"{tag}-{c.series}.{c.update}"
    config = batch.add("GaugeConfig", name=name, ensemble=tag, stream=c.series, config=c.update, flow_time=0.0,
                       plaquette=c.plaquette)
    batch.link(config, ensemble_uid, "ensemble")
    batch.add_file(config, c.lfn, host="", crc32=c.crc)
    run_uid = rows.run_uid(host=c.host, job_id=None, started_at=None, kind=RUN_KIND, command=None, outputs=[config])
    batch.runs.append(rows.run_row(run_uid, kind=RUN_KIND, name=f"{RUN_KIND} {name}", host=c.host, user=c.user,
                                   code_version=c.code_version, params=c.params, ended_at=c.generated_at,
                                   exit_state="done"))
    batch.link(config, run_uid, type="GENERATED_BY")
    return config


def _check_ensembles(tx: neo4j.ManagedTransaction, docs: list[EnsembleDoc | ConfigDoc],
                     tags: dict[str, str]) -> None:
    """Refuse what contradicts the graph or the CalLat table: an ensemble of another geometry,
    or a markov chain URI naming another ensemble than the graph's."""
    wanted = sorted(set(tags.values()) | {d.tag for d in docs if isinstance(d, EnsembleDoc)})
    known = {r["tag"]: r for r in queries.run(tx, "qcdml_ensembles", tags=wanted,
                                         uris=sorted({d.uri for d in docs}))}
    for d in docs:
        tag = d.tag if isinstance(d, EnsembleDoc) else tags[d.uri]
        recorded = known.get(tag)
        if recorded and recorded["uri"] and recorded["uri"] != d.uri:
            raise QCDmlError(f"{d.path}: markovChainURI {d.uri} names ensemble {tag}, which the graph records "
                             f"with markovChainURI {recorded['uri']}")
        by_uri = next((r for r in known.values() if r["uri"] == d.uri and r["tag"] != tag), None)
        if by_uri is not None:
            raise QCDmlError(f"{d.path}: markovChainURI {d.uri} is ensemble {by_uri['tag']} in the graph, not {tag}")
        if not isinstance(d, EnsembleDoc):
            continue
        for source, extent in (("the graph", recorded), ("CalLat's ensemble table", known_geometry(tag))):
            if not extent or extent.get("nx") is None:
                continue
            if (extent["nx"], extent.get("nt")) != (d.nx, d.nt):
                raise QCDmlError(f"{d.path}: ensemble {tag} is {d.nx}^3 x {d.nt} here, but {extent['nx']}^3 x "
                                 f"{extent.get('nt')} in {source}")


def ingest(store: Store, paths: list[Path], ensemble: str | None = None) -> IngestReport:
    """Read the QCDml documents ``paths`` and write them in one transaction. ``ensemble``
    overrides the tag of the ensemble configuration documents name (default: the last segment
    of their markovChainURI). Raises QCDmlError naming the file for a document that cannot be
    read or contradicts the graph; then nothing is written."""
    docs = [read(Path(p)) for p in paths]
    ensembles = [d for d in docs if isinstance(d, EnsembleDoc)]
    tags = {e.uri: e.tag for e in ensembles}
    for d in docs:
        if isinstance(d, ConfigDoc):
            try:
                tags.setdefault(d.uri, ensemble or ensemble_tag(d.uri))
            except InputError as exc:
                raise QCDmlError(f"{d.path}: {exc}") from None
    report = IngestReport()
    batch = graph.GraphBatch()
    try:
        for e in ensembles:
            _ensemble_rows(batch, e)
            report.ensembles.append(e.tag)
        for c in (d for d in docs if isinstance(d, ConfigDoc)):
            _config_rows(batch, c, tags[c.uri])
            report.configurations.append(f"{tags[c.uri]} {c.series} {c.update}")
    except InputError as exc:
        raise QCDmlError(str(exc)) from None

    def work(tx: neo4j.ManagedTransaction) -> graph.WriteResult:
        _check_ensembles(tx, docs, tags)
        conflicts = files.keep_recorded(tx, batch)
        result = graph.write_in_tx(tx, batch)
        result.conflicts += conflicts
        return result

    report.result = store.write_tx(work)
    return report


# -- out of the graph ------------------------------------------------------------------------
def _leaf(parent: etree._Element, ns: str, tag: str, text: str | None) -> None:
    if text is not None:
        etree.SubElement(parent, f"{{{ns}}}{tag}").text = text


def _number(value: float | int) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


def configuration_document(store: Store, ident: str) -> bytes:
    """The QCDml configuration document of the configuration ``ident`` (uid or name), in the
    QCDml version it was read in. Raises NotFound for an unknown ``ident`` and InputError for
    a node that is not a configuration recorded from QCDml."""
    uid = resolve(store, ident)
    row = store.read_one("qcdml_configuration", uid=uid)
    if row is None:
        raise InputError(f"{ident!r} is not a gauge configuration")
    runs = [r for r in row["runs"] if r.get("run_kind") == RUN_KIND]
    if not runs:
        raise InputError(f"{ident!r} has no ILDG record: its crcCheckSum, avePlaquette, machine and code come "
                         "from 'latteprov ingest qcdml'")
    params = json.loads(runs[0]["params"])
    config = row["config"]
    files = [f for f in row["files"] if f["path"] == params["dataLFN"]]
    if not files or not files[0].get("crc32"):
        raise NotFound(f"{ident!r}: no data file at its dataLFN {params['dataLFN']} with a crcCheckSum")
    version = params["qcdml"]
    ns = next(n for n, v in CONFIG_VERSIONS.items() if v == version)
    crc = files[0]["crc32"]
    root = etree.Element(f"{{{ns}}}gaugeConfiguration", nsmap={None: ns})
    uri = row["uri"] or params["markovChainURI"]
    if version == "2.0":
        _leaf(root, ns, "dataLFN", params["dataLFN"])
    management = etree.SubElement(root, f"{{{ns}}}management")
    for item in params["management"]:
        if version == "1.3" and item[0] == "archiveHistory":
            _leaf(management, ns, "crcCheckSum", crc)
        tree_xml(item, ns, management)
    tree_xml(params["implementation"], ns, root)
    tree_xml(params["algorithm"], ns, root)
    _leaf(root, ns, "precision", params["precision"])
    if version == "1.3":
        step = etree.SubElement(root, f"{{{ns}}}markovStep")
        for tag, text in (("markovChainURI", uri), ("series", config["stream"]), ("update", str(config["config"])),
                          ("avePlaquette", _number(config["plaquette"])), ("dataLFN", params["dataLFN"])):
            _leaf(step, ns, tag, text)
    else:
        markov = params.get("markov", {})
        sequence = etree.SubElement(root, f"{{{ns}}}markovSequence")
        _leaf(sequence, ns, "annotation", markov.get("sequence_annotation"))
        _leaf(sequence, ns, "markovChainURI", uri)
        _leaf(sequence, ns, "series", config["stream"])
        step = etree.SubElement(sequence, f"{{{ns}}}markovStep")
        _leaf(step, ns, "annotation", markov.get("step_annotation"))
        _leaf(step, ns, "update", str(config["config"]))
        record = etree.SubElement(step, f"{{{ns}}}record")
        for tag, text in (("field", markov.get("field")), ("crcCheckSum", crc),
                          ("avePlaquette", _number(config["plaquette"]))):
            _leaf(record, ns, tag, text)
        for item in markov.get("additionalInfo", []):
            tree_xml(item, ns, root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
