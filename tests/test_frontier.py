"""``latteprov ready``: a small campaign advanced step by step, failures, invalidation and
revalidation, recomputation; the frontier page and the dashboard's planned work."""
from __future__ import annotations

import json

import pytest

from latteprov import campaign, frontier, invalidate, metaq, plan
from latteprov.errors import InputError
from planning_data import RAW_CONFIG, ready_names, record_step, step_products, write_campaign


@pytest.fixture
def planned(store, tmp_path):
    plan.plan(store, campaign.load(write_campaign(tmp_path)))
    return store


def names(store, step: str, configs: list[int] | None = None) -> set[str]:
    return {p["name"] for p in step_products(store, step, configs)}


def test_a_campaign_advances_step_by_step(planned) -> None:
    store = planned
    assert ready_names(store) == {"flow": names(store, "flow")}
    record_step(store, "flow")
    assert ready_names(store) == {"source": names(store, "source")}
    record_step(store, "source")
    assert ready_names(store) == {"prop": names(store, "prop")}
    record_step(store, "prop", configs=[300])
    # the spectra and the coherent sequential source of 300 need only its propagators
    assert ready_names(store) == {"prop": names(store, "prop", [305]), "spec": names(store, "spec", [300]),
                                  "seqsrc": names(store, "seqsrc", [300])}
    record_step(store, "prop", configs=[305])
    record_step(store, "seqsrc")
    assert ready_names(store) == {"spec": names(store, "spec"), "seqprop": names(store, "seqprop")}
    record_step(store, "seqprop")
    record_step(store, "spec")
    assert ready_names(store) == {"formfac": names(store, "formfac")}
    record_step(store, "formfac")
    assert ready_names(store) == {} and frontier.ready(store)["total"] == 0


def test_a_failed_product_is_ready_again_and_a_running_one_is_not(planned) -> None:
    store = planned
    record_step(store, "flow", "failed", configs=[300])
    answer = frontier.ready(store)
    (group,) = answer["groups"]
    assert {(p["name"], p["why"]) for p in group["products"]} == \
        {(n, "failed") for n in names(store, "flow", [300])} | {(n, "planned") for n in names(store, "flow", [305])}
    record_step(store, "flow", "running", configs=[305])
    (group,) = frontier.ready(store)["groups"]
    assert group["ready"] == 1 and group["running"] == 1


def test_counts_are_complete_when_the_list_is_limited(planned) -> None:
    record_step(planned, "flow")
    answer = frontier.ready(planned, limit=1)
    assert answer["total"] == 4 and sum(len(g["products"]) for g in answer["groups"]) == 1
    assert frontier.ready(planned, limit=0)["groups"][0]["products"] == []


def test_ready_filters_by_step_and_ensemble_and_refuses_unknown_steps(planned) -> None:
    record_step(planned, "flow")
    assert frontier.ready(planned, step="ff/source")["total"] == 4
    assert frontier.ready(planned, step="prop")["total"] == 0
    assert frontier.ready(planned, ensemble="a12m130")["groups"] == []
    with pytest.raises(InputError, match="no campaign step 'sorce'; planned steps: ff/flow, ff/source"):
        frontier.ready(planned, step="sorce")


def test_invalidating_a_configuration_takes_its_products_off_and_revalidating_puts_them_back(planned) -> None:
    store = planned
    record_step(store, "flow")
    everything = ready_names(store)
    invalidate.invalidate(store, RAW_CONFIG, "bad plaquette", "test")
    assert ready_names(store) == {"source": names(store, "source", [305])}
    invalidate.revalidate(store, RAW_CONFIG, "plaquette fine after all", "test")
    assert ready_names(store) == everything


def test_an_invalidated_product_is_recomputed_and_what_was_made_of_it_comes_back_after_revalidation(planned, tmp_path) -> None:
    store = planned
    for step in ("flow", "source", "prop"):
        record_step(store, step, configs=[300])
    record_step(store, "spec", configs=[300])
    bad = step_products(store, "prop", [300])[0]
    spec = next(p for p in store.read("task_products", uids=[p["uid"] for p in step_products(store, "spec", [300])])
                if any(i["uid"] == bad["uid"] for i in p["inputs"]))
    invalidate.invalidate(store, bad["uid"], "solver bug", "test")
    answer = frontier.ready(store, step="prop")
    assert [(p["name"], p["why"]) for g in answer["groups"] for p in g["products"]] == [(bad["name"], "recompute")]
    assert spec["name"] not in ready_names(store).get("spec", set())  # made of an invalid input
    (tmp_path / "mq").mkdir()
    written = metaq.write_tasks(store, tmp_path / "mq", step="prop")
    assert [t["products"] for t in written["tasks"]] == [[bad["name"]]] and written["replanned"] == 1
    states = {r["uid"]: r["state"] for r in store.read("entity_states", uids=[bad["uid"], spec["uid"]])}
    assert states == {bad["uid"]: "queued", spec["uid"]: "planned"}  # the spectrum is to be remade
    from planning_data import record_outcome

    record_outcome(store, [bad["uid"]])  # the recomputation ran after the invalidation
    assert bad["name"] not in ready_names(store).get("prop", set())  # not due again, awaiting revalidation
    invalidate.revalidate(store, bad["uid"], "recomputed with the fixed solver", "test")
    assert spec["name"] in ready_names(store)["spec"]


def test_the_frontier_page_lists_products_linked_to_their_nodes(planned, client) -> None:
    record_step(planned, "flow")
    page = client.get("/frontier")
    assert page.status_code == 200
    for p in step_products(planned, "source"):
        assert f'href="/node/{p["uid"]}">{p["name"]}</a>' in page.text
    data = client.get("/frontier?format=json&step=ff/source&limit=1").json
    assert data["total"] == 4 and data["listed"] == 1 and data["groups"][0]["resources"]["GPUS"] == 4
    assert client.get("/frontier?step=nope").status_code == 400
    assert client.get("/frontier?limit=x").status_code == 400


def test_the_dashboard_shows_ready_and_queued_work_per_ensemble_and_step(planned, client, tmp_path) -> None:
    record_step(planned, "flow")
    (tmp_path / "mq").mkdir()
    metaq.write_tasks(planned, tmp_path / "mq", limit=1)
    data = client.get("/dashboard?format=json").json
    (group,) = [g for g in data["ensembles"] if g["ensemble"] == "a09m310"]
    work = {w["step"]: (w["ready"], w["queued"]) for w in group["work"]}
    assert work == {"source": (3, 1)}
    page = client.get("/dashboard")
    assert 'data-step="ff/source"' in page.text and '<td class="num" data-key="queued">1</td>' in page.text
    counts = json.loads(json.dumps(data["rows"]))
    assert next(r for r in counts if r["kind"] == "Source")["queued"] == 1


def test_the_ready_table_says_what_it_does_not_count_and_how_much_it_lists(cli, planned) -> None:
    out = " ".join(cli("ready", "--limit", "1").output.split())
    assert "ready to run: 2 products" in out and "products: 1 of 2 listed (--limit)" in out
    record_step(planned, "flow", "running", configs=[300])
    out = " ".join(cli("ready").output.split())
    assert "ready to run: 1 product " in out and "listed" not in out
    assert "not counted as ready: 0 queued (a task is written) and 1 running" in out
