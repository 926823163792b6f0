"""What the CLI prints, as physicists read it: readable find tables, list properties shown and
filtered, dry runs that say so, every name carried faithfully by every format, Mermaid charts cut
to what Mermaid draws, CSV for lineage and downstream."""
from __future__ import annotations

import csv
import io
import json

import pytest

from latteprov import graph
from latteprov.cli.output import graph_dot, graph_mermaid
from latteprov.graph import GraphBatch

KEY = dict(ensemble="a09m310", stream="e", flow_time=1.0, smear_width=3.5, smear_steps=45)
ACTION = dict(M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951)


@pytest.fixture
def props(store) -> dict[str, str]:
    """Four propagators on two configurations, one source each, files on disk and on tape."""
    b = GraphBatch()
    uids = {}
    cfg = b.add("GaugeConfig", name="cfg300", ensemble="a09m310", stream="e", config=300, flow_time=1.0)
    for config, t in ((300, 10), (300, 20), (301, 10), (301, 20)):
        name = f"prop_c{config}_t{t}"
        uids[name] = b.add("OneToAll", name=name, config=config, x=1, y=2, z=3, t=t, **KEY, **ACTION)
        b.add_file(uids[name], f"/lustre/{name}.lime", status="on_tape" if t == 20 else "on_disk")
    b.link(uids["prop_c300_t10"], cfg, "gauge")
    graph.write(store, b)
    return uids


def test_find_shows_the_name_and_the_key_fields_that_differ_and_puts_the_shared_ones_in_the_title(cli, props) -> None:
    out = cli("find", "OneToAll").output
    header = next(line for line in out.splitlines() if "name" in line and "┃" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == ["name", "config", "t", "state", "valid"]
    assert "4 OneToAll; all with ensemble=a09m310, stream=e, flow_time=1.0" in " ".join(out.split())  # the title wraps
    assert "smear_width" not in header and "M5" not in header


def test_find_columns_picks_columns_in_every_format_and_refuses_unknown_ones(cli, props) -> None:
    rows = list(csv.DictReader(io.StringIO(cli("find", "OneToAll", "--columns", "name,t,file_statuses", "--format", "csv").output)))
    assert rows[0].keys() == {"name", "t", "file_statuses"} and json.loads(rows[0]["file_statuses"]) == ["on_disk"]
    assert json.loads(cli("find", "OneToAll", "t=20", "--columns", "name", "--format", "json").output) == \
        [{"name": "prop_c300_t20"}, {"name": "prop_c301_t20"}]
    assert len(json.loads(cli("find", "OneToAll", "--format", "json").output)[0]["props"]) > 10  # JSON keeps everything
    bad = cli("find", "OneToAll", "--columns", "name,colour")
    assert bad.exit_code == 1 and "OneToAll has no column 'colour'; columns: name, kind" in bad.output


@pytest.mark.parametrize("flt,names", [
    ("file_statuses=on_tape", ["prop_c300_t20", "prop_c301_t20"]),
    ("file_statuses!=on_tape", ["prop_c300_t10", "prop_c301_t10"]),
    ("file_statuses~TAPE", ["prop_c300_t20", "prop_c301_t20"]),
    ("file_statuses~missing", []),
])
def test_a_list_property_shows_and_filters_by_its_items(cli, props, flt, names) -> None:
    found = json.loads(cli("find", "OneToAll", flt, "--columns", "name,file_statuses", "--format", "json").output)
    assert [r["name"] for r in found] == names
    assert all(r["file_statuses"] for r in found)


def test_a_list_property_refuses_an_order_comparison_in_one_line(cli, props) -> None:
    result = cli("find", "OneToAll", "file_statuses>on_disk")
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        "Error: filter file_statuses>on_disk: file_statuses is a list; use = (has the item), != (has not) or ~ (an item contains)"]


def test_the_web_table_shows_and_filters_file_statuses(client, props) -> None:
    page = client.get("/tables/OneToAll", query_string={"f.file_statuses": "~missing"})
    assert page.status_code == 200
    rows = client.get("/tables/OneToAll", query_string={"f.file_statuses": "on_tape", "format": "json"}).json["rows"]
    assert sorted(r["name"] for r in rows) == ["prop_c300_t20", "prop_c301_t20"]
    assert all(r["props"]["file_statuses"] == ["on_tape"] for r in rows)


def test_a_dry_run_says_it_is_one_and_names_the_root_by_kind_and_name(cli, props) -> None:
    out = cli("invalidate", "cfg300", "--reason", "bad plaquette", "--dry-run").output
    assert out.startswith("dry run: invalidating GaugeConfig cfg300 (GaugeConfig:")
    assert "would mark 2 entities (0 already invalid); nothing was changed" in out
    assert json.loads(cli("show", "cfg300", "--format", "json").output)["node"]["valid"] is True


def test_lineage_and_downstream_give_csv_with_the_edges_in_each_row(cli, props) -> None:
    rows = list(csv.DictReader(io.StringIO(cli("lineage", "prop_c300_t10", "--format", "csv").output)))
    assert [r["name"] for r in rows] == ["prop_c300_t10", "cfg300"]
    assert rows[0]["inputs"] == f"gauge={rows[1]['uid']}" and rows[1]["inputs"] == ""
    down = list(csv.DictReader(io.StringIO(cli("downstream", "cfg300", "--format", "csv").output)))
    assert {r["name"] for r in down} == {"cfg300", "prop_c300_t10"}


def chart(n: int, name: str = "x") -> dict:
    """A root with n inputs, each with one input of its own: 2n edges."""
    nodes = [{"uid": "r", "kind": "Baryon2pt", "name": name, "state": "done", "valid": True}]
    edges = []
    for i in range(n):
        nodes += [{"uid": f"a{i}", "kind": "OneToAll", "name": f"a{i}", "state": "done", "valid": True},
                  {"uid": f"b{i}", "kind": "Source", "name": f"b{i}", "state": "done", "valid": i % 2 == 0}]
        edges += [{"from": "r", "to": f"a{i}", "type": "DERIVED_FROM", "role": "light"},
                  {"from": f"a{i}", "to": f"b{i}", "type": "DERIVED_FROM", "role": "source"}]
    return {"root": "r", "nodes": nodes, "edges": edges}


def test_dot_and_mermaid_carry_any_name_faithfully() -> None:
    name = 'Gauß "smeared" 高斯 \\ x'
    dot = graph_dot(chart(1, name))
    assert 'label="Baryon2pt\\nGauß \\"smeared\\" 高斯 \\\\ x"' in dot and "\\u00df" not in dot
    assert "Gauß #quot;smeared#quot; 高斯" in graph_mermaid(chart(1, name))


def test_mermaid_above_its_edge_limit_is_cut_to_the_nearest_nodes_with_a_note() -> None:
    small = graph_mermaid(chart(10))
    assert "note[" not in small and small.count("-->") == 20
    big = graph_mermaid(chart(300))  # 600 edges: Mermaid's default maxEdges is 500
    edges = big.count("-->")
    assert 0 < edges <= 500 and "%% cut to the" in big and "Mermaid draws at most 500 edges" in big
    assert '"Baryon2pt<br/>x"' in big  # the root stays


@pytest.mark.parametrize("command", ["lineage", "downstream"])
def test_fields_show_in_every_format_that_has_a_place_for_them_and_are_refused_elsewhere(cli, props, command) -> None:
    from latteprov.cli.output import FIELDS_FORMATS, GRAPH

    ident = "prop_c300_t10" if command == "lineage" else "cfg300"
    for fmt in GRAPH:
        plain = cli(command, ident, "--format", fmt)
        lean = cli(command, ident, "--format", fmt, "--fields", "config,t")
        if fmt not in FIELDS_FORMATS:
            assert lean.exit_code == 1 and lean.output.count("\n") == 1, lean.output
            assert "--fields" in lean.output and fmt in lean.output
            continue
        assert lean.exit_code == 0 and lean.output != plain.output, fmt
        if fmt == "json":
            assert {k for n in json.loads(lean.output)["nodes"] for k in n["props"]} <= {"config", "t"}
        elif fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(lean.output)))
            assert list(rows[0]) == ["uid", "kind", "name", "state", "valid", "config", "t", "inputs"]
            assert {r["t"] for r in rows if r["name"] == "prop_c300_t10"} == {"10"}
        else:
            header = next(line for line in lean.output.splitlines() if "uid" in line)
            assert [c.strip() for c in header.strip("┃ ").split("┃")][-2:] == ["config", "t"]


def test_csv_cells_are_written_one_way() -> None:
    """None empty, lists and maps as JSON, date-times in ISO 8601, text as given (quoted when needed)."""
    from datetime import datetime, timezone

    from latteprov.tabular import write_csv

    out = io.StringIO()
    when = datetime(2026, 11, 30, 5, 0, tzinfo=timezone.utc)
    n = write_csv(out, [{"a": None, "b": ["on_disk", "on_tape"], "c": {"t0": 3, "at": when}, "d": 'x,"y"\nz',
                         "extra": 1}, {"a": 1.5, "c": when}], ["a", "b", "c", "d"])
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert n == 2 and list(rows[0]) == ["a", "b", "c", "d"]
    assert rows[0] == {"a": "", "b": '["on_disk", "on_tape"]', "c": '{"t0": 3, "at": "2026-11-30T05:00:00+00:00"}',
                       "d": 'x,"y"\nz'}
    assert rows[1] == {"a": "1.5", "b": "", "c": "2026-11-30T05:00:00+00:00", "d": ""}


def test_the_web_tables_and_find_write_the_same_csv(cli, client, props) -> None:
    """The same selection downloaded from /tables and printed by ``find --format csv`` is the same text."""
    web = client.get("/tables/OneToAll?format=csv&f.t=20&sort=name")
    assert web.status_code == 200 and web.mimetype == "text/csv"
    columns = web.get_data(as_text=True).splitlines()[0]
    assert "file_statuses" in columns.split(",")
    printed = cli("find", "OneToAll", "t=20", "--order-by", "name", "--columns", columns, "--format", "csv").output
    assert printed == web.get_data(as_text=True)
