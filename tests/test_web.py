"""The web app through Flask's test client, against the real Neo4j: every page and API endpoint,
with good and bad input (unknown node -> 404 page, bad filter -> 400 with the message)."""
from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path

import jsonschema
import pytest

from latteprov import graph, invalidate, lineage, status
from latteprov.web import create_app, db

COMMON = dict(ensemble="a09m310", stream="e", config=300, flow_time=1.0, smear_width=3.5, smear_steps=45)
ACTION = dict(M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951)
FANOUT = 14  # mesons made from the one propagator: more than the app's FANOUT, so collapsed


def build_chain() -> tuple[graph.GraphBatch, dict[str, str]]:
    """Ensemble -> config -> flowed config -> source -> propagator -> 2-pt, seq. source ->
    seq. propagator -> 3-pt, plus FANOUT mesons on the propagator; files and a run."""
    b = graph.GraphBatch()
    u: dict[str, str] = {}
    u["ens"] = b.add("Ensemble", name="a09m310", tag="a09m310", nx=32, nt=96)
    u["cfg"] = b.add("GaugeConfig", name="l3296f211b630m0074m037m440e.300", ensemble="a09m310", stream="e", config=300)
    b.link(u["cfg"], u["ens"], "ensemble")
    u["flowed"] = b.add("GaugeConfig", name="l3296f211b630m0074m037m440e.300_wflow1.0", ensemble="a09m310",
                        stream="e", config=300, flow_time=1.0)
    b.link(u["flowed"], u["cfg"], "parent")
    u["action"] = b.add("MobiusDW", name="MDWF mq=0.00951", b5=1.25, c5=0.25, quark_tag="light", **ACTION)
    u["src"] = b.add("Source", name="src_a09m310_e_300_gf1.0_w3.5_n45_x3y3z19t62", x=3, y=3, z=19, t=62, **COMMON)
    b.link(u["src"], u["flowed"], "gauge")
    u["prop"] = b.add("OneToAll", name="prop_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62",
                      x=3, y=3, z=19, t=62, **COMMON, **ACTION)
    for to, role in ((u["flowed"], "gauge"), (u["action"], "action"), (u["src"], "source")):
        b.link(u["prop"], to, role)
    u["spec"] = b.add("Baryon2pt", name="spec_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62",
                      particle="proton", spin="spin_up", x=3, y=3, z=19, t=62, snk="SS", **COMMON, **ACTION)
    b.link(u["spec"], u["prop"], "light")
    seq = dict(particle="proton", flav_spin="UU_up_up", px=0, py=0, pz=0, tsep=10, snk="SS", **COMMON, **ACTION)
    u["seqsrc"] = b.add("SequentialSource", name="seqsrc_a09m310_e_300_proton_dt10", nsnk=1, **seq)
    b.link(u["seqsrc"], u["prop"], "propagator")
    u["seqprop"] = b.add("Sequential", name="seqprop_a09m310_e_300_proton_dt10_Srcs0-0", src_set="0-0",
                         state="running", **seq)
    b.link(u["seqprop"], u["seqsrc"], "seqsource")
    b.link(u["seqprop"], u["action"], "action")
    u["formfac"] = b.add("Baryon3pt", name="formfac_a09m310_e_300_dt10_A3_x3y3z19t62", current="A3", x=3, y=3,
                         z=19, t=62, src_set="0-0", **seq)
    b.link(u["formfac"], u["prop"], "propagator")
    b.link(u["formfac"], u["seqprop"], "seqprop")
    for i in range(FANOUT):
        m = b.add("Meson2pt", name=f"pion_{i:02d}", particle="pion", px=i, x=3, y=3, z=19, t=62, snk="SS",
                  state="planned" if i % 2 else "done", **COMMON, **ACTION)
        b.link(m, u["prop"], "light")
    b.add_file(u["spec"], "/lustre/a09m310/spec_300.h5", host="lassen", size=267744, status="on_disk")
    b.add_file(u["prop"], "/hpss/a09m310/prop_300.lime", host="hpss", size=3623882000, status="on_tape")
    b.runs.append(graph.run_row("run:contract-300", kind="contract", command="lalibe spec.ini",
                                code_version="lalibe-1.2", host="lassen", user="alice", exit_state="done"))
    b.link(u["spec"], "run:contract-300", type="GENERATED_BY")
    b.link("run:contract-300", u["prop"], type="USED")
    return b, u


@pytest.fixture(scope="module")
def chain(session_store) -> dict[str, str]:
    """The chain, written once for the read-only tests of this module."""
    session_store.clear()
    batch, uids = build_chain()
    graph.write(session_store, batch)
    return uids


@pytest.fixture
def fresh_chain(store) -> dict[str, str]:
    """The chain in an otherwise empty graph, for tests that write (they run last)."""
    batch, uids = build_chain()
    graph.write(store, batch)
    return uids


def text(response) -> str:
    """The page's text with HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))


# -- pages ---------------------------------------------------------------------------------------
def test_index_redirects_to_dashboard(client, chain) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.location.endswith("/dashboard")


def test_dashboard_counts_match_status_and_link_to_filtered_tables(client, chain, session_store) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200
    meson = next(r for r in status.status(session_store) if r["kind"] == "Meson2pt")
    assert f'data-key="planned" href="/tables/Meson2pt?f.ensemble=a09m310&amp;f.state=planned">{meson["planned"]} planned' in page.text
    data = client.get("/dashboard?format=json").json
    assert data["rows"] == status.status(session_store)
    link = next(k for e in data["ensembles"] for k in e["kinds"] if k["kind"] == "Meson2pt")["links"]["planned"]
    table = client.get(link + "&format=json").json
    assert table["total"] == meson["planned"] == FANOUT // 2
    assert {r["state"] for r in table["rows"]} == {"planned"}


def test_dashboard_of_unknown_ensemble_is_404(client, chain) -> None:
    response = client.get("/dashboard?ensemble=a99m999")
    assert response.status_code == 404 and "a99m999" in response.text


def test_graph_page_without_node_shows_the_search_help(client, chain) -> None:
    page = client.get("/graph")
    assert page.status_code == 200 and "Type a name or uid" in page.text


def test_graph_page_loads_vendored_cytoscape_not_a_cdn(client, chain) -> None:
    page = client.get(f"/graph?node={chain['formfac']}")
    assert page.status_code == 200
    assert "/static/vendor/cytoscape/cytoscape.min.js" in page.text and "cdn" not in page.text.lower()
    assert client.get("/static/vendor/cytoscape/cytoscape.min.js").status_code == 200
    assert client.get("/static/vendor/cytoscape-dagre/cytoscape-dagre.min.js").status_code == 200


def test_graph_page_of_unknown_node_is_a_404_page(client, chain) -> None:
    page = client.get("/graph?node=no-such-thing")
    assert page.status_code == 404
    assert "no node with uid, name or location 'no-such-thing'" in text(page) and "<html" in page.text


def test_graph_page_refuses_a_bad_hops_value(client, chain) -> None:
    assert client.get(f"/graph?node={chain['spec']}&hops=two").status_code == 400


def test_node_page_shows_properties_inputs_files_runs(client, chain) -> None:
    page = client.get(f"/node/{chain['spec']}")
    assert page.status_code == 200
    for text in ("Baryon2pt", "spin_up", "light", "/lustre/a09m310/spec_300.h5", "run:contract-300", "lalibe-1.2"):
        assert text in page.text
    assert f'/lineage/{chain["spec"]}' in page.text and f'/downstream/{chain["spec"]}' in page.text
    assert "started with <code>latteprov serve --allow-writes</code> offers these to logged-in writers" in page.text


def test_node_page_by_name_and_as_json(client, chain) -> None:
    data = client.get("/node/pion_03?format=json").json
    assert data["node"]["uid"] and data["node"]["kind"] == "Meson2pt" and data["node"]["state"] == "planned"
    assert [i["role"] for i in data["inputs"]] == ["light"]


def test_unknown_node_is_a_404_page(client, chain) -> None:
    page = client.get("/node/Baryon2pt:00000000000000000000")
    assert page.status_code == 404 and "404 not found" in page.text


def test_lineage_and_downstream_pages(client, chain) -> None:
    up = client.get(f"/lineage/{chain['formfac']}")
    assert up.status_code == 200 and "seqprop_a09m310_e_300_proton_dt10_Srcs0-0" in up.text and "Ensemble" in up.text
    down = client.get(f"/downstream/{chain['prop']}")
    assert down.status_code == 200 and "formfac_a09m310_e_300_dt10_A3_x3y3z19t62" in down.text
    assert f"{FANOUT} Meson2pt" in down.text
    assert client.get(f"/lineage/{chain['formfac']}?depth=x").status_code == 400


def test_tables_index_counts_each_class(client, chain) -> None:
    data = client.get("/tables?format=json").json
    counts = {t["kind"]: t["count"] for t in data["tables"]}
    assert counts["Meson2pt"] == FANOUT and counts["Run"] == 1 and counts["DataFile"] == 2
    assert client.get("/tables").status_code == 200


def test_table_pages_sorts_and_filters(client, chain) -> None:
    data = client.get("/tables/Meson2pt?format=json&size=5&page=2&sort=px&desc=1").json
    assert data["total"] == FANOUT and data["pages"] == 3
    assert [r["props"]["px"] for r in data["rows"]] == [8, 7, 6, 5, 4]
    filtered = client.get("/tables/Meson2pt?format=json&f.px=>=10&f.state=done").json
    assert sorted(r["props"]["px"] for r in filtered["rows"]) == [10, 12]
    page = client.get("/tables/Meson2pt?f.name=~pion_1")
    assert page.text.count("pion_1") >= 4 and "pion_09" not in page.text


def test_table_csv_download_has_every_matching_row(client, chain) -> None:
    response = client.get("/tables/Meson2pt?format=csv&f.state=planned&sort=px")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["px"]) for r in rows] == [1, 3, 5, 7, 9, 11, 13]
    assert rows[0]["name"] == "pion_01" and rows[0]["uid"].startswith("Meson2pt:")


def test_bad_table_filter_is_400_with_the_message(client, chain) -> None:
    page = client.get("/tables/Meson2pt?f.px=>=many")
    assert page.status_code == 400 and "px" in page.text and "many" in page.text
    assert client.get("/tables/Meson2pt?f.nonsense=1").status_code == 400
    assert client.get("/tables/NoSuchKind").status_code == 400
    assert client.get("/tables/WebUser").status_code == 400  # users are not browsable
    assert client.get("/tables/Meson2pt?page=zero").status_code == 400


def test_schema_page_documents_every_class(client, chain) -> None:
    page = client.get("/schema")
    assert page.status_code == 200
    for text in ("Baryon3pt", "Source-sink separation", "DERIVED_FROM", "natural key"):
        assert text in page.text
    assert client.get("/schema?format=json").json["classes"][0]["name"] == "Entity"


def test_unknown_route_is_a_404_page(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "<html" in response.text


# -- the graph view ------------------------------------------------------------------------------
def test_neighbourhood_one_hop_collapses_the_large_fanout(client, chain) -> None:
    data = client.get(f"/api/neighbourhood/{chain['prop']}").json
    kinds = sorted(n["kind"] for n in data["nodes"])
    assert kinds == ["Baryon2pt", "Baryon3pt", "GaugeConfig", "MobiusDW", "OneToAll", "SequentialSource", "Source"]
    assert data["summaries"] == [{"id": f"{chain['prop']}|down|Meson2pt", "of": chain["prop"], "dir": "down",
                                  "kind": "Meson2pt", "count": FANOUT}]
    assert {(e["from"], e["to"], e["role"]) for e in data["edges"]} >= {(chain["prop"], chain["src"], "source"),
                                                                         (chain["spec"], chain["prop"], "light")}
    assert next(n for n in data["nodes"] if n["uid"] == chain["prop"])["files"] == {"on_tape": 1}


def test_neighbourhood_opens_a_group_and_expands_a_node(client, chain) -> None:
    opened = client.get(f"/api/neighbourhood/{chain['prop']}?open={chain['prop']}|down|Meson2pt").json
    assert sum(n["kind"] == "Meson2pt" for n in opened["nodes"]) == FANOUT and not opened["summaries"]
    base = client.get(f"/api/neighbourhood/{chain['formfac']}").json
    grown = client.get(f"/api/neighbourhood/{chain['formfac']}?expand={chain['seqprop']}").json
    assert chain["seqsrc"] not in {n["uid"] for n in base["nodes"]}
    assert chain["seqsrc"] in {n["uid"] for n in grown["nodes"]}
    two = client.get(f"/api/neighbourhood/{chain['formfac']}?hops=2").json
    assert len(two["nodes"]) > len(base["nodes"])


def test_neighbourhood_stops_at_the_element_limit(make_app, chain) -> None:
    small = make_app(MAX_ELEMENTS=6, FANOUT=100)
    data = small.test_client().get(f"/api/neighbourhood/{chain['prop']}?hops=3").json
    assert data["truncated"] is True
    assert len(data["nodes"]) + len(data["edges"]) + len(data["summaries"]) <= 6 + 1


def test_neighbourhood_bad_input(client, chain) -> None:
    assert client.get("/api/neighbourhood/nothing-here").status_code == 404
    assert client.get(f"/api/neighbourhood/{chain['prop']}?hops=9").json["error"].startswith("hops must be")
    assert client.get("/api/neighbourhood/run:contract-300").status_code == 404


def test_search_suggests_by_name_prefix_and_uid(client, chain) -> None:
    names = [r["name"] for r in client.get("/api/search?q=seqprop_a09").json]
    assert names == ["seqprop_a09m310_e_300_proton_dt10_Srcs0-0"]
    assert client.get(f"/api/search?q={chain['formfac']}").json[0]["uid"] == chain["formfac"]
    assert [r["name"] for r in client.get("/api/search?q=seqprop_a09m310_e_300_proton_dt10_Srcs0-0").json] == \
        ["seqprop_a09m310_e_300_proton_dt10_Srcs0-0"]
    assert len(client.get("/api/search?q=pion&limit=5").json) == 5
    assert client.get('/api/search?q=a09m310_e_300_gf1.0 (")*').status_code == 200  # query syntax is just text
    assert client.get("/api/search?q=").json == []


@pytest.mark.parametrize("query,expected", [
    ("x3y3z19t62", ["formfac_a09m310_e_300_dt10_A3_x3y3z19t62", "src_a09m310_e_300_gf1.0_w3.5_n45_x3y3z19t62",
                    "prop_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62",
                    "spec_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62"]),  # shorter first
    ("src_a09", ["src_a09m310_e_300_gf1.0_w3.5_n45_x3y3z19t62", "seqsrc_a09m310_e_300_proton_dt10"]),  # prefix first
    ("e_300_proton", ["seqsrc_a09m310_e_300_proton_dt10", "seqprop_a09m310_e_300_proton_dt10_Srcs0-0"]),
    ("dt10 a3", ["formfac_a09m310_e_300_dt10_A3_x3y3z19t62"]),  # words anywhere, any case
    ("DT10_A3", ["formfac_a09m310_e_300_dt10_A3_x3y3z19t62"]),
    ("mdwf", ["MDWF mq=0.00951"]),
    ("wflow1.0", ["l3296f211b630m0074m037m440e.300_wflow1.0"]),
    ("nothing_like_it", []),
])
def test_search_matches_a_fragment_anywhere_in_a_name(client, chain, query, expected) -> None:
    assert [r["name"] for r in client.get("/api/search", query_string={"q": query}).json] == expected


def test_enter_on_a_fragment_lists_its_matches_and_links_them(client, chain) -> None:
    page = client.get("/graph", query_string={"node": "proton_dt10"})
    assert page.status_code == 200
    body = text(page)
    assert "Search: proton_dt10" in body and "2 matches" in body
    assert f'href="/graph?node={chain["seqsrc"]}"' in page.get_data(as_text=True)
    assert 'class="badge state-' in page.get_data(as_text=True)  # each match says its state
    missing = client.get("/graph", query_string={"node": "no_such_fragment"})
    assert missing.status_code == 404 and "no name contains it either" in text(missing)


# -- the JSON API ----------------------------------------------------------------------------------
def test_api_lineage_and_downstream_are_the_library_answers(client, chain, session_store) -> None:
    assert client.get(f"/api/lineage/{chain['formfac']}").json == lineage.lineage(session_store, chain["formfac"])
    assert client.get(f"/api/lineage/{chain['formfac']}?depth=1&kind=Sequential").json == \
        lineage.lineage(session_store, chain["formfac"], depth=1, kinds=["Sequential"])
    assert client.get(f"/api/downstream/{chain['prop']}").json == lineage.downstream(session_store, chain["prop"])
    assert client.get(f"/api/node/{chain['spec']}").json == lineage.details(session_store, chain["spec"])
    assert client.get(f"/api/lineage/{chain['formfac']}?kind=Nope").status_code == 400


def test_api_lean_fields_are_the_library_answers_and_bad_fields_a_400(client, chain, session_store) -> None:
    lean = ["uid", "name", "kind", "valid", "state"]
    assert client.get(f"/api/downstream/{chain['prop']}?fields=uid,name,kind,valid,state").json == \
        lineage.downstream(session_store, chain["prop"], fields=lean)
    assert client.get(f"/api/lineage/{chain['formfac']}?fields=ensemble,config").json == \
        lineage.lineage(session_store, chain["formfac"], fields=["ensemble", "config"])
    bad = client.get(f"/api/downstream/{chain['prop']}?fields=nope")
    assert bad.status_code == 400 and "unknown field" in bad.json["error"]


def test_the_downstream_page_asks_only_for_its_columns(client, chain, session_store) -> None:
    page = client.get(f"/downstream/{chain['prop']}?format=json&fields=ensemble").json
    assert page == lineage.downstream(session_store, chain["prop"], fields=["ensemble"])
    assert all(set(n["props"]) <= {"ensemble"} for n in page["nodes"])
    html = client.get(f"/downstream/{chain['prop']}").text
    ensemble = lineage.details(session_store, chain["prop"])["node"]["props"]["ensemble"]
    assert f"<td>{ensemble}</td>" in html


def test_api_status_find_count_impact_schema(client, chain, session_store) -> None:
    assert client.get("/api/status").json == status.status(session_store)
    assert client.get("/api/status?ensemble=a09m310").status_code == 200
    found = client.get("/api/find/Meson2pt?where=px>=12&order=px").json
    assert [r["props"]["px"] for r in found] == [12, 13]
    assert client.get("/api/count/Meson2pt?where=state=planned").json == {"kind": "Meson2pt", "count": FANOUT // 2}
    assert client.get(f"/api/impact/{chain['flowed']}").json == invalidate.impact(session_store, chain["flowed"])
    assert client.get("/api/schema").json[0]["name"] == "Entity"


def test_api_errors_are_json_with_the_message(client, chain) -> None:
    bad = client.get("/api/find/Meson2pt?where=px")
    assert bad.status_code == 400 and "bad filter 'px'" in bad.json["error"]
    assert client.get("/api/find/Meson2pt?limit=-1").status_code == 400
    missing = client.get("/api/node/nope")
    assert missing.status_code == 404 and missing.json == {"error": "no node with uid, name or location 'nope'", "status": 404}
    assert client.get("/api/status?ensemble=zzz").status_code == 404
    assert client.get("/api/nothing").json["status"] == 404


def test_openapi_document_describes_the_answers(client, chain) -> None:
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.") and "/api/lineage/{ident}" in spec["paths"]
    assert not any(p.endswith("/invalidate") for p in spec["paths"])
    schemas = spec["components"]["schemas"]

    def check(path: str, name: str) -> None:
        jsonschema.validate(client.get(path).json, {**schemas[name], "components": spec["components"]},
                            cls=jsonschema.Draft202012Validator)

    for path, name in ((f"/api/lineage/{chain['formfac']}", "Graph"), (f"/api/downstream/{chain['prop']}", "Graph"),
                       (f"/api/node/{chain['spec']}", "Details"), (f"/api/neighbourhood/{chain['prop']}", "Neighbourhood"),
                       ("/api/status", "Status"), ("/api/find/Meson2pt", "Nodes"), ("/api/count/Meson2pt", "Count"),
                       (f"/api/impact/{chain['prop']}", "Impact"), ("/api/schema", "Schema"),
                       ("/api/search?q=pion", "SearchResults"), ("/api/node/nope", "Error")):
        check(path, name)


def test_api_is_read_only_without_allow_writes(client, chain) -> None:
    assert client.post(f"/node/{chain['cfg']}/invalidate", data={"reason": "x"}).status_code == 405
    assert client.post(f"/api/node/{chain['cfg']}", data={"reason": "x"}).status_code == 405


# -- writes (behind --allow-writes and the writer role) --------------------------------------------
@pytest.fixture
def writer_client(make_app, store):
    from latteprov import users

    users.add(store, "wendy", "correct horse battery", "writer")
    users.add(store, "rita", "correct horse battery", "reader")
    return make_app(ALLOW_WRITES=True).test_client


def _login(client, name: str) -> None:
    assert client.post("/auth/login", data={"username": name, "password": "correct horse battery"}).status_code == 302


def test_writer_invalidates_and_revalidates_from_the_node_page(writer_client, fresh_chain, store) -> None:
    client = writer_client()
    _login(client, "wendy")
    page = client.get(f"/node/{fresh_chain['flowed']}")
    assert "Invalidate this and everything downstream" in page.text
    done = client.post(f"/node/{fresh_chain['flowed']}/invalidate", data={"reason": "bad plaquette"})
    assert done.status_code == 302
    after = lineage.details(store, fresh_chain["formfac"])
    assert after["node"]["valid"] is False
    event = lineage.details(store, fresh_chain["flowed"])["invalidations"][0]
    assert event["reason"] == "bad plaquette" and event["by"] == "wendy"
    assert "bad plaquette" in client.get(f"/node/{fresh_chain['flowed']}").text
    graph_view = client.get(f"/api/neighbourhood/{fresh_chain['prop']}").json
    assert all(n["valid"] is False for n in graph_view["nodes"] if n["kind"] in ("OneToAll", "Baryon2pt"))
    back = client.post(f"/node/{fresh_chain['flowed']}/revalidate", data={"reason": "false alarm"},
                       headers={"Accept": "application/json"})
    assert back.status_code == 200 and back.json["result"]["restored"] > 0
    assert lineage.details(store, fresh_chain["formfac"])["node"]["valid"] is True


def test_invalidate_needs_a_reason_and_a_writer(writer_client, fresh_chain, store) -> None:
    client = writer_client()
    anonymous = client.post(f"/node/{fresh_chain['flowed']}/invalidate", data={"reason": "x"},
                            headers={"Accept": "application/json"})
    assert anonymous.status_code == 401
    _login(client, "rita")
    assert client.post(f"/node/{fresh_chain['flowed']}/invalidate", data={"reason": "x"}).status_code == 403
    assert "Log in as a writer" in client.get(f"/node/{fresh_chain['flowed']}").text
    _login(client, "wendy")
    empty = client.post(f"/node/{fresh_chain['flowed']}/invalidate", data={"reason": "  "})
    assert empty.status_code == 400 and "needs a reason" in empty.text
    assert lineage.details(store, fresh_chain["flowed"])["node"]["valid"] is True
    assert client.post("/node/nope/invalidate", data={"reason": "x"}).status_code == 404


def test_write_routes_need_the_csrf_token(settings, store, fresh_chain) -> None:
    from latteprov import users

    users.add(store, "wendy", "correct horse battery", "writer")
    app = create_app({"TESTING": True, "SETTINGS": settings, "SECRET_KEY": "t", "ALLOW_WRITES": True})
    client = app.test_client()
    login_page = client.get("/auth/login").text
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/auth/login", data={"username": "wendy", "password": "correct horse battery", "csrf_token": token})
    refused = client.post(f"/node/{fresh_chain['flowed']}/invalidate", data={"reason": "x"})
    assert refused.status_code == 400 and "CSRF" in refused.text
    page = client.get(f"/node/{fresh_chain['flowed']}").text
    form_token = page.split('name="csrf_token" value="')[1].split('"')[0]
    ok = client.post(f"/node/{fresh_chain['flowed']}/invalidate", data={"reason": "x", "csrf_token": form_token})
    assert ok.status_code == 302
    db.close(app)


def test_pages_need_login_unless_anonymous_read(settings, fresh_chain) -> None:
    app = create_app({"TESTING": True, "SETTINGS": settings, "SECRET_KEY": "t"})
    client = app.test_client()
    assert client.get("/dashboard").status_code == 302
    assert client.get("/api/status").status_code == 401
    db.close(app)


# -- the command line ------------------------------------------------------------------------------
def test_serve_get_runs_a_request_through_the_app(cli, fresh_chain) -> None:
    result = cli("serve", "--get", f"/api/node/{fresh_chain['spec']}")
    assert result.exit_code == 0 and json.loads(result.output)["node"]["kind"] == "Baryon2pt"
    missing = cli("serve", "--get", "/api/node/nope")
    assert missing.exit_code == 1 and "no node with uid, name or location 'nope'" in missing.output


# -- never a 500: bad numbers are 400 with their message, a database gone is a quick 503 ------------
@pytest.mark.parametrize("url,message", [
    ("/api/search?q=pion&limit=-1", "limit must be between 1 and 100, not -1"),
    ("/api/search?q=pion&limit=99999999999999999999", "limit must be between 1 and 100, not 99999999999999999999"),
    ("/api/search?q=pion&limit=ten", "limit must be an integer, not 'ten'"),
    ("/api/find/OneToAll?limit=-5", "limit must be between 0 and 100000, not -5"),
    ("/api/find/OneToAll?where=config=9223372036854775808", "beyond 64-bit integers"),
    ("/api/find/OneToAll?where=quark_mass>nan", "not a finite number"),
    ("/api/lineage/src_a09m310_e_300_gf1.0_w3.5_n45_x3y3z19t62?depth=-1", "depth must be between 0 and 1000000, not -1"),
    ("/api/downstream/src_a09m310_e_300_gf1.0_w3.5_n45_x3y3z19t62?depth=1e3", "depth must be an integer, not '1e3'"),
    ("/tables/OneToAll?page=0&format=json", "page must be between 1 and"),
    ("/tables/OneToAll?size=99999999999999999999&format=json", "size must be between 1 and 1000"),
])
def test_out_of_range_and_ill_typed_numbers_are_400_with_the_message(client, chain, url, message) -> None:
    response = client.get(url, headers={"Accept": "application/json"})
    assert response.status_code == 400 and message in response.json["error"], response.get_data(as_text=True)


# Every integer argument the web takes, on a route that reads it.
INT_ARGS = ["/tables/OneToAll?format=json&page=", "/tables/OneToAll?format=json&size=", "/api/find/OneToAll?offset=",
            "/api/find/OneToAll?limit=", "/api/search?q=pion&limit=", "/frontier?format=json&limit=",
            "/api/lineage/src_a09m310_e_300_gf1.0_w3.5_n45_x3y3z19t62?depth=", "/api/neighbourhood/src_a09m310_e_300_gf1.0_w3.5_n45_x3y3z19t62?hops=",
            "/graph?format=json&node=src_a09m310_e_300_gf1.0_w3.5_n45_x3y3z19t62&hops="]


def test_int_args_cover_every_integer_the_web_reads() -> None:
    """INT_ARGS below names every argument the web parses as an integer (so the test of huge
    values reaches them all)."""
    import re

    from latteprov import web

    named = set()
    for path in Path(web.__file__).parent.glob("*.py"):
        named |= set(re.findall(r'int_arg\("(\w+)"', path.read_text()))
        assert "int(request.args" not in path.read_text() and "int(raw)" not in path.read_text().replace(
            "value = int(raw)", ""), path
    assert named <= {re.search(r"[?&](\w+)=$", url).group(1) for url in INT_ARGS}


@pytest.mark.parametrize("url", INT_ARGS)
@pytest.mark.parametrize("value", ["99999999999999999999999", str(2**63 - 1), str(-2**63), str(2**53 + 1), "9" * 5000])
def test_huge_integers_are_400_never_500(client, chain, url, value) -> None:
    response = client.get(url + value, headers={"Accept": "application/json"})
    assert response.status_code in (200, 400), (url, response.status_code, response.get_data(as_text=True)[:300])
    if response.status_code == 400:
        assert "must be" in response.json["error"] and len(response.json["error"]) < 200


def test_a_lineage_answer_always_contains_its_root(client, chain) -> None:
    for query in ("depth=0", "kind=Ensemble", "depth=0&kind=GaugeConfig"):
        answer = client.get(f"/api/lineage/{chain['prop']}?{query}").json
        assert answer["root"] == chain["prop"] and chain["prop"] in {n["uid"] for n in answer["nodes"]}, query


def test_a_bad_table_filter_shows_its_message_above_the_table(client, chain) -> None:
    page = client.get("/tables/OneToAll", query_string={"f.config": ">three", "f.x": "3"})
    assert page.status_code == 400
    body = text(page)
    assert 'id="table-error"' in body and "filter config>three: OneToAll.config: 'three' is not a valid integer" in body
    assert 'name="f.config" value="&gt;three"' in page.get_data(as_text=True)  # the boxes keep what was typed
    assert '<table class="data" id="table">' in body


def test_the_table_url_keeps_only_the_filters_in_use(client, chain) -> None:
    response = client.get("/tables/OneToAll?f.name=&f.config=300&f.x=+&sort=name")
    assert response.status_code == 302
    assert response.location.endswith("/tables/OneToAll?f.config=300&sort=name")


def test_a_database_gone_after_start_answers_503_at_once(settings, make_app) -> None:
    import time

    from latteprov.server.manager import free_port
    from latteprov.web.db import get_store

    app = make_app(SETTINGS=settings.with_(uri=f"bolt://127.0.0.1:{free_port()}"))
    with app.app_context():
        get_store()._checked = True  # as if it had answered when the app started: the retry path
    client = app.test_client()
    for url in ("/dashboard", "/api/search?q=pion", "/tables/OneToAll"):
        start = time.monotonic()
        response = client.get(url)
        assert response.status_code == 503 and time.monotonic() - start < 2.0, url


def test_a_run_page_lists_its_inputs_and_outputs_and_a_file_page_its_products(client, chain) -> None:
    run = client.get("/node/run:contract-300")
    assert run.status_code == 200
    body = text(run)
    assert "Used (the run's inputs) (1)" in body and "Generated (the run's outputs) (1)" in body
    assert "prop_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62" in body
    assert "spec_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62" in body
    data = client.get("/api/node/run:contract-300").json
    assert [m["uid"] for m in data["used"]] == [chain["prop"]] and [m["uid"] for m in data["generated"]] == [chain["spec"]]
    file_uid = client.get(f"/api/node/{chain['spec']}").json["files"][0]["uid"]
    stored = client.get(f"/node/{file_uid}")
    assert "Products stored in this file (1)" in text(stored)


def test_search_reaches_names_in_any_script(client, store) -> None:
    """Empties the graph (the store fixture): keep it last in this module."""
    b = graph.GraphBatch()
    b.add("QuarkSmearing", name="Gauß-Glättung 高斯", radius=3.5, steps=45)
    graph.write(store, b)
    for fragment in ("Glättung", "glättung", "高斯"):
        assert [r["name"] for r in client.get("/api/search", query_string={"q": fragment}).json] == ["Gauß-Glättung 高斯"]


def test_the_dashboard_links_file_counts_tells_lost_from_not_made_and_orders_kinds_alike(client, store) -> None:
    """(Writes: keep it last.)"""
    from latteprov import synth
    for batch in synth.campaign("S", 0):
        graph.write(store, batch)
    page = client.get("/dashboard")
    body = page.get_data(as_text=True)
    assert 'data-key="on_tape" href="/tables/OneToAll?f.ensemble=a09m310&amp;f.file_statuses=on_tape"' in body
    data = client.get("/dashboard?format=json").json
    for group in data["ensembles"]:
        for k in group["kinds"]:
            assert k["missing_lost"] + k["missing_not_made"] == k["missing"]
    not_made = store.run_text("MATCH (n:Entity) WHERE n.state = 'planned' AND 'missing' IN n.file_statuses RETURN count(n) AS n")[0]["n"]
    assert not_made > 0 and sum(k["missing_not_made"] for g in data["ensembles"] for k in g["kinds"]) >= not_made
    orders = [[k["kind"] for k in g["kinds"]] for g in data["ensembles"] if g["ensemble"]]
    common = set.intersection(*(set(o) for o in orders))
    assert len({tuple(k for k in o if k in common) for o in orders}) == 1  # one order for every ensemble


def test_search_results_say_which_matches_are_invalid(client, fresh_chain, store) -> None:
    invalidate.invalidate(store, fresh_chain["seqsrc"], reason="test", by="tester")
    page = client.get("/graph", query_string={"node": "proton_dt10"}).get_data(as_text=True)
    assert page.count('class="badge invalid"') >= 1

