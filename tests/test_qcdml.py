"""ILDG QCDml: configuration and ensemble documents (built here after the QCDml config 1.3.1,
ensemble 1.4.8 and 2.0 schemas, with the contents clarkedavida/createQCDml writes) become
Ensemble, GaugeConfig, DataFile and the markov step's Run; a configuration is written back as
the document it came from; bad documents are refused in one line and write nothing."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree

from exchange_support import fingerprint
from latteprov import rows, synth

NS = "http://www.lqcd.org/ildg/QCDml/"
URI = "mc://ldg/callat/nucleon/a09m310"
LFN = "lfn://ldg/callat/nucleon/a09m310/l3296f211b630m0074m037m440e.300.lime"
GENERATED = "2018-06-12T09:30:00+00:00"


def E(ns: str, tag: str, *children, text: str | None = None) -> etree._Element:
    elem = etree.Element(f"{{{ns}}}{tag}", nsmap={None: ns})
    for child in children:
        elem.append(child)
    if text is not None:
        elem.text = text
    return elem


def leaves(ns: str, **values: str) -> list[etree._Element]:
    return [E(ns, tag, text=str(value)) for tag, value in values.items()]


def config_13(update: int = 300, plaquette: str = "0.5881234", crc: str = "2745928411", uri: str = URI,
              lfn: str = LFN) -> etree._Element:
    ns = NS + "config1.3"
    participant = lambda name: E(ns, "participant", *leaves(ns, name=name, institution="LLNL"))  # noqa: E731
    return E(ns, "gaugeConfiguration",
             E(ns, "management", *leaves(ns, revisions=1, reference="CalLat nucleon campaign"),
               E(ns, "crcCheckSum", text=crc),
               E(ns, "archiveHistory",
                 E(ns, "elem", *leaves(ns, revision=0, revisionAction="generate"), participant("Ada Lattice"),
                   E(ns, "date", text=GENERATED)),
                 E(ns, "elem", *leaves(ns, revision=1, revisionAction="add"), participant("Ben Curator"),
                   E(ns, "date", text="2019-01-07T16:00:00-08:00"), E(ns, "comment", text="first upload")))),
             E(ns, "implementation",
               E(ns, "machine", *leaves(ns, name="lassen", institution="LLNL", machineType="IBM Power9 + V100")),
               E(ns, "code", *leaves(ns, name="MILC", version="7.8.1", date="2018-03-01T00:00:00+00:00"))),
             E(ns, "algorithm", E(ns, "parameters", *leaves(ns, name="trajectoryLength", value="1.0"),
                                  *leaves(ns, name="nSteps", value="20"))),
             E(ns, "precision", text="double"),
             E(ns, "markovStep", *leaves(ns, markovChainURI=uri, series="e", update=update, avePlaquette=plaquette,
                                         dataLFN=lfn)))


def config_20(update: int = 400) -> etree._Element:
    ns = NS + "config2.0"
    return E(ns, "gaugeConfiguration",
             E(ns, "dataLFN", text=f"lfn://ldg/callat/nucleon/a09m310/e_{update}.lime"),
             E(ns, "management", E(ns, "annotation", text="CalLat a09m310"), *leaves(ns, revisions=0),
               E(ns, "archiveHistory",
                 E(ns, "archiveEvent", *leaves(ns, revisionAction="generate"),
                   E(ns, "participant", *leaves(ns, orcid="0000-0002-1825-0097", name="Ada Lattice")),
                   E(ns, "date", text="2019-03-04T10:00:00+01:00")))),
             E(ns, "implementation",
               E(ns, "machine", *leaves(ns, name="summit", institution="ORNL", machineType="IBM AC922")),
               E(ns, "code", *leaves(ns, name="MILC", version="7.8.1", date="2018-03-01T00:00:00+00:00"))),
             E(ns, "algorithm", E(ns, "parameters",
                                  E(ns, "parameter", *leaves(ns, name="trajectoryLength", value="1.0")))),
             E(ns, "precision", text="single"),
             E(ns, "markovSequence", *leaves(ns, markovChainURI=URI, series="e"),
               E(ns, "markovStep", *leaves(ns, update=update),
                 E(ns, "record", *leaves(ns, field="su3gauge", crcCheckSum="12ec367d", avePlaquette="0.5881777")))))


def hisq(ns: str, flavours: int, mass: float) -> etree._Element:
    glossary = "http://www.lqcd.org/ildg/actionGlossaries/"
    return E(ns, "hisqQuarkAction", E(ns, "glossary", text=glossary + "hisqQuarkAction.pdf"),
             E(ns, "quarkField", E(ns, "normalisation", text="DoNotKnowYet"),
               E(ns, "boundaryCondition", *[E(ns, "elem", text=bc) for bc in ("periodic",) * 3 + ("antiperiodic",)])),
             *leaves(ns, numberOfFlavours=flavours, mass=mass),
             E(ns, "LinkTreatment",
               E(ns, "fat7QuarkLinkTreatment", E(ns, "glossary", text=glossary + "fat7QuarkLinkTreatment.pdf"),
                 *leaves(ns, c1Link=0.125, c3Link=0.0625, c5LinkChair=0.015625, c7LinkTwist=0.0026041666666666665,
                         u0=1.0)),
               E(ns, "projectGroupLinkTreatment", E(ns, "glossary", text=glossary + "projectGroupLinkTreatment.pdf")),
               E(ns, "asqTadQuarkLinkTreatment", E(ns, "glossary", text=glossary + "asqTadQuarkLinkTreatment.pdf"),
                 *leaves(ns, cNaik=-0.041666666666666664, c1Link=1, c3Link=0.0625, c5LinkChair=0.015625,
                         c7LinkTwist=0.0026041666666666665, cLepage=-0.125, u0=1.0))))


def ensemble_14(L: int = 32, T: int = 96, uri: str = URI) -> etree._Element:
    ns = NS + "ensemble1.4"
    return E(ns, "markovChain", E(ns, "markovChainURI", text=uri),
             E(ns, "management", *leaves(ns, collaboration="CalLat", projectName="nucleon"),
               E(ns, "archiveHistory", E(ns, "elem", *leaves(ns, revisionAction="add"),
                                         E(ns, "participant", *leaves(ns, name="Ben Curator", institution="LLNL")),
                                         E(ns, "date", text="2019-01-07T16:00:00-08:00")))),
             E(ns, "physics",
               E(ns, "size", *[E(ns, "elem", *leaves(ns, name=axis, length=n))
                               for axis, n in (("X", L), ("Y", L), ("Z", L), ("T", T))]),
               E(ns, "action",
                 E(ns, "gluon", E(ns, "LuescherWeiszGluonAction",
                                  E(ns, "glossary", text="http://www.lqcd.org/ildg/actionGlossaries/lw.pdf"),
                                  E(ns, "gluonField", *leaves(ns, gaugeGroup="SU(3)", representation="fundamental"),
                                    E(ns, "boundaryCondition", *[E(ns, "elem", text="periodic")] * 4)),
                                  *leaves(ns, beta=6.3, normalisation="c0_is_one", c0=1.0, c1=-0.0833, c2=0.0,
                                          c3=0.0))),
                 E(ns, "quark", hisq(ns, 2, 0.0074), hisq(ns, 1, 0.037), hisq(ns, 1, 0.44)))),
             E(ns, "algorithm", *leaves(ns, name="RHMC", glossary="http://www.lqcd.org/ildg/RHMC.pdf",
                                        reference="Phys. Rev. Lett. 98 (2007) 051601", exact="true")))


def ensemble_20(L: int = 24, T: int = 48, uri: str = "mc://ldg/callat/nucleon/x15m310") -> etree._Element:
    ns = NS + "ensemble2.0"
    return E(ns, "markovChain", E(ns, "markovChainURI", text=uri),
             E(ns, "management", *leaves(ns, collaboration="CalLat", projectName="nucleon"),
               E(ns, "archiveHistory")),
             E(ns, "license", E(ns, "licenseURI", text="https://creativecommons.org/licenses/by/4.0/")),
             E(ns, "physics", E(ns, "size", *leaves(ns, x=L, y=L, z=L, t=T)),
               E(ns, "action",
                 E(ns, "gluon", E(ns, "treelevelSymanzikGluonAction", *leaves(ns, glossary="g", beta=5.8))),
                 E(ns, "quark", hisq(ns, 2, 0.013), hisq(ns, 1, 0.065)))),
             E(ns, "algorithm", *leaves(ns, name="RHMC", glossary="g", reference="r", exact="true",
                                        reweightingNeeded="false")))


def save(tmp_path: Path, name: str, root: etree._Element) -> Path:
    path = tmp_path / name
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
    return path


def shape(elem: etree._Element) -> tuple:
    """An element as (tag, text, children), whitespace between elements ignored."""
    return (elem.tag, (elem.text or "").strip(), [shape(c) for c in elem if isinstance(c.tag, str)])


def node(store, label: str, **key) -> dict:
    uid = rows.entity(label, **key)["uid"]
    found = store.run_text("MATCH (n:Entity {uid: $u}) RETURN properties(n) AS p", u=uid)
    assert found, f"no {label} {key}"
    return found[0]["p"]


def test_documents_become_the_ensemble_its_actions_the_configuration_its_file_and_its_markov_step(
        store, cli, tmp_path) -> None:
    paths = [save(tmp_path, "ens.xml", ensemble_14()), save(tmp_path, "cfg.xml", config_13())]
    result = cli("ingest", "qcdml", *paths)
    assert result.exit_code == 0, result.output
    ensemble = node(store, "Ensemble", tag="a09m310")
    assert {k: ensemble.get(k) for k in ("nx", "nt", "beta", "nf", "ml", "ms", "mc", "markov_chain_uri")} == \
        {"nx": 32, "nt": 96, "beta": 6.3, "nf": "2+1+1", "ml": 0.0074, "ms": 0.037, "mc": 0.44, "markov_chain_uri": URI}
    # the same sea actions and gauge action as the CalLat file names give (one node each)
    for tag, mass in (("light", 0.0074), ("strange", 0.037), ("charm", 0.44)):
        node(store, "Hisq", quark_mass=mass, quark_tag=tag)
    node(store, "GaugeAction", action_type="LuescherWeisz", beta=6.3)
    config = node(store, "GaugeConfig", ensemble="a09m310", stream="e", config=300, flow_time=0.0)
    assert config["plaquette"] == 0.5881234 and config["name"] == "l3296f211b630m0074m037m440e.300.lime"
    links = store.run_text(
        "MATCH (c:GaugeConfig {uid: $u})-[:DERIVED_FROM {role: 'ensemble'}]->(e:Ensemble), (c)-[:STORED_AT]->(f), "
        "(c)-[:GENERATED_BY]->(r:Run) RETURN e.tag AS tag, f.path AS path, f.host AS host, f.crc32 AS crc, "
        "r.run_kind AS kind, r.host AS machine, r.code_version AS code, r.user AS user, r.ended_at AS ended, "
        "r.exit_state AS state", u=config["uid"])
    assert len(links) == 1
    link = links[0]
    assert (link["tag"], link["path"], link["host"], link["crc"]) == ("a09m310", LFN, "", "2745928411")
    assert (link["kind"], link["machine"], link["code"], link["user"], link["state"]) == \
        ("markov_step", "lassen", "MILC 7.8.1", "Ada Lattice", "done")
    assert link["ended"].to_native() == datetime(2018, 6, 12, 9, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("document", [config_13, config_20])
def test_a_configuration_is_written_back_as_the_document_it_came_from(store, cli, tmp_path, document) -> None:
    original = document()
    path = save(tmp_path, "cfg.xml", original)
    assert cli("ingest", "qcdml", path).exit_code == 0
    update = int(original.find(".//{*}update").text)
    uid = rows.entity("GaugeConfig", ensemble="a09m310", stream="e", config=update, flow_time=0.0)["uid"]
    out = tmp_path / "back.xml"
    result = cli("export", "--format", "qcdml", uid, "-o", out)
    assert result.exit_code == 0, result.output
    assert shape(etree.fromstring(out.read_bytes())) == shape(original)


def test_ingesting_again_changes_nothing_and_a_changed_value_is_a_conflict(store, cli, tmp_path) -> None:
    paths = [save(tmp_path, "ens.xml", ensemble_14()), save(tmp_path, "cfg.xml", config_13())]
    assert cli("ingest", "qcdml", *paths).exit_code == 0
    once = fingerprint(store)
    again = cli("ingest", "qcdml", *paths)
    assert again.exit_code == 0 and "0 entities created" in again.output
    assert fingerprint(store) == once
    changed = cli("ingest", "qcdml", save(tmp_path, "cfg2.xml", config_13(plaquette="0.59", crc="1")))
    assert changed.exit_code == 3
    assert "plaquette recorded 0.5881234, given 0.59" in changed.output and "crc32 recorded '2745928411'" in changed.output
    assert node(store, "GaugeConfig", ensemble="a09m310", stream="e", config=300, flow_time=0.0)["plaquette"] == 0.5881234


def test_an_ensemble_document_of_2_0_reads_its_size_and_actions(store, cli, tmp_path) -> None:
    assert cli("ingest", "qcdml", save(tmp_path, "ens.xml", ensemble_20())).exit_code == 0
    ensemble = node(store, "Ensemble", tag="x15m310")
    assert (ensemble["nx"], ensemble["nt"], ensemble["nf"], ensemble["ml"], ensemble["ms"]) == (24, 48, "2+1", 0.013, 0.065)
    node(store, "GaugeAction", action_type="treelevelSymanzik", beta=5.8)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<gaugeConfiguration xmlns="http://www.lqcd.org/ildg/QCDml/config1.3"><precision>&lol9;</precision></gaugeConfiguration>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<markovChain xmlns="http://www.lqcd.org/ildg/QCDml/ensemble1.4"><markovChainURI>&secret;</markovChainURI></markovChain>
"""


def _without(tag: str):
    def edit(root: etree._Element) -> etree._Element:
        found = root.find(f".//{{*}}{tag}")
        found.getparent().remove(found)
        return root
    return edit


def _text(tag: str, value: str):
    def edit(root: etree._Element) -> etree._Element:
        root.find(f".//{{*}}{tag}").text = value
        return root
    return edit


BAD = {
    "malformed": (b"<gaugeConfiguration xmlns='x'><management></gaugeConfiguration>", "not well-formed XML"),
    "bomb": (BOMB, "a DOCTYPE is not allowed"),
    "external entity": (XXE, "a DOCTYPE is not allowed"),
    "not qcdml": (b"<?xml version='1.0'?><html/>", "root element 'html' in namespace (none) is not a QCDml document"),
    "no plaquette": (_without("avePlaquette")(config_13()), "gaugeConfiguration/markovStep/avePlaquette is missing"),
    "update not a number": (_text("update", "three hundred")(config_13()), "is 'three hundred', not a whole number"),
    "other geometry than CalLat's table": (ensemble_14(L=40, T=8),
                                           "ensemble a09m310 is 40^3 x 8 here, but 32^3 x 96 in CalLat's ensemble table"),
    "not L^3 x T": (_text("length", "16")(ensemble_14()), "is not L^3 x T"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_document_is_one_line_and_nothing_of_the_call_is_written(store, cli, tmp_path, case) -> None:
    content, message = BAD[case]
    bad = tmp_path / "bad.xml"
    bad.write_bytes(content if isinstance(content, bytes) else etree.tostring(content))
    good = save(tmp_path, "good.xml", config_13(update=500))
    before = fingerprint(store)
    started = time.monotonic()
    result = cli("ingest", "qcdml", good, bad)
    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {bad}") and message in lines[0], result.output
    assert fingerprint(store) == before


def test_an_ensemble_of_another_geometry_than_the_graph_s_is_refused(store, cli, tmp_path) -> None:
    assert cli("ingest", "qcdml", save(tmp_path, "a.xml", ensemble_20(L=24, T=48))).exit_code == 0
    before = fingerprint(store)
    result = cli("ingest", "qcdml", save(tmp_path, "b.xml", ensemble_20(L=32, T=64)))
    assert result.exit_code == 1 and "ensemble x15m310 is 32^3 x 64 here, but 24^3 x 48 in the graph" in result.output
    assert fingerprint(store) == before


def test_a_configuration_naming_an_ensemble_recorded_under_another_uri_is_refused(store, cli, tmp_path) -> None:
    assert cli("ingest", "qcdml", save(tmp_path, "e.xml", ensemble_14())).exit_code == 0
    before = fingerprint(store)
    other = config_13(uri="mc://ldg/elsewhere/a09m310")
    result = cli("ingest", "qcdml", save(tmp_path, "c.xml", other))
    assert result.exit_code == 1 and f"which the graph records with markovChainURI {URI}" in result.output
    assert fingerprint(store) == before


def test_a_configuration_without_an_ildg_record_cannot_be_written(store, cli) -> None:
    synth.write(store, "S", 0)
    result = cli("export", "--format", "qcdml", "l3296f211b630m0074m037m440e.300")
    assert result.exit_code == 1 and "has no ILDG record" in result.output
    assert len(result.output.strip().splitlines()) == 1
