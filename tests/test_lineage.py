"""Lineage, downstream, path and show: exact answers on a small campaign, every format, bad
input, and a property test against networkx on random DAGs."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from latteprov import graph, lineage
from latteprov.errors import InputError, NotFound
from latteprov.graph import CycleError, GraphBatch

FF = "formfac_a09m310_e_300_dt8_x3y3z19t62_A3"
CFG = "a09m310e.300"
SOURCES = ("x3y3z19t62", "x10y0z1t14")


def names(answer: dict) -> set[str]:
    return {n["name"] for n in answer["nodes"] if n["kind"] != "Run"}


def test_lineage_of_a_3pt_names_exactly_its_inputs_and_runs(store, campaign) -> None:
    answer = lineage.lineage(store, FF)
    expected = {FF, "seqprop_a09m310_e_300_dt8", "seqsrc_a09m310_e_300_dt8", "MDWF a09m310", "wflow1.0",
                "a09m310e.300_wflow1.0", CFG, "a09m310", "LW beta a09m310", "hisq light a09m310",
                "hisq strange a09m310"}
    expected |= {f"{p}_a09m310_e_300_{s}" for p in ("prop", "src") for s in SOURCES}
    assert names(answer) == expected
    runs = {n["uid"] for n in answer["nodes"] if n["kind"] == "Run"}
    assert runs == {f"run:solve-a09m310-300-{s}" for s in SOURCES}
    assert answer["root"] == lineage.resolve(store, FF)


def test_lineage_edges_point_from_derived_to_input_with_roles(store, campaign) -> None:
    answer = lineage.lineage(store, FF)
    by_name = {n["uid"]: n["name"] for n in answer["nodes"]}
    roles = {(by_name[e["from"]], e["role"]) for e in answer["edges"] if e["from"] == answer["root"]}
    assert roles == {(FF, "propagator"), (FF, "seqprop")}
    assert all(set(e) == {"from", "to", "type", "role"} for e in answer["edges"])
    assert all(set(n) == {"uid", "name", "kind", "labels", "props", "state", "valid"} for n in answer["nodes"])


def test_depth_and_kind_filters(store, campaign) -> None:
    near = lineage.lineage(store, FF, depth=1)
    assert names(near) == {FF, "seqprop_a09m310_e_300_dt8", f"prop_a09m310_e_300_{SOURCES[0]}"}
    props = lineage.lineage(store, FF, kinds=["Propagator"])
    assert {n["kind"] for n in props["nodes"]} == {"Baryon3pt", "OneToAll", "Sequential"}


def test_unknown_kind_filter_is_refused(store, campaign) -> None:
    with pytest.raises(InputError, match="unknown kind 'Quark'"):
        lineage.lineage(store, FF, kinds=["Quark"])


def test_downstream_of_a_configuration_lists_its_products(store, campaign) -> None:
    answer = lineage.downstream(store, CFG)
    expected = {CFG, "a09m310e.300_wflow1.0"}
    expected |= {f"{p}_a09m310_e_300_{s}" for p in ("src", "prop", "spec") for s in SOURCES}
    expected |= {f"{p}_a09m310_e_300_dt{t}" for p in ("seqsrc", "seqprop") for t in (8, 10)}
    expected |= {f"formfac_a09m310_e_300_dt{t}_{s}_A3" for t in (8, 10) for s in SOURCES}
    assert names(answer) == expected
    assert answer["truncated"] is False
    assert {r["kind"]: r["count"] for r in answer["summary"]}["Baryon3pt"] == 4
    assert sum(r["count"] for r in answer["summary"]) == len(expected) - 1


def test_large_fanout_is_summarised_unless_all(store) -> None:
    batch = GraphBatch()
    root = batch.add("GaugeConfig", name="cfg", ensemble="e1", stream="a", config=1)
    for i in range(lineage.FANOUT_LIMIT + 50):
        batch.link(batch.add("Source", name=f"s{i}", ensemble="e1", stream="a", config=1, x=i, y=0, z=0, t=0),
                   root, "gauge")
    graph.write(store, batch)
    cut = lineage.downstream(store, "cfg")
    assert cut["truncated"] and len(cut["nodes"]) == lineage.FANOUT_LIMIT
    assert cut["summary"] == [{"kind": "Source", "count": lineage.FANOUT_LIMIT + 50}]
    assert all(e["from"] in {n["uid"] for n in cut["nodes"]} for e in cut["edges"])
    full = lineage.downstream(store, "cfg", all_nodes=True)
    assert not full["truncated"] and len(full["nodes"]) == lineage.FANOUT_LIMIT + 51


def test_downstream_cut_keeps_the_nearest_and_counts_past_depth_and_kind_filters(store) -> None:
    batch = GraphBatch()
    root = batch.add("GaugeConfig", name="cfg", ensemble="e1", stream="a", config=1)
    near = batch.add("QuarkSmearing", name="near", radius=1.0, steps=1)
    batch.link(near, root, "smearing")
    for i in range(lineage.FANOUT_LIMIT + 10):  # two hops away, past the one smearing
        batch.link(batch.add("Source", name=f"s{i}", ensemble="e1", stream="a", config=1, x=i, y=0, z=0, t=0),
                   near, "smearing")
    graph.write(store, batch)
    cut = lineage.downstream(store, root)
    assert cut["truncated"] and [n["name"] for n in cut["nodes"][:2]] == ["cfg", "near"]
    assert cut["summary"] == [{"kind": "Source", "count": lineage.FANOUT_LIMIT + 10},
                              {"kind": "QuarkSmearing", "count": 1}]
    sources = sorted(n["uid"] for n in cut["nodes"][2:])
    assert len(sources) == lineage.FANOUT_LIMIT - 2 and all(uid.startswith("Source:") for uid in sources)
    assert sources == [n["uid"] for n in cut["nodes"][2:]]  # same hop and kind: by uid
    one_hop = lineage.downstream(store, root, depth=1)
    assert {n["name"] for n in one_hop["nodes"]} == {"cfg", "near"} and not one_hop["truncated"]
    assert one_hop["edges"] == [{"from": near, "to": root, "type": "DERIVED_FROM", "role": "smearing"}]
    only_smearings = lineage.downstream(store, root, kinds=["quarksmearing"])
    assert only_smearings["summary"] == [{"kind": "QuarkSmearing", "count": 1}] and len(only_smearings["nodes"]) == 2


def test_uid_name_and_non_entities_resolve_as_before(store, campaign) -> None:
    uid = lineage.resolve(store, FF)
    assert lineage.lineage(store, uid) == lineage.lineage(store, FF)
    assert lineage.downstream(store, lineage.resolve(store, CFG)) == lineage.downstream(store, CFG)
    path = "/scratch/a09m310/prop/prop_a09m310_e_300_x3y3z19t62.lime"
    file_uid = lineage.resolve(store, path)
    assert graph.is_uid(file_uid)  # uid-shaped, but not an entity: the answer says so
    for question in (lineage.lineage, lineage.downstream):
        with pytest.raises(NotFound, match="is not a data product"):
            question(store, file_uid)
    with pytest.raises(NotFound, match="no node with uid, name or location 'GaugeConfig:00000000000000000000'"):
        lineage.lineage(store, "GaugeConfig:00000000000000000000")


def test_timestamps_read_as_the_drivers_iso_text_and_absent_ones_stay_absent(store) -> None:
    batch = GraphBatch()
    cfg = batch.add("GaugeConfig", name="cfg", ensemble="e1", stream="a", config=1)
    spec = batch.add("Source", name="spec", ensemble="e1", stream="a", config=1, x=0, y=0, z=0, t=0)
    batch.link(spec, cfg, "gauge")
    start = datetime(2024, 1, 8, 1, 10, 0, 123456, tzinfo=timezone.utc)
    batch.runs.append(graph.run_row("run:a", kind="contract", started_at=start,
                                    ended_at=start + timedelta(minutes=40), exit_state="done"))
    batch.runs.append(graph.run_row("run:b", kind="contract", exit_state="running"))  # not started yet
    batch.link(spec, "run:a", None, type="GENERATED_BY")
    batch.link(spec, "run:b", None, type="GENERATED_BY")
    graph.write(store, batch)
    answer = lineage.lineage(store, spec)
    # Node objects from the driver, converted by node_json: what every answer looked like before.
    stored = {n["uid"]: n for n in store.read_tx(
        lambda tx: [lineage.node_json(r["n"]) for r in tx.run("MATCH (n) WHERE n.uid IS NOT NULL RETURN n")])}
    assert {n["uid"]: n for n in answer["nodes"]} == {uid: stored[uid] for uid in (spec, cfg, "run:a", "run:b")}
    runs = {n["uid"]: n["props"] for n in answer["nodes"] if n["kind"] == "Run"}
    assert runs["run:a"]["started_at"] == "2024-01-08T01:10:00.123456000+00:00"
    assert "started_at" not in runs["run:b"] and "ended_at" not in runs["run:b"]
    assert lineage.downstream(store, cfg)["nodes"] == [stored[cfg], stored[spec]]


def test_path_holds_exactly_the_nodes_between(store, campaign) -> None:
    answer = lineage.path(store, FF, CFG)
    expected = {FF, "seqprop_a09m310_e_300_dt8", "seqsrc_a09m310_e_300_dt8", "a09m310e.300_wflow1.0", CFG}
    expected |= {f"{p}_a09m310_e_300_{s}" for p in ("prop", "src") for s in SOURCES}
    assert names(answer) == expected
    uids = {n["uid"] for n in answer["nodes"]}
    assert all(e["from"] in uids and e["to"] in uids for e in answer["edges"])


def test_path_between_unrelated_nodes_is_not_found(store, campaign) -> None:
    with pytest.raises(NotFound, match="does not feed"):
        lineage.path(store, CFG, FF)


def test_details_name_inputs_files_runs_and_derivatives(store, campaign) -> None:
    shown = lineage.details(store, f"prop_a09m310_e_300_{SOURCES[0]}")
    assert {i["role"] for i in shown["inputs"]} == {"gauge", "action", "source"}
    assert shown["derivatives"] == 5  # spec, two seqsrc, two formfac
    assert [f["status"] for f in shown["files"]] == ["on_tape"]
    assert {r["relation"] for r in shown["runs"]} == {"generated_by", "used_by"}
    assert shown["invalidations"] == []


def test_details_of_runs_and_files(store, campaign) -> None:
    run = lineage.details(store, "run:solve-a09m310-300-x3y3z19t62")
    assert run["node"]["kind"] == "Run" and run["inputs"] == [] and run["derivatives"] == 0
    path = "/scratch/a09m310/prop/prop_a09m310_e_300_x3y3z19t62.lime"
    assert lineage.details(store, path)["node"]["kind"] == "DataFile"


# -- many questions in one go, lean listings ---------------------------------------------------
def _everything(store) -> list[str]:
    """Every entity's uid and name, runs' and files' uids: what a list may hold."""
    rows = store.run_text("MATCH (n) WHERE n.uid IS NOT NULL RETURN n.uid AS uid, n.name AS name, "
                          "n:Entity AS entity ORDER BY n.uid")
    return [r["uid"] for r in rows] + [r["name"] for r in rows if r["entity"]]


@pytest.mark.parametrize("batch", [1, 3, 500])
def test_batched_answers_are_the_one_by_one_answers(store, campaign, batch) -> None:
    """Asked a chunk of 1, a few, or all at once, the batched questions answer as one by one."""
    idents = [i for i in _everything(store)]
    entities = [i for i in idents if not i.startswith(("run:", "DataFile:"))]
    for kwargs in ({}, {"depth": 2}, {"kinds": ["Propagator"]}, {"fields": ["ensemble", "config", "created_at"]}):
        assert lineage.lineage_many(store, entities, batch=batch, **kwargs) == [
            lineage.lineage(store, i, **kwargs) for i in entities]
        assert lineage.downstream_many(store, entities, batch=batch, **kwargs) == [
            lineage.downstream(store, i, **kwargs) for i in entities]
    assert lineage.details_many(store, idents, batch=batch) == [lineage.details(store, i) for i in idents]
    with pytest.raises(InputError, match="batch must be at least 1"):
        lineage.lineage_many(store, entities, batch=0)
    assert lineage.lineage_many(store, [FF, FF, lineage.resolve(store, FF)])[0]["root"] == lineage.resolve(store, FF)


def test_an_empty_list_has_no_answers(store, campaign) -> None:
    assert lineage.lineage_many(store, []) == lineage.downstream_many(store, []) == lineage.details_many(store, []) == []


def test_a_list_with_one_unknown_or_non_product_is_refused_whole(store, campaign) -> None:
    with pytest.raises(NotFound, match="no node with uid, name or location 'nope'"):
        lineage.lineage_many(store, [FF, CFG, "nope"])
    file_uid = lineage.resolve(store, "/scratch/a09m310/prop/prop_a09m310_e_300_x3y3z19t62.lime")
    with pytest.raises(NotFound, match="is not a data product"):
        lineage.downstream_many(store, [CFG, file_uid])
    with pytest.raises(NotFound, match="no node with uid, name or location 'GaugeConfig:00000000000000000000'"):
        lineage.details_many(store, [CFG, "GaugeConfig:00000000000000000000"])


def test_lean_fields_keep_the_shape_with_only_those_props(store, campaign) -> None:
    full = lineage.downstream(store, CFG)
    lean = lineage.downstream(store, CFG, fields=["uid", "name", "kind", "valid", "state"])
    assert [n["uid"] for n in lean["nodes"]] == [n["uid"] for n in full["nodes"]]
    assert lean["edges"] == full["edges"] and lean["summary"] == full["summary"]
    for a, b in zip(lean["nodes"], full["nodes"]):
        assert a == {**b, "props": {}}
    some = lineage.lineage(store, FF, fields=["config", "ensemble"])
    for a, b in zip(some["nodes"], lineage.lineage(store, FF)["nodes"]):
        assert a == {**b, "props": {k: v for k, v in b["props"].items() if k in ("config", "ensemble")}}


@pytest.mark.parametrize("fields, bad", [(["nope"], "'nope'"), (["config", "MATCH (n) DETACH DELETE n"], "MATCH")])
def test_unknown_fields_are_refused(store, campaign, fields, bad) -> None:
    with pytest.raises(InputError, match=f"unknown field.*{bad}"):
        lineage.downstream(store, CFG, fields=fields)


def test_from_list_commands(cli, store, campaign, tmp_path) -> None:
    listed = tmp_path / "ids.txt"
    listed.write_text(f"{FF}\n\n{CFG}\n")
    for command, library in (("lineage", lineage.lineage), ("downstream", lineage.downstream),
                             ("show", lineage.details)):
        result = cli(command, "--from-list", str(listed), "--format", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == [library(store, FF), library(store, CFG)]
    lean = json.loads(cli("downstream", "--from-list", str(listed), "--fields", "uid,name,kind,valid,state",
                          "--format", "json").output)
    assert lean == [lineage.downstream(store, i, fields=["uid", "name", "kind", "valid", "state"]) for i in (FF, CFG)]
    assert "seqprop: Sequential" in cli("lineage", "--from-list", str(listed)).output


@pytest.mark.parametrize("args, message", [
    (("lineage",), "give ID or --from-list FILE"),
    (("lineage", FF, "--from-list", "LIST"), "give ID or --from-list FILE"),
    (("downstream", "--from-list", "EMPTY"), "no IDs in it"),
    (("show", "--from-list", "MISSING"), "No such file"),
])
def test_from_list_usage_errors_are_one_line(cli, campaign, tmp_path, args, message) -> None:
    (tmp_path / "LIST").write_text(FF + "\n")
    (tmp_path / "EMPTY").write_text("\n \n")
    args = [str(tmp_path / a) if a in ("LIST", "EMPTY", "MISSING") else a for a in args]
    result = cli(*args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_from_list_with_an_unknown_id_prints_nothing_but_the_error(cli, campaign, tmp_path) -> None:
    listed = tmp_path / "ids.txt"
    listed.write_text(f"{FF}\nnope\n")
    result = cli("lineage", "--from-list", str(listed), "--format", "json")
    assert result.exit_code == 1 and result.output == "Error: no node with uid, name or location 'nope'\n"


# -- the CLI ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, marker", [("tree", "seqprop: Sequential"), ("table", "Baryon3pt"),
                                         ("dot", "digraph provenance"), ("mermaid", "flowchart BT")])
def test_lineage_command_formats(cli, campaign, fmt, marker) -> None:
    result = cli("lineage", FF, "--format", fmt)
    assert result.exit_code == 0, result.output
    assert marker in result.output


def test_lineage_command_json_is_the_library_answer(cli, store, campaign) -> None:
    result = cli("lineage", FF, "--format", "json", "--depth", "2", "--kind", "Propagator")
    assert json.loads(result.output) == lineage.lineage(store, FF, depth=2, kinds=["Propagator"])


def test_downstream_command_json_and_tree(cli, campaign) -> None:
    answer = json.loads(cli("downstream", CFG, "--format", "json").output)
    assert {"root", "nodes", "edges", "summary", "truncated"} <= set(answer)
    tree = cli("downstream", CFG, "--depth", "1").output
    assert "parent: GaugeConfig a09m310e.300_wflow1.0" in tree and "Source" not in tree


def test_path_and_show_commands(cli, campaign) -> None:
    assert "seqprop_a09m310_e_300_dt8" in cli("path", FF, CFG).output
    shown = json.loads(cli("show", CFG, "--format", "json").output)
    assert shown["node"]["name"] == CFG and shown["derivatives"] == 1
    assert "derived products: 1" in cli("show", CFG).output


@pytest.mark.parametrize("args", [("lineage", "nope"), ("downstream", "nope"), ("show", "nope"),
                                  ("path", FF, "nope"), ("path", CFG, FF), ("lineage", FF, "--kind", "Quark")])
def test_bad_input_gives_one_line_and_exit_1(cli, campaign, args) -> None:
    result = cli(*args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1


def test_ambiguous_name_asks_for_a_uid(cli, store) -> None:
    batch = GraphBatch()
    batch.add("QuarkSmearing", name="twin", radius=1.0, steps=1)
    batch.add("QuarkSmearing", name="twin", radius=2.0, steps=2)
    graph.write(store, batch)
    result = cli("show", "twin")
    assert result.exit_code == 1 and "ambiguous" in result.output


# -- property: lineage and downstream are networkx's descendants and ancestors -----------------
dags = st.integers(min_value=2, max_value=9).flatmap(lambda n: st.tuples(
    st.just(n), st.sets(st.tuples(st.integers(1, n - 1), st.integers(0, n - 2)).filter(lambda e: e[0] > e[1]),
                        max_size=3 * n)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dag=dags, pick=st.integers(min_value=0))
def test_random_dags_match_networkx_and_refuse_cycles(store, dag, pick) -> None:
    n, pairs = dag
    store.clear()
    batch = GraphBatch()
    uids = [batch.add("QuarkSmearing", name=f"q{i}", radius=float(i), steps=i) for i in range(n)]
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for derived, source in pairs:  # derived from source: an edge from higher to lower index, always a DAG
        batch.link(uids[derived], uids[source], "input")
        g.add_edge(derived, source)
    graph.write(store, batch)
    for i in range(n):
        up = {n_["uid"] for n_ in lineage.lineage(store, uids[i])["nodes"]}
        down = {n_["uid"] for n_ in lineage.downstream(store, uids[i], all_nodes=True)["nodes"]}
        assert up == {uids[j] for j in nx.descendants(g, i) | {i}}
        assert down == {uids[j] for j in nx.ancestors(g, i) | {i}}
    # batched: every answer the one asked alone gives, in the order asked (duplicates too)
    asked = uids + uids[:2]
    assert lineage.lineage_many(store, asked) == [lineage.lineage(store, u) for u in asked]
    assert lineage.downstream_many(store, asked, all_nodes=True) == [
        lineage.downstream(store, u, all_nodes=True) for u in asked]
    assert lineage.details_many(store, asked) == [lineage.details(store, u) for u in asked]
    reachable = [(a, b) for a in range(n) for b in nx.descendants(g, a) | {a}]
    a, b = reachable[pick % len(reachable)]  # a derives from b (or a == b): b -> a closes a cycle
    closing = GraphBatch()
    closing.link(uids[b], uids[a], "input")
    with pytest.raises(CycleError):
        graph.write(store, closing)
    assert store.run_text("MATCH ()-[r:DERIVED_FROM]->() RETURN count(r) AS n")[0]["n"] == len(pairs)


def test_a_name_in_another_spelling_of_its_numbers_finds_its_node(store) -> None:
    from latteprov.ingest import conventions
    from latteprov.ingest.names import ingest_names

    written = "prop_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62"
    ingest_names(store, conventions.load(), [f"{written}.lime"])
    uid = lineage.resolve(store, written)
    for spelling in ("prop_a09m310_e_300_gf1.00_w3.50_n45_M51.10_L56_a1.5_mq0.009510_x3y3z19t62",
                     "prop_a09m310_e_300_gf1_w3.5_n45_M51.1_L56_a1.50_mq0.00951_x3y3z19t62.lime"):
        assert lineage.resolve(store, spelling) == uid
    with pytest.raises(NotFound):  # another value is another node, not a spelling
        lineage.resolve(store, written.replace("mq0.00951", "mq0.0095"))
