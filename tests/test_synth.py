"""Synthetic campaigns: deterministic, shaped as the counts say, written whole, named as CalLat does."""
from __future__ import annotations

import itertools
import tracemalloc

import pytest

from latteprov import synth
from latteprov.errors import InputError


def snapshot(tier: str, seed: int, n: int = 6) -> list:
    return [(b.entities, b.runs, b.files, b.edges) for b in itertools.islice(synth.campaign(tier, seed), n)]


def test_same_seed_gives_the_same_campaign_and_another_seed_another() -> None:
    assert snapshot("S", 3) == snapshot("S", 3)
    assert snapshot("S", 3) != snapshot("S", 4)
    assert list(synth.names("S", 3)) == list(synth.names("S", 3))


def test_counts_match_what_the_generator_yields() -> None:
    entities, runs, files, edges = set(), set(), set(), set()
    for batch in synth.campaign("S", 1):
        entities |= {r["uid"] for r in batch.entities}
        runs |= {r["uid"] for r in batch.runs}
        files |= {r["uid"] for r in batch.files}
        edges |= {(e["from"], e["to"], e["type"], e["role"]) for e in batch.edges}
    expected = synth.counts("S")
    assert len(entities) + len(runs) + len(files) == expected["nodes"]
    assert len(edges) == expected["edges"]
    assert 500 < expected["nodes"] < 3000 and 1000 < expected["edges"] < 6000


def test_uids_are_unique_across_batches() -> None:
    seen: set[str] = set()
    for batch in synth.campaign("S", 0):
        uids = [r["uid"] for r in batch.entities + batch.runs]
        assert len(uids) == len(set(uids))
        assert not seen & set(uids)
        seen |= set(uids)


def test_tiers_have_the_shape_of_the_domain_table() -> None:
    per_kind: dict[str, int] = {}
    for batch in synth.campaign("S", 0):
        for row in batch.entities:
            per_kind[row["props"]["kind"]] = per_kind.get(row["props"]["kind"], 0) + 1
    tier = synth.TIERS["S"]
    configs = tier.ensembles * tier.configs
    assert per_kind["Ensemble"] == tier.ensembles
    assert per_kind["GaugeConfig"] == 2 * configs
    assert per_kind["OneToAll"] == per_kind["Source"] == configs * tier.sources
    assert per_kind["SequentialSource"] == per_kind["Sequential"] == configs * tier.tseps * len(synth.PARTICLES)
    assert per_kind["Baryon3pt"] == per_kind["Sequential"] * tier.sources * len(synth.CURRENTS)
    assert synth.counts("M")["edges_per_config"] < synth.counts("L")["edges_per_config"]


def test_states_and_file_statuses_include_a_seeded_share_of_trouble() -> None:
    states, statuses = set(), set()
    for batch in synth.campaign("S", 0):
        states |= {r["state"] for r in batch.entities}
        statuses |= {r["mutable"]["status"] for r in batch.files}
    assert {"planned", "done", "failed"} <= states
    assert {"on_disk", "on_tape", "missing", "wrong_size"} <= statuses


def test_the_a09m310_propagator_file_has_the_production_size() -> None:
    props = [f for b in synth.campaign("S", 0) for f in b.files if "/prop/prop_a09m310" in f["props"]["path"]
             and f["mutable"]["status"] == "on_disk"]
    assert props and {f["mutable"]["size"] for f in props} == {3_623_882_000}


def test_generator_memory_does_not_grow_with_the_number_of_configurations() -> None:
    def peak(n: int) -> int:
        tracemalloc.start()
        for _ in itertools.islice(synth.campaign("L", 0), n):
            pass
        size = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return size

    assert peak(40) < 1.5 * peak(5)


def test_names_parse_back_into_the_fields_that_made_them() -> None:
    formats = {kind: synth.parser(kind) for kind in synth.TEMPLATES}
    e = synth.ensembles(1)[0]
    seen = set()
    for name in synth.names("S", 0):
        kind = next(k for k in ("prop", "spec", "seqsrc", "seqprop", "formfac") if name.startswith(k + "_")) \
            if not name.startswith("l") else ("flowed" if name.endswith(".lime") else "milc")
        found = formats[kind].parse(name)
        assert found is not None, name
        assert synth.TEMPLATES[kind].format(**found.named) == name
        seen.add(kind)
        if found["ens" if "ens" in found.named else "ens_long"] in (e.tag, e.long_tag):
            assert found["stream"] == e.stream and (found["cfg"] - e.cfg_start) % e.cfg_step == 0
            if "M5" in found.named:
                assert (found["M5"], found["L5"], found["alpha5"], found["mq"]) == (e.M5, e.L5, e.alpha5, e.mq)
                assert (found["flow"], found["w"], found["n"]) == (1.0, 3.5, 45)
        if kind in ("seqsrc", "seqprop"):
            assert (found["tsep"] < 0) == (found["particle"] == "proton_np")
    assert seen == set(synth.TEMPLATES)


def test_the_worked_example_of_the_primer_is_a_name_the_template_makes() -> None:
    example = "prop_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62.lime"
    fields = synth.parser("prop").parse(example).named
    assert synth.TEMPLATES["prop"].format(**fields) == example


def test_unknown_tier_is_refused() -> None:
    with pytest.raises(InputError, match="unknown tier 'Q'"):
        synth.counts("Q")


def test_tier_s_written_to_neo4j_has_every_node_and_edge(store) -> None:
    expected = synth.counts("S")
    synth.write(store, "S", 0, rows=700)
    nodes = store.run_text("MATCH (n) WHERE NOT n:Lock AND NOT n:Tally RETURN count(n) AS n")[0]["n"]
    edges = store.run_text("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
    assert (nodes, edges) == (expected["nodes"], expected["edges"])
    again = synth.write(store, "S", 0)
    assert again.entities_created == 0
    assert store.run_text("MATCH (n) WHERE NOT n:Lock AND NOT n:Tally RETURN count(n) AS n")[0]["n"] == nodes
    chain = store.run_text(
        "MATCH (c:Baryon3pt)-[:DERIVED_FROM {role:'seqprop'}]->(:Sequential)-[:DERIVED_FROM {role:'seqsource'}]->"
        "(s:SequentialSource)-[:DERIVED_FROM {role:'propagator'}]->(p:OneToAll)-[:DERIVED_FROM {role:'gauge'}]->"
        "(g:GaugeConfig)-[:DERIVED_FROM {role:'parent'}]->(:GaugeConfig)-[:DERIVED_FROM {role:'ensemble'}]->"
        "(e:Ensemble) RETURN count(DISTINCT c) AS n")[0]["n"]
    assert chain == store.run_text("MATCH (c:Baryon3pt) RETURN count(c) AS n")[0]["n"] > 0


def test_cli_writes_names_and_refuses_both_targets(cli, tmp_path) -> None:
    out = tmp_path / "names.txt"
    result = cli("synth", "--tier", "S", "--names", out)
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines() == list(synth.names("S", 0))
    result = cli("synth", "--tier", "S", "--write", "--names", out)
    assert result.exit_code != 0 and "exactly one of" in result.output


def test_cli_writes_the_campaign(cli, store) -> None:
    result = cli("synth", "--tier", "S", "--seed", "2", "--write")
    assert result.exit_code == 0, result.output
    assert f"{synth.counts('S')['edges']} edges expected" in result.output
    assert store.run_text("MATCH (n:Entity) RETURN count(n) AS n")[0]["n"] > 500


def test_a_fraction_of_a_tier_keeps_its_shape_with_fewer_configurations() -> None:
    quarter, full = synth.counts("L/4"), synth.counts("L")
    assert quarter["configs"] == synth.TIERS["L"].configs // 4
    assert quarter["nodes_per_config"] == full["nodes_per_config"]
    with pytest.raises(InputError, match="unknown tier 'L/0'"):
        synth.tier_shape("L/0")


def test_cli_refuses_an_unknown_tier_in_one_line(cli) -> None:
    result = cli("synth", "--tier", "Q", "--write")
    assert result.exit_code == 1 and "unknown tier 'Q'" in result.output and "Traceback" not in result.output
