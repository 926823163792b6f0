"""The web app in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright,
against the app served from a background thread over the demo's data in the real Neo4j.

Screenshots of the graph page and the dashboard go to ``$LATTEPROV_SCREENSHOTS`` (set it to
``docs/img`` to refresh the documentation's images), else to the test's temporary directory.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import make_server

from latteprov import find, status
from latteprov.cli import demo
from latteprov.web import create_app, db
from latteprov.neighbourhood import neighbourhood

CHROMIUM = os.environ.get("LATTEPROV_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
READY = "document.body.dataset.graphReady === '1'"


@pytest.fixture(scope="module")
def demo_data(session_store) -> dict:
    """The demo's data: the tier-S campaign with one configuration invalidated."""
    session_store.clear()
    return demo.load_campaign(session_store)


@pytest.fixture(scope="module")
def server(settings, demo_data):
    """The app on a free port, served by a werkzeug thread; yields its base URL."""
    app = create_app({"SETTINGS": settings, "SECRET_KEY": "browser-test", "ANONYMOUS_READ": True})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join()
    db.close(app)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: install it (Debian: apt-get install chromium) "
                    "or name it in LATTEPROV_CHROMIUM", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 850})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("LATTEPROV_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def drawn(page: Page) -> dict:
    return page.evaluate("""() => ({
        nodes: cy.nodes().not('.summary').length, summaries: cy.nodes('.summary').length,
        all: cy.nodes().length, edges: cy.edges().length, invalid: cy.nodes('.invalid').length})""")


def test_graph_page_draws_the_correlators_neighbourhood(page, server, demo_data, session_store, shots) -> None:
    uid = demo_data["showcase"]["uid"]
    page.goto(f"{server}/graph?node={uid}&hops=2")
    page.wait_for_function(READY)
    view = neighbourhood(session_store, uid, hops=2, fanout=12)
    counts = drawn(page)
    assert counts["nodes"] == len(view["nodes"]) and counts["summaries"] == len(view["summaries"])
    assert counts["all"] == len(view["nodes"]) + len(view["summaries"])
    assert counts["invalid"] == sum(not n["valid"] for n in view["nodes"]) > 0  # the demo's invalidation shows
    assert page.evaluate(f"cy.$id('{uid}').hasClass('root')")
    page.wait_for_selector("#panel h2")  # the side panel shows the root until another node is clicked
    assert "Baryon3pt" in page.inner_text("#panel") and demo_data["showcase"]["name"] in page.inner_text("#panel")
    assert "demo: plaquette outlier" in page.inner_text("#panel")  # why it is invalid
    page.screenshot(path=str(shots / "graph.png"))


def test_a_3pt_label_carries_its_configuration_source_tsep_and_current_and_compacts_when_zoomed_out(
        page, server, demo_data, session_store) -> None:
    uid = demo_data["showcase"]["uid"]  # formfac_a09m310_e_305_..._dt-3_..._x29y20z7t28_SS_A3
    page.goto(f"{server}/graph?node={uid}&hops=2")
    page.wait_for_function(READY)
    label = page.evaluate(f"cy.$id('{uid}').data('label')")
    assert label.startswith("✗ Baryon3pt") and "A3" in label and "tsep -3" in label  # invalid: its config is
    assert "cfg e305" in label and "x29y20z7t28" in label
    page.evaluate(f"cy.$id('{uid}').emit('mouseover')")
    assert demo_data["showcase"]["name"] in page.evaluate(f"cy.$id('{uid}').style('label')")
    # A view that fits only zoomed out draws compact labels. (It is loaded, not zoomed by the test:
    # headless Chromium without a GPU crashes its renderer when a drawn page is zoomed.)
    config = find.find(session_store, "GaugeConfig", find.parse_filters(["config=305", "flow_time=1.0"]), limit=1)[0]
    page.goto(f"{server}/graph?node={config['uid']}&hops=3")
    page.wait_for_function(READY)
    zoom = page.evaluate("cy.zoom()")
    assert zoom < 0.9 and page.evaluate(f"cy.$id('{config['uid']}').hasClass('compact')"), zoom
    assert page.evaluate(f"cy.$id('{config['uid']}').style('label')") == "✗ cfg"  # invalid: the demo's bad configuration


def test_lineage_and_downstream_views_show_one_direction_each(page, server, demo_data, session_store) -> None:
    config = find.find(session_store, "GaugeConfig", find.parse_filters(["config=305", "flow_time=1.0"]), limit=1)[0]
    for direction in ("up", "down"):
        page.goto(f"{server}/graph?node={config['uid']}&hops=1&dir={direction}")
        page.wait_for_function(READY)
        view = neighbourhood(session_store, config["uid"], hops=1, direction=direction)
        assert drawn(page)["nodes"] == len(view["nodes"])
        assert page.input_value("#dir") == direction
    both = neighbourhood(session_store, config["uid"], hops=1)
    up = neighbourhood(session_store, config["uid"], hops=1, direction="up")
    down = neighbourhood(session_store, config["uid"], hops=1, direction="down")
    assert {e["from"] for e in up["edges"]} == {config["uid"]}  # lineage: only what it derives from
    assert {e["to"] for e in down["edges"]} == {config["uid"]}  # downstream: only what derives from it
    assert len(both["edges"]) == len(up["edges"]) + len(down["edges"])


def test_double_click_expands_a_node_and_the_url_keeps_the_view(page, server, demo_data) -> None:
    uid = demo_data["showcase"]["uid"]
    page.goto(f"{server}/graph?node={uid}")
    page.wait_for_function(READY)
    before = drawn(page)
    seqprop = page.evaluate("cy.nodes().filter(n => n.data('kind') === 'Sequential')[0].id()")
    box = page.locator("#cy").bounding_box()
    position = page.evaluate(f"cy.$id('{seqprop}').renderedPosition()")
    page.mouse.dblclick(box["x"] + position["x"], box["y"] + position["y"])
    page.wait_for_function(f"{READY} && cy.nodes().length > {before['all']}")
    after = drawn(page)
    assert after["nodes"] > before["nodes"]
    assert page.evaluate("cy.nodes().some(n => n.data('kind') === 'SequentialSource')")
    assert f"expand={seqprop}".replace(":", "%3A") in page.url
    # The URL alone reproduces the view: a shared link draws the same graph.
    page.goto(page.url)
    page.wait_for_function(READY)
    assert drawn(page) == after


def test_click_on_a_summary_node_opens_the_group(page, server, demo_data, session_store) -> None:
    # The a09m310 valence action made 20 propagators: more than the fan-out limit, so one summary node.
    action = find.find(session_store, "MobiusDW", find.parse_filters(["quark_mass=0.00951"]))[0]["uid"]
    page.goto(f"{server}/graph?node={action}")
    page.wait_for_function(READY)
    before = drawn(page)
    summary = page.evaluate("cy.nodes('.summary').filter(n => n.data('kind') === 'OneToAll').map(n => [n.id(), n.data('label')])")
    assert summary and summary[0][1].startswith("20 OneToAll")
    box = page.locator("#cy").bounding_box()
    position = page.evaluate(f"cy.$id('{summary[0][0]}').renderedPosition()")
    page.mouse.click(box["x"] + position["x"], box["y"] + position["y"])
    page.wait_for_function(f"{READY} && cy.nodes('.summary').length < {before['summaries']}")
    after = drawn(page)
    assert after["nodes"] == before["nodes"] + 20 and after["summaries"] == before["summaries"] - 1
    assert "open=" in page.url


def test_dashboard_counts_match_the_database_and_link_to_the_table(page, server, demo_data, session_store,
                                                                    shots) -> None:
    page.goto(f"{server}/dashboard")
    row = next(r for r in status.status(session_store) if r["ensemble"] == "a09m310" and r["kind"] == "Baryon3pt")
    cells = page.locator("#ensemble-a09m310 tr[data-kind='Baryon3pt']")
    assert cells.locator("a[data-key='total']").inner_text() == str(row["total"])
    assert cells.locator("a[data-key='invalid']").inner_text() == f"{row['invalid']} invalid"
    page.screenshot(path=str(shots / "dashboard.png"), full_page=False)
    cells.locator("a[data-key='invalid']").click()
    page.wait_for_load_state()
    assert "f.valid=false" in page.url
    assert page.locator("#table tbody tr").count() == row["invalid"]
    assert page.locator("#table tbody .badge.invalid").count() == row["invalid"]


def test_table_filter_box_filters_on_the_server(page, server, demo_data, session_store) -> None:
    page.goto(f"{server}/tables/Baryon3pt")
    page.fill("input[name='f.current']", "V4")
    page.fill("input[name='f.ensemble']", "a12m130")
    page.press("input[name='f.ensemble']", "Enter")
    page.wait_for_url("**f.current=V4**")
    expected = find.count(session_store, "Baryon3pt", find.parse_filters(["current=V4", "ensemble=a12m130"]))
    assert page.locator("h1 small").inner_text() == f"{expected} nodes"
    assert page.locator("#table tbody tr").count() == min(expected, 50)
    assert set(page.locator("#table tbody td:nth-child(5)").all_inner_texts()) == {"a12m130"}  # ensemble column
    page.click("#table thead th a:text-is('config')")
    page.wait_for_url("**sort=config**")
    headers = page.locator("#table thead tr:first-child th").all_inner_texts()
    column = [h.split()[0] for h in headers].index("config") + 1
    configs = [int(c) for c in page.locator(f"#table tbody td:nth-child({column})").all_inner_texts()]
    assert configs == sorted(configs) and len(configs) == min(expected, 50)
    assert page.input_value("input[name='f.current']") == "V4"  # the filters survive sorting


def test_search_box_suggests_names_and_opens_the_graph(page, server, demo_data) -> None:
    page.goto(f"{server}/dashboard")
    page.fill("#search", "formfac_a09m310_e_305")
    page.wait_for_function("document.querySelectorAll('#search-suggestions option').length > 0")
    options = page.eval_on_selector_all("#search-suggestions option", "os => os.map(o => o.value)")
    assert options and all(o.startswith("formfac_a09m310_e_305") for o in options)
    page.fill("#search", demo_data["showcase"]["uid"])
    page.press("#search", "Enter")
    page.wait_for_function(READY)
    assert page.evaluate(f"cy.$id('{demo_data['showcase']['uid']}').length") == 1


def test_view_downloads_as_json_and_png(page, server, demo_data) -> None:
    page.goto(f"{server}/graph?node={demo_data['showcase']['uid']}")
    page.wait_for_function(READY)
    with page.expect_download() as download:
        page.click("#download-json")
    saved = json.loads(Path(download.value.path()).read_text())
    assert saved["root"] == demo_data["showcase"]["uid"] and len(saved["nodes"]) == drawn(page)["nodes"]
    with page.expect_download() as download:
        page.click("#download-png")
    assert download.value.suggested_filename.endswith(".png")
    assert Path(download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_search_by_a_fragment_from_the_middle_of_a_name_suggests_and_lists_matches(page, server, demo_data) -> None:
    page.goto(f"{server}/dashboard")
    page.fill("#search", "x29y20z7t28")  # a source position, in the middle of many names
    page.wait_for_function("document.querySelectorAll('#search-suggestions option').length > 0")
    options = page.eval_on_selector_all("#search-suggestions option", "os => os.map(o => o.value)")
    assert options and all("x29y20z7t28" in o for o in options)
    page.press("#search", "Enter")
    page.wait_for_selector("#search-results")
    links = page.locator("#search-results table a").all_inner_texts()
    assert links and all("x29y20z7t28" in name for name in links)


def test_a_bad_table_filter_shows_its_message_above_the_table(page, server, demo_data) -> None:
    page.goto(f"{server}/tables/OneToAll")
    page.fill("input[name='f.config']", ">three")
    page.press("input[name='f.config']", "Enter")
    page.wait_for_selector("#table-error")
    assert "filter config>three" in page.inner_text("#table-error")
    assert page.input_value("input[name='f.config']") == ">three" and page.locator("#table").count() == 1
