"""Invalidation and revalidation: exactly the descendants, recorded events, overlapping
invalidations, batches, and the CLI's dry run and confirmation."""
from __future__ import annotations

import json

import pytest

from latteprov import graph, invalidate, lineage, status
from latteprov.errors import InputError

ACTION = "MDWF a09m310"
CFG = "a09m310e.300"


def invalid_names(store) -> set[str]:
    return {r["name"] for r in store.run_text("MATCH (n:Entity {valid: false}) RETURN n.name AS name")}


def totals(store) -> tuple[int, int]:
    return (store.run_text("MATCH (n) WHERE NOT n:Invalidation RETURN count(n) AS n")[0]["n"],
            store.run_text("MATCH ()-[r]->() WHERE NOT r:INVALIDATED_BY RETURN count(r) AS n")[0]["n"])


def a09_products() -> set[str]:
    """Everything the a09m310 valence action feeds (computed from the campaign's naming)."""
    out = set()
    for cfg in (300, 306):
        out |= {f"{p}_a09m310_e_{cfg}_{s}" for p in ("prop", "spec") for s in ("x3y3z19t62", "x10y0z1t14")}
        out |= {f"{p}_a09m310_e_{cfg}_dt{t}" for p in ("seqsrc", "seqprop") for t in (8, 10)}
        out |= {f"formfac_a09m310_e_{cfg}_dt{t}_{s}_A3" for t in (8, 10) for s in ("x3y3z19t62", "x10y0z1t14")}
    return out


def test_impact_counts_by_kind_and_ensemble_without_writing(store, campaign) -> None:
    before = totals(store)
    impact = invalidate.impact(store, ACTION)
    assert impact["total"] == len(a09_products()) + 1 == len(impact["uids"])
    counts = {(r["kind"], r["ensemble"]): r["count"] for r in impact["by_kind_ensemble"]}
    assert counts == {("MobiusDW", None): 1, ("OneToAll", "a09m310"): 4, ("Baryon2pt", "a09m310"): 4,
                      ("SequentialSource", "a09m310"): 4, ("Sequential", "a09m310"): 4, ("Baryon3pt", "a09m310"): 8}
    assert invalid_names(store) == set() and totals(store) == before


def test_invalidating_an_action_marks_exactly_its_descendants(store, campaign) -> None:
    before = totals(store)
    done = invalidate.invalidate(store, ACTION, "wrong quark mass", "alice")
    assert invalid_names(store) == a09_products() | {ACTION}
    assert done["changed"] == done["total"] == len(a09_products()) + 1
    event = store.run_text("MATCH (i:Invalidation) RETURN i {.*} AS i")[0]["i"]
    assert (event["action"], event["reason"], event["by"], event["count"]) == ("invalidate", "wrong quark mass",
                                                                               "alice", done["total"])
    assert event["root"] == lineage.resolve(store, ACTION) and event["at"] is not None
    linked = store.run_text("MATCH (n:Entity)-[:INVALIDATED_BY]->(:Invalidation) RETURN n.uid AS uid")
    assert linked == [{"uid": event["root"]}]  # the root only: the event covers its subtree
    assert totals(store) == before  # nothing deleted


def test_status_shows_invalid_and_revalidation_restores_counts(store, campaign) -> None:
    clean = status.status(store)
    invalidate.invalidate(store, ACTION, "wrong quark mass", "alice")
    rows = {(r["ensemble"], r["kind"]): r for r in status.status(store)}
    assert rows[("a09m310", "Baryon3pt")]["invalid"] == 8 and rows[("a12m310", "Baryon3pt")]["invalid"] == 0
    assert rows[(None, "MobiusDW")]["invalid"] == 1
    back = invalidate.revalidate(store, ACTION, "mass was right after all", "bob")
    assert back["restored"] == back["total"] and back["still_invalid"] == 0
    assert status.status(store) == clean
    events = store.run_text("MATCH (i:Invalidation) RETURN i.action AS a, i.by AS by ORDER BY i.at")
    assert [(e["a"], e["by"]) for e in events] == [("invalidate", "alice"), ("revalidate", "bob")]


def test_invalidating_twice_is_idempotent(store, campaign) -> None:
    first = invalidate.invalidate(store, ACTION, "bad", "alice")
    again = invalidate.invalidate(store, ACTION, "bad", "alice")
    assert again["already"] and again["changed"] == 0 and again["event"]["uid"] == first["event"]["uid"]
    assert store.run_text("MATCH (i:Invalidation) RETURN count(i) AS n")[0]["n"] == 1
    assert store.run_text("MATCH ()-[r:INVALIDATED_BY]->() RETURN count(r) AS n")[0]["n"] == 1


def test_a_product_recorded_after_its_input_was_invalidated_is_invalid(store, campaign) -> None:
    invalidate.invalidate(store, ACTION, "bad", "alice")
    before = {(r["ensemble"], r["kind"]): r["invalid"] for r in status.status(store)}
    late = graph.GraphBatch()
    prop = lineage.resolve(store, "prop_a09m310_e_300_x3y3z19t62")
    pion = late.add("Meson2pt", name="pion_late", ensemble="a09m310", stream="e", config=300, particle="pion",
                    x=3, y=3, z=19, t=62)
    late.link(pion, prop, "light")
    late.link(late.add("DerivedDataset", name="pion_late_avg", ensemble="a09m310", step="average",
                       inputs_key="late"), pion, "input")  # and what is made of it, in the same batch
    graph.write(store, late)
    assert {"pion_late", "pion_late_avg"} <= invalid_names(store)
    after = {(r["ensemble"], r["kind"]): r["invalid"] for r in status.status(store)}
    assert after[("a09m310", "Meson2pt")] == before.get(("a09m310", "Meson2pt"), 0) + 1
    assert after[("a09m310", "DerivedDataset")] == before.get(("a09m310", "DerivedDataset"), 0) + 1
    assert invalidate.invalidate(store, ACTION, "bad", "alice")["changed"] == 0  # nothing was missed
    invalidate.revalidate(store, ACTION, "fixed", "alice")
    assert not {"pion_late", "pion_late_avg"} & invalid_names(store)


def test_a_product_of_valid_inputs_stays_valid_beside_an_invalid_one(store, campaign) -> None:
    invalidate.invalidate(store, "prop_a09m310_e_300_x3y3z19t62", "bad", "alice")
    late = graph.GraphBatch()
    good = lineage.resolve(store, "prop_a09m310_e_300_x10y0z1t14")
    late.link(late.add("Meson2pt", name="pion_good", ensemble="a09m310", stream="e", config=300, particle="pion",
                       x=10, y=0, z=1, t=14), good, "light")
    graph.write(store, late)
    assert "pion_good" not in invalid_names(store)


def test_overlapping_invalidations_keep_what_the_other_still_covers(store, campaign) -> None:
    invalidate.invalidate(store, CFG, "corrupt configuration", "alice")
    under_cfg = {n["name"] for n in lineage.downstream(store, CFG, all_nodes=True)["nodes"]}
    invalidate.invalidate(store, ACTION, "wrong mass", "alice")
    back = invalidate.revalidate(store, ACTION, "mass fine", "bob")
    assert invalid_names(store) == under_cfg
    assert back["still_invalid"] == len(under_cfg & a09_products())
    invalidate.revalidate(store, CFG, "configuration fine", "bob")
    assert invalid_names(store) == set()


def test_revalidating_the_outer_one_first_works_too(store, campaign) -> None:
    invalidate.invalidate(store, ACTION, "wrong mass", "alice")
    invalidate.invalidate(store, CFG, "corrupt configuration", "alice")
    invalidate.revalidate(store, CFG, "configuration fine", "bob")
    assert invalid_names(store) == a09_products() | {ACTION}


def test_an_invalidation_below_another_outlives_the_outer_revalidation(store, campaign) -> None:
    prop = "prop_a09m310_e_300_x3y3z19t62"
    invalidate.invalidate(store, ACTION, "wrong mass", "alice")
    invalidate.invalidate(store, prop, "solver bug", "alice")  # already invalid: its own event still holds
    invalidate.revalidate(store, ACTION, "mass fine", "bob")
    assert invalid_names(store) == {n["name"] for n in lineage.downstream(store, prop, all_nodes=True)["nodes"]}


def test_revalidating_a_node_invalid_through_an_ancestor_names_the_ancestor(store, campaign) -> None:
    invalidate.invalidate(store, ACTION, "wrong mass", "alice")
    with pytest.raises(InputError, match=lineage.resolve(store, ACTION)):
        invalidate.revalidate(store, "prop_a09m310_e_300_x3y3z19t62", "?", "bob")


def test_revalidating_a_valid_node_is_refused(store, campaign) -> None:
    with pytest.raises(InputError, match="not invalidated"):
        invalidate.revalidate(store, ACTION, "?", "bob")
    assert store.run_text("MATCH (i:Invalidation) RETURN count(i) AS n")[0]["n"] == 0


def test_large_subtrees_are_written_in_batches(store, campaign) -> None:
    done = invalidate.invalidate(store, ACTION, "bad", "alice", batch=4)
    assert done["changed"] == len(a09_products()) + 1
    assert invalidate.revalidate(store, ACTION, "fine", "bob", batch=4)["restored"] == done["total"]


def test_an_empty_reason_is_refused(store, campaign) -> None:
    with pytest.raises(InputError, match="reason"):
        invalidate.invalidate(store, ACTION, "  ", "alice")


# -- the CLI ----------------------------------------------------------------------------------
def test_dry_run_shows_impact_and_writes_nothing(cli, store, campaign) -> None:
    result = cli("invalidate", ACTION, "--reason", "bad", "--dry-run", "--format", "json")
    impact = json.loads(result.output)
    assert impact["total"] == len(impact["uids"]) == len(a09_products()) + 1
    assert "Baryon3pt" in cli("invalidate", ACTION, "--reason", "bad", "--dry-run").output
    assert invalid_names(store) == set()


def test_unconfirmed_invalidation_writes_nothing(cli, store, campaign) -> None:
    result = cli("invalidate", ACTION, "--reason", "bad", input="n\n")
    assert result.exit_code == 1 and invalid_names(store) == set()


def test_confirmed_invalidation_and_revalidation(cli, store, campaign) -> None:
    result = cli("invalidate", ACTION, "--reason", "bad", "--by", "carol", input="y\n")
    assert result.exit_code == 0 and "invalidate event" in result.output
    assert invalid_names(store) == a09_products() | {ACTION}
    back = json.loads(cli("revalidate", ACTION, "--reason", "fine", "--format", "json").output)
    assert back["event"]["action"] == "revalidate" and back["restored"] == len(a09_products()) + 1


def test_invalidate_json_with_yes_is_one_document(cli, campaign) -> None:
    done = json.loads(cli("invalidate", ACTION, "--reason", "bad", "--yes", "--format", "json").output)
    assert done["event"]["by"] and done["impact"]["total"] == done["total"]


@pytest.mark.parametrize("args", [("invalidate", "nope", "--reason", "x", "--yes"),
                                  ("invalidate", ACTION, "--reason", "", "--yes"),
                                  ("revalidate", ACTION, "--reason", "x"),
                                  ("revalidate", "nope", "--reason", "x")])
def test_bad_input_gives_one_line_and_exit_1(cli, campaign, args) -> None:
    result = cli(*args)
    assert result.exit_code == 1 and result.output.startswith("Error: ") and result.output.count("\n") == 1


# -- Tally.invalid ----------------------------------------------------------------------------
def invalid_by_group(store) -> dict[tuple[str, str], int]:
    """Invalid entities per (ensemble, kind), counted by a scan."""
    rows = store.run_text("MATCH (n:Entity {valid: false}) "
                          "RETURN coalesce(n.ensemble, '') AS e, n.kind AS k, count(*) AS n")
    return {(r["e"], r["k"]): r["n"] for r in rows}


def tally_invalid(store) -> dict[tuple[str, str], int]:
    """Tally.invalid per (ensemble, kind), zeros left out."""
    rows = store.run_text("MATCH (t:Tally) WHERE t.invalid <> 0 RETURN t.ensemble AS e, t.kind AS k, t.invalid AS n")
    return {(r["e"], r["k"]): r["n"] for r in rows}


def test_tally_invalid_follows_overlapping_invalidations_and_revalidations(store, campaign) -> None:
    steps = [("inv", CFG), ("inv", ACTION), ("inv", CFG), ("rev", ACTION), ("inv", ACTION),
             ("rev", CFG), ("rev", ACTION)]
    for action, ident in steps:
        if action == "inv":
            invalidate.invalidate(store, ident, "bad", "alice", batch=5)  # several transactions each
        else:
            invalidate.revalidate(store, ident, "fine", "bob", batch=5)
        assert tally_invalid(store) == invalid_by_group(store), (action, ident)
    assert tally_invalid(store) == {}


def test_concurrent_invalidations_count_each_entity_once(store, campaign) -> None:
    """Two overlapping subtrees marked at the same time: every shared entity counted once."""
    from concurrent.futures import ThreadPoolExecutor

    for _ in range(3):
        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(lambda ident: invalidate.invalidate(store, ident, "bad", "alice", batch=3),
                                 (ACTION, CFG)))
        assert tally_invalid(store) == invalid_by_group(store)
        assert sum(d["changed"] for d in done) == sum(invalid_by_group(store).values())
        invalidate.revalidate(store, ACTION, "fine", "bob")
        invalidate.revalidate(store, CFG, "fine", "bob")
        assert tally_invalid(store) == {} and invalid_names(store) == set()


def test_a_node_shows_the_invalidations_covering_it(store, campaign) -> None:
    """Only the root is linked to the event; a descendant finds it through its lineage."""
    formfac = "formfac_a09m310_e_300_dt8_x3y3z19t62_A3"
    event = invalidate.invalidate(store, ACTION, "wrong mass", "alice")["event"]
    shown = lineage.details(store, formfac)["invalidations"]
    assert [(i["uid"], i["action"], i["active"]) for i in shown] == [(event["uid"], "invalidate", True)]
    assert lineage.details(store, formfac.replace("a09m310", "a12m310"))["invalidations"] == []
    invalidate.revalidate(store, ACTION, "fine", "bob")
    shown = lineage.details(store, formfac)["invalidations"]
    assert [(i["action"], i["active"]) for i in shown] == [("invalidate", False), ("revalidate", False)]
