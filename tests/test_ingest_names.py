"""``ingest names``: every CalLat template of the preset, implied inputs, groups, bad input, speed."""
from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latteprov import graph, lineage, synth
from latteprov.errors import InputError
from latteprov.ingest import conventions
from latteprov.ingest.builder import Builder
from latteprov.ingest.conventions import ConventionError, NameProblem
from latteprov.ingest.names import ingest_names
from latteprov import schema

ENS = "a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951"
MOM = "px0py0pz0"
LONG = "l3296f211b630m0074m037m440"

# template key -> (a real-shaped name, its kind, some fields it must parse to)
PRESET_NAMES = {
    "milc": (f"{LONG}e.300", "GaugeConfig", {"ensemble": "a09m310", "stream": "e", "config": 300, "nx": 32, "nt": 96,
                                              "beta": 6.3, "ml": 0.0074, "ms": 0.037, "mc": 0.44}),
    "flowed": (f"{LONG}e.300_wflow1.0.lime", "GaugeConfig", {"config": 300, "flow_time": 1.0}),
    "src": ("src_a09m310_e_300_gf1.0_w3.5_n45_x3y3z19t62.lime", "Source", {"x": 3, "y": 3, "z": 19, "t": 62}),
    "prop": (f"prop_{ENS}_x3y3z19t62.lime", "OneToAll", {"M5": 1.1, "L5": 6, "alpha5": 1.5, "quark_mass": 0.00951,
                                                         "b5": 1.25, "c5": 0.25}),
    "spec": (f"spec_{ENS}_x3y3z19t62.h5", "Baryon2pt", {"t": 62}),
    "spec_4D": (f"spec_4D_{ENS}_x3y3z19t62.h5", "DerivedDataset", {"t": 62}),
    "spec_4D_tslice": (f"spec_4D_tslice_{ENS}_x3y3z19t62.h5", "DerivedDataset", {"t": 62}),
    "spec_src_avg": (f"spec_{ENS}_src_avg.h5", "DerivedDataset", {"sources": "src_avg"}),
    "spec_4D_tslice_avg": (f"spec_4D_tslice_avg_{ENS}_src_avg0-7.h5", "DerivedDataset", {"sources": "src_avg0-7"}),
    "spec_4D_tslice_avg_fft": (f"spec_4D_tslice_avg_{ENS}_src_avg_0_fft.h5", "DerivedDataset", {"sources": "src_avg_0"}),
    "spec_4D_tslice_avg_project": (f"spec_4D_tslice_avg_{ENS}_src_avg_fft_proj.h5", "DerivedDataset",
                                   {"sources": "src_avg", "config": 300}),
    "seqsrc": (f"seqsrc_a09m310_e_300_proton_np_UU_up_up_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_{MOM}_dt-10_Nsnk8_SS.lime",
               "SequentialSource", {"particle": "proton_np", "flav_spin": "UU_up_up", "tsep": -10, "nsnk": 8}),
    "seqprop": (f"seqprop_a09m310_e_300_proton_DD_dn_dn_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_{MOM}_dt10_Srcs0-7_PS.lime",
                "Sequential", {"particle": "proton", "flav_spin": "DD_dn_dn", "tsep": 10, "src_set": "0-7", "snk": "PS"}),
    "formfac": (f"formfac_{ENS}_{MOM}_dt-10_Srcs0-7_x3y3z19t62_SS.h5", "Baryon3pt", {"tsep": -10, "x": 3, "snk": "SS"}),
    "formfac_4D": (f"formfac_4D_{ENS}_{MOM}_dt10_Srcs0-7_x3y3z19t62_SS.h5", "DerivedDataset", {"tsep": 10}),
    "formfac_4D_tslice": (f"formfac_4D_tslice_{ENS}_{MOM}_dt10_Srcs0-7_x3y3z19t62_SS.h5", "DerivedDataset", {"tsep": 10}),
    "formfac_4D_tslice_src_avg": (f"formfac_4D_tslice_src_avg_{ENS}_{MOM}_dt10_Srcs0-7_src_avg_SS.h5", "DerivedDataset",
                                  {"src_set": "0-7", "snk": "SS", "sources": "src_avg"}),
    "formfac_4D_tslice_src_avg_fft": (f"formfac_4D_tslice_src_avg_{ENS}_{MOM}_dt10_Srcs0-7_src_avg0-7_SS_fft.h5",
                                      "DerivedDataset", {"src_set": "0-7", "snk": "SS", "sources": "src_avg0-7"}),
    "formfac_4D_tslice_src_avg_project": (f"formfac_4D_tslice_src_avg_{ENS}_{MOM}_dt10_Srcs0-7_src_avg_SS_fft_proj.h5",
                                          "DerivedDataset", {"tsep": 10, "snk": "SS"}),
}


@pytest.fixture(scope="module")
def preset() -> conventions.Conventions:
    return conventions.load()


def kinds_in(store, uid: str) -> dict[str, set[str]]:
    """Kind -> names of everything ``uid`` derives from."""
    out: dict[str, set[str]] = {}
    for node in lineage.lineage(store, uid)["nodes"]:
        out.setdefault(node["kind"], set()).add(node["name"])
    return out


def test_every_template_of_the_preset_has_a_test(preset) -> None:
    assert {k for k, s in preset.nodes.items() if s.template} == set(PRESET_NAMES)


@pytest.mark.parametrize("key", sorted(PRESET_NAMES))
def test_each_preset_template_parses_its_name_and_only_it(preset, key: str) -> None:
    name, kind, expected = PRESET_NAMES[key]
    found = preset.match(name)
    assert found is not None and found.spec.key == key and found.spec.kind == kind
    fields = preset.enrich(found.fields)
    assert {k: fields[k] for k in expected} == expected


@pytest.mark.parametrize("key", sorted(PRESET_NAMES))
def test_each_preset_name_ingests_with_its_implied_inputs(store, preset, key: str) -> None:
    name, kind, _ = PRESET_NAMES[key]
    report = ingest_names(store, preset, [name])
    assert report.matched == 1 and not report.problems
    stem = name if key == "milc" else name.rsplit(".", 1)[0]
    uid = lineage.resolve(store, stem)
    found = kinds_in(store, uid)
    assert kind in found
    if "src_avg" not in name:  # an average (and what is made of it) names no source: its group does
        # everything reaches its ensemble through the unflowed configuration
        assert f"{LONG}e.300" in found["GaugeConfig"] and "a09m310" in found["Ensemble"]


def test_a_propagator_derives_from_flowed_config_action_and_source(store, preset) -> None:
    name = PRESET_NAMES["prop"][0]
    ingest_names(store, preset, [name])
    graph = lineage.lineage(store, name[:-5], depth=1)
    by_uid = {n["uid"]: n for n in graph["nodes"]}
    roles = {e["role"]: by_uid[e["to"]]["kind"] for e in graph["edges"] if e["type"] == "DERIVED_FROM"}
    assert roles == {"gauge": "GaugeConfig", "action": "MobiusDW", "source": "Source"}
    action = next(n for n in graph["nodes"] if n["kind"] == "MobiusDW")
    assert action["props"]["b5"] - action["props"]["c5"] == 1 and "ensemble" not in action["props"]


def test_variants_derive_from_the_one_before(store, preset) -> None:
    names = [PRESET_NAMES[k][0] for k in ("spec_4D_tslice", "spec_4D", "spec")]
    ingest_names(store, preset, names)
    graph = lineage.lineage(store, names[0][:-3], depth=2)
    steps = {n["name"]: n["props"].get("step") for n in graph["nodes"]}
    assert steps[names[0][:-3]] == "tslice" and steps[names[1][:-3]] == "4D" and names[2][:-3] in steps


def test_source_average_groups_the_tslices_of_its_configuration(store, preset) -> None:
    sources = ["x3y3z19t62", "x9y1z2t14"]
    names = [f"spec_4D_tslice_{ENS}_{s}.h5" for s in sources] + [PRESET_NAMES["spec_4D_tslice_avg"][0],
                                                                  f"spec_4D_tslice_a09m310_e_305_{ENS[15:]}_x1y1z1t1.h5"]
    ingest_names(store, preset, names)
    graph = lineage.lineage(store, PRESET_NAMES["spec_4D_tslice_avg"][0][:-3], depth=1)
    inputs = {n["name"] for n in graph["nodes"]} - {graph["nodes"][0]["name"]}
    assert inputs == {f"spec_4D_tslice_{ENS}_{s}" for s in sources}


def test_seqsrc_derives_from_the_propagators_of_its_configuration(store, preset) -> None:
    props = [f"prop_{ENS}_x{i}y0z0t{i}.lime" for i in range(3)]
    ingest_names(store, preset, props + [PRESET_NAMES["seqsrc"][0]])
    graph = lineage.lineage(store, PRESET_NAMES["seqsrc"][0][:-5], depth=1)
    assert {n["name"] for n in graph["nodes"] if n["kind"] == "OneToAll"} == {p[:-5] for p in props}


def test_formfac_reaches_its_config_through_propagator_and_seqprop(store, preset) -> None:
    ingest_names(store, preset, [PRESET_NAMES["formfac"][0]])
    graph = lineage.lineage(store, PRESET_NAMES["formfac"][0][:-3])
    flowed = next(n["uid"] for n in graph["nodes"] if n["name"] == f"{LONG}e.300_wflow1.0")
    kinds = {n["uid"]: n["kind"] for n in graph["nodes"]}
    into_flowed = {kinds[e["from"]] for e in graph["edges"] if e["to"] == flowed}
    assert {"OneToAll", "Sequential"} <= into_flowed


def test_ten_thousand_campaign_names_ingest_and_formfac_lineage_has_both_paths(store, preset) -> None:
    names = list(itertools.islice(synth.names("L", 0), 10_000))
    report = ingest_names(store, preset, names)
    assert report.names == 10_000 and report.matched == 10_000 and not report.problems
    formfac = next(n for n in names if n.startswith("formfac_"))
    graph = lineage.lineage(store, formfac[:-3])
    by_uid = {n["uid"]: n for n in graph["nodes"]}
    gauge = {e["to"] for e in graph["edges"] if e["role"] == "gauge"}
    config = {by_uid[e["to"]]["config"] if "config" in by_uid[e["to"]] else by_uid[e["to"]]["props"]["config"]
              for e in graph["edges"] if e["role"] == "parent"}
    assert len(config) == 1
    reaching = {by_uid[e["from"]]["kind"] for e in graph["edges"] if e["to"] in gauge}
    assert {"OneToAll", "Sequential", "SequentialSource"} <= reaching
    seqprops = [e for e in graph["edges"] if e["role"] == "seqprop"]
    assert seqprops and all(by_uid[e["to"]]["props"].get("flav_spin") for e in seqprops)  # the named ones, not a placeholder


def test_existing_files_get_a_datafile(store, preset, tmp_path: Path) -> None:
    path = tmp_path / PRESET_NAMES["spec"][0]
    path.write_bytes(b"x" * 267)
    report = ingest_names(store, preset, [str(path), PRESET_NAMES["prop"][0]])
    assert report.files == 1
    rows = store.run_text("MATCH (c:Baryon2pt)-[:STORED_AT]->(f:DataFile) RETURN f.size AS size, f.status AS status, f.path AS path")
    assert rows == [{"size": 267, "status": "on_disk", "path": str(path)}]


def test_reingesting_changes_nothing(store, preset) -> None:
    names = [v[0] for v in PRESET_NAMES.values()]
    ingest_names(store, preset, names)
    count = store.run_text("MATCH (n) RETURN count(n) AS n")[0]["n"]
    again = ingest_names(store, preset, names)
    assert again.written.entities_created == 0
    assert store.run_text("MATCH (n) RETURN count(n) AS n")[0]["n"] == count


# -- dispatch: only templates that could fit are tried, and none that could is skipped ------
# Templates of other kinds whose literal prefix or suffix differs from the preset's, so that a
# dispatch on prefix or suffix alone would miss the second fit.
CLASHING = (
    '[nodes.any_lime]\nkind = "Source"\ntemplate = "{rest}.lime"\n'
    '[nodes.prop_any]\nkind = "Sequential"\ntemplate = "prop_{rest}"\n'
    '[nodes.three]\nkind = "Meson2pt"\ntemplate = "{a:word}_{b:word}_{c}.h5"\n'
    '[nodes.braced]\nkind = "Meson2pt"\ntemplate = "{{{a:word}}}_{b}"\n'
    '[nodes.brace_ends]\nkind = "Meson2pt"\ntemplate = "}}{a}{{.h5"\n'
)
FRAGMENTS = ["prop_", "spec_", "spec_4D_", "tslice_", "avg_", "formfac_", "seqsrc_", "src_", "a09m310_e_300_",
             ENS + "_", MOM + "_", "dt-10_", "Srcs0-7_", "x3y3z19t62", "_SS", "src_avg0-7", ".lime", ".h5", "{.h5",
             LONG + "e.300", "_wflow1.0", "{", "}", "_", "proton_UU_up_up_", "Nsnk8"]


@pytest.fixture(scope="module")
def clashing(tmp_path_factory) -> conventions.Conventions:
    path = tmp_path_factory.mktemp("conv") / "clash.toml"
    path.write_text(CLASHING)
    return conventions.load([path])


def every_template(conv: conventions.Conventions, name: str) -> list[tuple[str, dict]]:
    """Reference: the (key, fields) of every template that fits ``name``, tried one by one."""
    return [(spec.key, dict(result.named)) for spec in conv.nodes.values() if spec.parser is not None
            for result in [spec.parser.parse(name)] if result is not None]


def assert_dispatch_agrees(conv: conventions.Conventions, name: str) -> None:
    fits = every_template(conv, name)
    if len({conv.nodes[key].kind for key, _ in fits}) > 1:
        with pytest.raises(NameProblem) as caught:
            conv.match(name)
        listing = str(caught.value).split(": fits templates of different kinds: ")[1]
        listed = {part.split(" (")[0] for part in listing.split(", ") if " (" in part}
        assert listed == {key for key, _ in fits}
        return
    found = conv.match(name)
    if not fits:
        assert found is None
    else:
        assert found is not None and (found.spec.key, found.fields) in fits
        assert all(found.raw[k] in name for k in found.fields)


def campaign_sample() -> list[str]:
    names = [v[0] for v in PRESET_NAMES.values()]
    for tier in ("S", "L"):
        stream = synth.names(tier, 0)
        names += itertools.islice(stream, 0, 4000, 7)
    return names + [n[:-1] for n in names[:40]] + [n + ".h5" for n in names[:40]] + ["", "_", ".lime", "prop_.lime"]


def test_dispatch_finds_what_trying_every_template_finds(preset, clashing) -> None:
    names = campaign_sample()
    for conv in (preset, clashing):
        for name in names:
            assert_dispatch_agrees(conv, name)
    # the clashing file really makes campaign names problems (else the test above proves little)
    problems = 0
    for name in names:
        try:
            clashing.match(name)
        except NameProblem:
            problems += 1
    assert problems > len(names) // 2


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12))
def test_dispatch_agrees_on_random_names(preset, clashing, pieces: list[str]) -> None:
    name = "".join(pieces)
    assert_dispatch_agrees(preset, name)
    assert_dispatch_agrees(clashing, name)


# -- the writer thread ---------------------------------------------------------------------
def test_batches_are_committed_in_order_while_the_next_are_built(store, preset) -> None:
    names = list(itertools.islice(synth.names("L", 0), 3000))
    report = ingest_names(store, preset, names, batch_size=500)
    assert report.matched == 3000 and not report.problems
    # the same graph as one big transaction gives
    counts = store.run_text("MATCH (n:Entity) WITH count(n) AS n MATCH ()-[r]->() RETURN n, count(r) AS r")[0]
    store.clear()
    schema.install(store)
    ingest_names(store, preset, names, batch_size=10**6)
    assert store.run_text("MATCH (n:Entity) WITH count(n) AS n MATCH ()-[r]->() RETURN n, count(r) AS r")[0] == counts


def test_a_refused_batch_stops_the_writing_and_raises(store, preset) -> None:
    """Configuration 305 is made the input of its own ensemble beforehand, so the batch of its
    name closes a cycle; the batches built after it must not be written."""
    cfg = f"{LONG}e.305"
    found = preset.match(cfg)
    builder = Builder(preset)
    cfg_uid = builder.build(found.spec, preset.enrich(found.fields), found.raw)
    batch = builder.take()
    ensemble = next(r["uid"] for r in batch.entities if r["props"]["kind"] == "Ensemble")
    batch.edges = [e for e in batch.edges if e["from"] != cfg_uid]
    batch.link(ensemble, cfg_uid, "trap")
    graph.write(store, batch)
    before = [f"{LONG}e.{c}" for c in (300, 301, 302)]
    after = [f"{LONG}e.{c}" for c in range(310, 330)]
    with pytest.raises(graph.CycleError):
        ingest_names(store, preset, before + [cfg] + after, batch_size=1)
    written = {r["name"] for r in store.run_text("MATCH (n:GaugeConfig) RETURN n.name AS name")}
    assert set(before) <= written and not written & set(after)


def test_a_name_the_builder_refuses_stops_the_ingest_with_one_error(store, tmp_path: Path) -> None:
    extra = tmp_path / "cfgx.toml"
    extra.write_text('[nodes.cfgx]\nkind = "GaugeConfig"\nset = { flow_time = 0.0 }\n'
                     'template = "cfgx_{ensemble:word}_{stream:word}_{config}.x"\n')
    conv = conventions.load([extra])
    after = [f"cfgx_a09m310_e_{c}.x" for c in range(20, 40)]
    with pytest.raises(InputError, match="GaugeConfig.config: 'abc' is not a valid integer"):
        ingest_names(store, conv, ["cfgx_a09m310_e_1.x", "cfgx_a09m310_e_abc.x", *after], batch_size=1)
    written = {r["config"] for r in store.run_text("MATCH (n:GaugeConfig) RETURN n.config AS config")}
    assert written <= {1}


# -- bad input --------------------------------------------------------------------------------
def test_unmatched_names_are_counted_with_examples_not_fatal(cli) -> None:
    result = cli("ingest", "names", "notes.txt", "core.1234", PRESET_NAMES["prop"][0])
    assert result.exit_code == 0, result.output
    assert "2 names fit no template" in result.output and "notes.txt" in result.output


def test_unknown_long_tag_is_a_problem_line_and_others_ingest(cli, store) -> None:
    result = cli("ingest", "names", "l4896f211b999m001m002m003e.10", PRESET_NAMES["prop"][0])
    assert result.exit_code == 1
    assert "unknown MILC long tag 'l4896f211b999m001m002m003'" in result.output
    assert store.run_text("MATCH (n:OneToAll) RETURN count(n) AS n")[0]["n"] == 1


def test_ensemble_map_adds_long_tags(cli, store, tmp_path: Path) -> None:
    mapping = tmp_path / "ensembles.txt"
    mapping.write_text("# short long\na99m400 l4896f211b999m001m002m003\n")
    result = cli("ingest", "names", "--ensemble-map", mapping, "l4896f211b999m001m002m003e.10")
    assert result.exit_code == 0, result.output
    row = store.run_text("MATCH (e:Ensemble) RETURN e.tag AS tag, e.nx AS nx, e.nt AS nt, e.beta AS beta")[0]
    assert row == {"tag": "a99m400", "nx": 48, "nt": 96, "beta": 9.99}


def test_user_conventions_add_templates_without_code(cli, store, tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        "nodes:\n"
        "  pion_spec:\n"
        "    kind: Meson2pt\n"
        "    template: 'pion_{ensemble:word}_{stream:word}_{config:d}_x{x:d}y{y:d}z{z:d}t{t:d}.h5'\n"
        "    set: {particle: pion}\n"
        "    inputs:\n"
        "      - {node: milc, role: gauge}\n")
    result = cli("ingest", "names", "--conventions", extra, "pion_a09m310_e_300_x1y2z3t4.h5")
    assert result.exit_code == 0, result.output
    graph = lineage.lineage(store, "pion_a09m310_e_300_x1y2z3t4")
    assert {n["kind"] for n in graph["nodes"]} >= {"Meson2pt", "GaugeConfig", "Ensemble"}


def test_duplicate_convention_names_are_one_error_line(cli, tmp_path: Path) -> None:
    extra = tmp_path / "dup.toml"
    extra.write_text('[nodes.prop]\nkind = "OneToAll"\ntemplate = "p_{x:d}"\n')
    result = cli("ingest", "names", "--conventions", extra, "x")
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == (
        f"Error: duplicate node name 'prop': in callat.toml and in {extra}")


def test_templates_of_two_kinds_matching_one_name_are_reported(preset, tmp_path: Path) -> None:
    extra = tmp_path / "clash.toml"
    extra.write_text('[nodes.other]\nkind = "Source"\ntemplate = "prop_{rest}.lime"\n')
    conv = conventions.load([extra])
    with pytest.raises(NameProblem, match="fits templates of different kinds: prop .OneToAll"):
        conv.match(PRESET_NAMES["prop"][0])


@pytest.mark.parametrize("text, message", [
    ('[nodes.x]\ntemplate = "a_{b}"\n', "nodes.x: 'kind' is a required property"),
    ('[nodes.x]\nkind = "Source"\ncolour = "red"\n', r"nodes.x: Additional properties are not allowed \('colour' was unexpected\)"),
    ('[nodes.x]\nkind = "Source"\ninputs = [{node = "y"}]\n', r"nodes.x.inputs\[0\]: 'role' is a required property"),
    ('[nodes.x]\nkind = "Source"\nidentity = "name"\n', "nodes.x.identity: 'name' is not one of"),
    ('[nodes.x]\nkind = 3\n', "nodes.x.kind: 3 is not of type 'string'"),
    ('[layouts.x]\npath = "a/{b}"\n', "layouts.x: .* is not valid under any of the given schemas"),
    ('[layouts.x]\npath = "a/{b}"\nnode = "prop"\nstep = "tslice"\n', "layouts.x: 'derived' is a dependency of 'step'"),
    ('colour = "red"\n', r"Additional properties are not allowed \('colour' was unexpected\)"),
    ('nodes = 3\n', "nodes: 3 is not of type 'object'"),
    ('[nodes.x]\nkind = "Nope"\n', "unknown kind 'Nope'"),
    ('[nodes.x]\nkind = "Source"\ninputs = [{node = "missing", role = "r"}]\n', "input 'missing' is not a node"),
    ('[nodes.x]\nkind = "Source"\nset = {colour = 1}\n', "Source has no property 'colour'"),
    ('[nodes.x]\nkind = "DerivedDataset"\n', "a DerivedDataset needs a step"),
    ('[nodes.x\n', "not valid TOML"),
    ('[types]\nbad = "("\n', "type bad: bad pattern"),
    ('[nodes.a]\nkind = "Source"\ninputs = [{node = "b", role = "r"}]\n[nodes.b]\nkind = "Source"\n'
     'inputs = [{node = "a", role = "r"}]\n', "inputs form a loop"),
    ('[ensembles]\na09m310 = "l1111f211b630m1m2m3"\n', "ensemble a09m310 maps to"),
])
def test_malformed_conventions_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConventionError, match=message):
        conventions.load([path])


def test_no_names_is_a_usage_error(cli) -> None:
    result = cli("ingest", "names")
    assert result.exit_code != 0 and "give PATH" in result.output


def test_names_from_a_list_file_and_stdin(cli, store, tmp_path: Path) -> None:
    listing = tmp_path / "names.txt"
    listing.write_text(PRESET_NAMES["prop"][0] + "\n\n")
    assert cli("ingest", "names", "--from-list", listing).exit_code == 0
    assert cli("ingest", "names", "-", input=PRESET_NAMES["spec"][0] + "\n").exit_code == 0
    assert store.run_text("MATCH (n:OneToAll|Baryon2pt) RETURN count(n) AS n")[0]["n"] == 2


# -- speed ----------------------------------------------------------------------------------
def test_bulk_rate_on_a_tier_m_like_list(store, preset, tmp_path: Path) -> None:
    specs = synth.ensembles(20)
    mapping = tmp_path / "ensembles.txt"
    mapping.write_text("".join(f"{e.tag} {e.long_tag}\n" for e in specs))
    conv = conventions.load(ensemble_map=mapping)
    names = list(itertools.islice(synth.names("M", 0), 10_000))
    started = time.perf_counter()
    report = ingest_names(store, conv, names)
    elapsed = time.perf_counter() - started
    assert report.matched == len(names) and not report.problems
    # The rate is reported, not asserted: CI cores are shared and the figure would make it flaky.
    print(f"\n{len(names)} names in {elapsed:.1f} s: {len(names) / elapsed:,.0f} names/s")
    props = {n[:-5] for n in names if n.startswith("prop_")}
    found = {r["name"] for r in store.run_text("MATCH (n:OneToAll) RETURN n.name AS name")}
    assert props <= found  # plus the propagators implied by spectra whose own file is gone


def test_docs_convention_example_runs(cli, store, tmp_path: Path) -> None:
    """docs/ingest.md's convention file example does what the text says."""
    docs = Path(__file__).parent.parent / "docs" / "ingest.md"
    text = docs.read_text(encoding="utf-8")
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "my-conventions.toml"
    path.write_text(block)
    result = cli("ingest", "names", "--conventions", path, "pion_a12m310_a_1005_x1y2z3t4.h5")
    assert result.exit_code == 0, result.output
    graph = lineage.lineage(store, "pion_a12m310_a_1005_x1y2z3t4")
    names = {n["kind"]: n["name"] for n in graph["nodes"]}
    assert names["Meson2pt"] == "pion_a12m310_a_1005_x1y2z3t4"
    assert names["GaugeConfig"] == "l2464f211b600m0102m0509m635a.1005" and names["Ensemble"] == "a12m310"
    assert {"GaugeAction", "Hisq"} <= set(names)
