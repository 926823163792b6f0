"""Consistency checks on insert: each rule refuses a bad batch whole, good batches pass."""
from __future__ import annotations

import pytest

from latteprov import graph
from latteprov.checks import CheckError
from latteprov.errors import InputError
from latteprov.graph import GraphBatch

COMMON = dict(ensemble="a09m310", stream="e", config=300, flow_time=1.0, smear_width=3.5, smear_steps=45)
ACTION = dict(M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951)


def count(store) -> int:
    return store.run_text("MATCH (n:Entity) RETURN count(n) AS n")[0]["n"]


def ensemble(b: GraphBatch, **extra) -> str:
    return b.add("Ensemble", name="a09m310", tag="a09m310", nx=32, nt=96,
                 ml=0.0074, ms=0.037, mc=0.440, **extra)


def prop(b: GraphBatch, x: int = 3, t: int = 62, **changes) -> str:
    values = {**COMMON, **ACTION, "x": x, "y": 3, "z": 19, "t": t, **changes}
    return b.add("OneToAll", name=f"prop_x{x}t{t}_{values['config']}_{values['smear_width']}", **values)


def refused(store, batch: GraphBatch, match: str) -> None:
    before = count(store)
    with pytest.raises(CheckError, match=match):
        graph.write(store, batch)
    assert count(store) == before


def test_a_consistent_batch_passes(store) -> None:
    b = GraphBatch()
    ens = ensemble(b)
    light = b.add("Hisq", name="hisq l", quark_mass=0.0074, quark_tag="light")
    b.link(ens, light, "sea_action")
    p = prop(b, x=31, t=95)
    spec = b.add("Baryon2pt", name="spec", particle="proton", spin="spin_up", parity=-1, spin_x2=1,
                 spin_z_x2=-1, x=31, y=3, z=19, t=95, snk="SS", **COMMON, **ACTION)
    b.link(spec, p, "light")
    b.add("MobiusDW", name="mdwf", quark_mass=0.00951, M5=1.1, L5=6, b5=1.25, c5=0.25, alpha5=1.5)
    assert graph.write(store, b).entities_created == 5


@pytest.mark.parametrize("axis,value", [("x", 32), ("x", -1), ("t", 96)])
def test_origin_outside_the_lattice_of_an_ensemble_in_the_batch_is_refused(store, axis, value) -> None:
    b = GraphBatch()
    ensemble(b)
    prop(b, **{axis: value})
    refused(store, b, f"origin {axis}={value} is outside the lattice .* a09m310")


def test_origin_is_checked_against_an_ensemble_already_in_the_graph(store) -> None:
    first = GraphBatch()
    ensemble(first)
    graph.write(store, first)
    b = GraphBatch()
    b.add("Source", name="src_bad", x=3, y=3, z=19, t=100, **COMMON)
    refused(store, b, "Source src_bad: origin t=100 .* 0 <= t < 96")


def test_without_a_known_extent_an_origin_is_checked_when_its_ensemble_arrives(store) -> None:
    b = GraphBatch()
    prop(b, t=-1, ensemble="a99m999")  # in no graph and no ensemble table: no coordinate is negative though
    refused(store, b, "origin t=-1 is outside the lattice t >= 0")
    b = GraphBatch()
    prop(b, t=500, ensemble="a99m999")
    graph.write(store, b)
    assert count(store) == 1
    late = GraphBatch()  # the ensemble, recorded after its product, has no room for t=500
    late.add("Ensemble", name="a99m999", tag="a99m999", nx=32, nt=96)
    refused(store, late, "Ensemble a99m999: OneToAll prop_x3t500_300_3.5, already recorded, has origin t=500 "
                         "outside the lattice 0 <= t < 96")
    fits = GraphBatch()
    fits.add("Ensemble", name="a99m999", tag="a99m999", nx=32, nt=512)
    graph.write(store, fits)
    assert count(store) == 2


def test_origin_is_checked_with_the_table_geometry_before_the_ensemble_is_recorded(store) -> None:
    b = GraphBatch()
    prop(b, t=95)  # a09m310 (32^3 x 96) is not in the graph, but CalLat's table knows it
    graph.write(store, b)
    b = GraphBatch()
    prop(b, t=96)
    refused(store, b, "origin t=96 is outside the lattice 0 <= t < 96 of ensemble a09m310")
    b = GraphBatch()
    prop(b, x=40, ensemble="a06m310L")  # 72^3 x 96
    graph.write(store, b)
    b = GraphBatch()
    prop(b, x=72, ensemble="a06m310L")
    refused(store, b, "origin x=72 is outside the lattice 0 <= x < 72 of ensemble a06m310L")


def test_parity_must_be_plus_or_minus_one(store) -> None:
    b = GraphBatch()
    b.add("Baryon2pt", name="spec_p0", particle="proton", spin="spin_up", parity=0, **COMMON, **ACTION)
    refused(store, b, "spec_p0: parity must be \\+1 or -1")


def test_spin_projection_cannot_exceed_the_spin(store) -> None:
    b = GraphBatch()
    b.add("Baryon2pt", name="spec_s", particle="proton", spin_x2=1, spin_z_x2=3, **COMMON, **ACTION)
    refused(store, b, "spec_s: \\|spin_z\\| <= spin")


def test_quark_tag_outside_the_allowed_set_is_refused_even_in_a_raw_row(store) -> None:
    b = GraphBatch()
    row = graph.entity("Hisq", name="hisq x", quark_mass=0.1, quark_tag="light")
    row["props"]["quark_tag"] = "bottom"  # a row built by hand (a spool file, another tool)
    b.entities.append(row)
    refused(store, b, "hisq x: quark_tag 'bottom' is not one of light, strange, charm")


def test_mobius_alpha5_must_be_b5_plus_c5(store) -> None:
    b = GraphBatch()
    b.add("MobiusDW", name="mdwf bad", quark_mass=0.00951, M5=1.1, L5=6, b5=1.25, c5=0.25, alpha5=2.0)
    refused(store, b, "mdwf bad: alpha5 = b5 \\+ c5")


def test_propagators_of_a_correlator_on_different_configurations_are_refused(store) -> None:
    b = GraphBatch()
    p1, p2 = prop(b), prop(b, config=301)
    spec = b.add("Meson2pt", name="pion", particle="pion", **COMMON, **ACTION)
    b.link(spec, p1, "light")
    b.link(spec, p2, "strange")
    refused(store, b, "Meson2pt pion: its propagators are not on the same configuration")


def test_propagators_of_a_correlator_with_different_smearing_are_refused_across_batches(store) -> None:
    first = GraphBatch()
    p1, p2 = prop(first), prop(first, smear_width=3.0)
    graph.write(store, first)
    b = GraphBatch()
    ff = b.add("Baryon3pt", name="formfac", particle="proton", current="A3", tsep=10, src_set="0-7", **COMMON, **ACTION)
    b.link(ff, p1, "propagator")
    b.link(ff, p2, "seqprop")
    refused(store, b, "Baryon3pt formfac: its propagators are not on the same smearing")


def test_sea_action_needs_the_ensembles_mass_for_its_quark_tag(store) -> None:
    b = GraphBatch()
    ens = ensemble(b)
    wrong = b.add("Hisq", name="hisq s", quark_mass=0.0074, quark_tag="strange")
    b.link(ens, wrong, "sea_action")
    refused(store, b, "Ensemble a09m310: strange sea action has quark_mass 0.0074, the ensemble's ms is 0.037")


def test_sea_action_must_be_hisq_with_a_tag(store) -> None:
    b = GraphBatch()
    ens = ensemble(b)
    untagged = b.add("Hisq", name="hisq ?", quark_mass=0.0074)
    b.link(ens, untagged, "sea_action")
    refused(store, b, "sea action hisq \\? needs a quark_tag")
    b = GraphBatch()
    ens = ensemble(b)
    mdwf = b.add("MobiusDW", name="mdwf", quark_mass=0.0074, M5=1.1, L5=6, b5=1.25, c5=0.25)
    b.link(ens, mdwf, "sea_action")
    refused(store, b, "sea action mdwf is a MobiusDW, not Hisq")


def test_invalid_state_and_exit_state_are_refused(store) -> None:
    b = GraphBatch()
    row = graph.entity("QuarkSmearing", name="s", radius=1.0, steps=1)
    row["state"] = "finished"
    b.entities.append(row)
    refused(store, b, "QuarkSmearing s: state 'finished'")
    b = GraphBatch()
    run = graph.run_row("Run:x")
    run["mutable"]["exit_state"] = "ok"
    b.runs.append(run)
    refused(store, b, "Run job Run:x: exit state 'ok'")


@pytest.mark.parametrize("value,message", [
    (float("nan"), "config=nan is not a finite number"), (2**64, "config=18446744073709551616 is beyond 64-bit integers"),
    ({"a": 1}, "config is a dict, which no property can hold"), ([1, float("inf")], "config=inf is not a finite number"),
])
def test_a_row_built_by_hand_with_a_value_no_property_can_hold_is_refused(store, value, message) -> None:
    b = GraphBatch()
    uid = b.add("GaugeConfig", name="cfg", ensemble="a09m310", stream="e", config=300)
    b.entities[0]["props"]["config"] = value  # past the row builder, as a hand-written spool line is
    refused(store, b, f"GaugeConfig cfg: {message}")
    assert uid


def test_edge_roles_follow_the_link_rules() -> None:
    with pytest.raises(InputError, match="a DERIVED_FROM edge needs a role"):
        graph.edge("a", "b")
    with pytest.raises(InputError, match="a USED edge has no role .* but 'gauge' was given"):
        graph.edge("a", "b", "gauge", type="USED")
    with pytest.raises(InputError, match="unknown edge type 'INVALIDATED_BY'"):
        graph.edge("a", "b", type="INVALIDATED_BY")  # written by invalidate only, never by a batch
