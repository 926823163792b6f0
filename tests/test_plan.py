"""``latteprov plan``: campaign files, every product planned with its inputs, idempotence, dry
runs, and bad campaign files refused in one line with nothing written."""
from __future__ import annotations

import json

import pytest

from latteprov import campaign, plan
from latteprov.ingest import conventions
from planning_data import CAMPAIGN, PER_CONFIG, STEPS, record_step, step_products, write_campaign


def count(store, query: str) -> int:
    return store.run_text(query)[0]["n"]


def graph_size(store) -> tuple[int, int]:
    return count(store, "MATCH (n) RETURN count(n) AS n"), count(store, "MATCH ()-[r]->() RETURN count(r) AS n")


def test_plan_declares_every_product_planned_with_its_step(cli, store, tmp_path) -> None:
    result = cli("plan", write_campaign(tmp_path), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {s["step"]: s["products"] for s in report["steps"]} == {s: 2 * n for s, n in PER_CONFIG.items()}
    rows = store.run_text("MATCH (n:Entity) WHERE n.campaign_step IS NOT NULL "
                          "RETURN n.campaign_step AS step, n.state AS state, count(*) AS n")
    assert {(r["step"], r["state"]): r["n"] for r in rows} == {(f"ff/{s}", "planned"): 2 * n for s, n in PER_CONFIG.items()}
    # What no step makes (ensemble, actions, smearings, the MILC configurations) is there and done.
    assert count(store, "MATCH (n:GaugeConfig {flow_time: 0.0, state: 'done'}) RETURN count(n) AS n") == 2


def test_products_are_named_and_identified_by_the_conventions(store, tmp_path) -> None:
    """A planned product is the node 'ingest names' makes of its file once it exists."""
    plan.plan(store, campaign.load(write_campaign(tmp_path)))
    preset = conventions.preset()
    extension = {"GaugeConfig": ".lime", "Source": ".lime", "OneToAll": ".lime", "SequentialSource": ".lime",
                 "Sequential": ".lime", "Baryon2pt": ".h5", "Baryon3pt": ".h5"}
    rows = store.run_text("MATCH (n:Entity) WHERE n.campaign_step IS NOT NULL RETURN n.uid AS uid, n.name AS name, n.kind AS kind")
    assert len(rows) == 22
    for row in rows:
        found = preset.match(row["name"] + extension[row["kind"]])
        assert found is not None, row["name"]
        assert preset.uid_of(found.spec, preset.enrich(found.fields)) == row["uid"], row["name"]


def test_inputs_follow_the_conventions_roles(store, tmp_path) -> None:
    plan.plan(store, campaign.load(write_campaign(tmp_path)))
    roles = store.run_text("MATCH (p:Entity)-[d:DERIVED_FROM]->(i:Entity) WHERE p.campaign_step IS NOT NULL "
                           "RETURN p.campaign_step AS step, d.role AS role, i.campaign_step AS feeder, count(*) AS n")
    got = {(r["step"], r["role"], r["feeder"]): r["n"] for r in roles}
    assert got[("ff/prop", "source", "ff/source")] == 4
    assert got[("ff/prop", "gauge", "ff/flow")] == 4
    assert got[("ff/seqsrc", "propagator", "ff/prop")] == 4  # a coherent source: both propagators of its configuration
    assert got[("ff/formfac", "seqprop", "ff/seqprop")] == 4
    assert got[("ff/flow", "parent", None)] == 2  # the MILC configuration


def test_replanning_adds_nothing_and_never_demotes(cli, store, tmp_path) -> None:
    path = write_campaign(tmp_path)
    assert cli("plan", path).exit_code == 0
    record_step(store, "flow")
    record_step(store, "source", "failed", configs=[300])
    before = graph_size(store)
    states = store.run_text("MATCH (n:Entity) RETURN n.uid AS uid, n.state AS state ORDER BY uid")
    again = cli("plan", path, "--format", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["written"]["entities_created"] == 0
    assert graph_size(store) == before
    assert store.run_text("MATCH (n:Entity) RETURN n.uid AS uid, n.state AS state ORDER BY uid") == states


def test_replanning_a_larger_range_adds_only_the_new_configurations(store, tmp_path) -> None:
    plan.plan(store, campaign.load(write_campaign(tmp_path)))
    record_step(store, "flow")
    more = campaign.load(write_campaign(tmp_path, CAMPAIGN.replace("last = 305", "last = 310"), "more.toml"))
    report = plan.plan(store, more)
    assert report.written.entities_created == 11 + 1  # a configuration's products and its MILC configuration
    assert [p["state"] for p in step_products(store, "flow")] == ["done", "done", "planned"]


def test_existing_products_are_given_their_step(store, tmp_path) -> None:
    """A product recorded before it was planned (a file ingested by name) joins its step."""
    from latteprov.ingest.names import ingest_names

    name = "l3296f211b630m0074m037m440e.300_wflow1.0.lime"
    ingest_names(store, conventions.preset(), [name])
    plan.plan(store, campaign.load(write_campaign(tmp_path)))
    (row,) = store.run_text("MATCH (n:GaugeConfig {config: 300, flow_time: 1.0}) RETURN n.state AS state, "
                            "n.campaign_step AS step")
    assert row == {"state": "done", "step": "ff/flow"}  # ingested files are done; planning does not demote


def test_dry_run_counts_per_step_and_writes_nothing(cli, store, tmp_path) -> None:
    result = cli("plan", write_campaign(tmp_path), "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(s["step"], s["products"], s["existing"]) for s in report["steps"]] == \
        [(s, 2 * PER_CONFIG[s], 0) for s in STEPS]
    assert graph_size(store) == (0, 0)
    table = cli("plan", write_campaign(tmp_path), "--dry-run")
    assert "dry run: nothing written" in table.stdout and "formfac" in table.stdout


@pytest.mark.parametrize("change, message", [
    (('MIN_WC_TIME = "30min" }', 'MIN_WC_TIME = "30min" }\n[steps.flow.inputs]\nparent = "prop"'),
     "steps form a cycle: "),
    (('kind = "OneToAll"', 'kind = "Propagatr"'), "steps.prop.kind: unknown kind 'Propagatr'"),
    (('inputs = { gauge = "flow", source = "source" }', 'inputs = { gauge = "flow", sorce = "source" }'),
     "steps.prop.inputs: unknown role 'sorce' of node prop"),
    (("run-step spec {name}", "run-step spec {nme}"), "steps.spec.command: unknown field {nme}"),
    (("run-step prop {name} {inputs[source]}", "run-step prop {inputs[sorce]}"),
     "steps.prop.command: unknown input role 'sorce'"),
    (("first = 300", "first = -300"), "ensembles.a09m310.configs.first: -300 is less than the minimum of 0"),
    (("last = 305", "last = 295"), "ensembles.a09m310.configs: last 295 is before first 300"),
    (("step = 5 }", "step = -5 }"), "ensembles.a09m310.configs.step: -5 is less than the minimum of 1"),
    (('MIN_WC_TIME = "2hr"', 'MIN_WC_TIME = "2 hours"'), "steps.spec.resources.MIN_WC_TIME: '2 hours' does not match"),
    (("tseps = [4]", "tseps = [-4]"), "ensembles.a09m310.tseps.0: -4 is less than the minimum of 1"),
    (('kind = "Baryon2pt"', 'kind = "Baryon2pt"\nnode = "prop"'), "steps.spec.node: prop names OneToAll products"),
    (('inputs = { light = "prop" }', "inputs = {}"), "steps.spec.inputs: role light (prop) is made by step prop"),
    (("[steps.flow]", "bogus = 1\n[steps.flow]"), "ensembles.a09m310: Additional properties are not allowed ('bogus' was unexpected)"),
])
def test_bad_campaign_files_are_refused_in_one_line_and_nothing_is_written(cli, store, tmp_path, change, message) -> None:
    old, new = change
    assert old in CAMPAIGN
    path = write_campaign(tmp_path, CAMPAIGN.replace(old, new, 1))
    result = cli("plan", path)
    assert result.exit_code != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: "), result.stderr
    assert message in lines[0], lines[0]
    assert graph_size(store) == (0, 0)


def test_unreadable_and_malformed_files_are_one_line_too(cli, store, tmp_path) -> None:
    missing = cli("plan", tmp_path / "nope.toml")
    assert missing.exit_code != 0 and missing.stderr.startswith(f"Error: {tmp_path / 'nope.toml'}: cannot read")
    broken = cli("plan", write_campaign(tmp_path, "name = \n"))
    assert broken.exit_code != 0 and "not valid TOML" in broken.stderr and len(broken.stderr.splitlines()) == 1
    assert graph_size(store) == (0, 0)


def test_source_positions_are_deterministic_inside_the_lattice_with_antipodes() -> None:
    first = campaign.source_positions(300, 8, 32, 96, "1e")
    assert first == campaign.source_positions(300, 8, 32, 96, "1e")
    assert first != campaign.source_positions(305, 8, 32, 96, "1e")
    assert all(0 <= s[k] < 32 for s in first for k in "xyz") and all(0 <= s["t"] < 96 for s in first)
    for origin, antipode in zip(first[::2], first[1::2]):
        assert antipode == {**{k: (origin[k] + 16) % 32 for k in "xyz"}, "t": origin["t"]}
    # four time shifts 0, T/2, T/4, 3T/4 from the first (random) time, as CalLat's t_shifts
    t0 = first[0]["t"]
    assert [s["t"] for s in first[::2]] == [(t0 + d) % 96 for d in (0, 48, 24, 72)]


def test_the_documented_campaign_plans_the_whole_chain(store) -> None:
    """docs/examples/a09m310_campaign.toml (docs/planning.md): CalLat's chain and the spectra's
    post-processing; a source average derives from the eight tslices of its configuration."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "examples" / "a09m310_campaign.toml"
    report = plan.plan(store, campaign.load(path))
    assert {s["step"]: s["products"] for s in report.steps} == {
        "flow": 3, "source": 24, "prop": 24, "spec": 24, "seqsrc": 24, "seqprop": 24, "formfac": 96,
        "spec_4D": 24, "tslice": 24, "average": 3, "fft": 3}
    rows = store.run_text("MATCH (a:DerivedDataset {step: 'average'})-[:DERIVED_FROM]->(t:DerivedDataset) "
                          "RETURN a.config AS config, collect(DISTINCT t.step) AS steps, count(t) AS n ORDER BY config")
    assert rows == [{"config": c, "steps": ["tslice"], "n": 8} for c in (300, 305, 310)]
    # the form factors of dt-8 (proton_np) and dt8 (proton) are files of their own
    assert sorted(store.run_text("MATCH (f:Baryon3pt) RETURN collect(DISTINCT f.tsep) AS t")[0]["t"]) == [-10, -8, 8, 10]


def test_a_product_another_campaign_plans_keeps_its_step_and_is_reported(cli, store, tmp_path) -> None:
    assert cli("plan", write_campaign(tmp_path)).exit_code == 0
    other = write_campaign(tmp_path, CAMPAIGN.replace('name = "ff"', 'name = "gg"'), "other.toml")
    result = cli("plan", other, "--format", "json")
    assert result.exit_code == 3 and result.stderr.count("conflict: ") == 22
    report = json.loads(result.stdout)
    assert report["written"]["entities_created"] == 0
    conflicts = report["written"]["conflicts"]
    assert len(conflicts) == 22 and all("campaign_step" in c for c in conflicts)
    steps = store.run_text("MATCH (n:Entity) WHERE n.campaign_step IS NOT NULL RETURN DISTINCT "
                           "split(n.campaign_step, '/')[0] AS campaign")
    assert steps == [{"campaign": "ff"}]
