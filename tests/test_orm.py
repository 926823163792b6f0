"""Questions from Python through the model classes (latteprov.connect(), neomodel), and writes
through them held to the same checks as every other write."""
from __future__ import annotations

import pytest

import latteprov
from latteprov import graph, invalidate, model
from latteprov.checks import CheckError
from latteprov.errors import InputError
from latteprov.graph import GraphBatch
from latteprov.model import Baryon2pt, GaugeConfig, OneToAll, QuarkSmearing, Run

KEY = dict(ensemble="a09m310", stream="e", flow_time=1.0, smear_width=3.5, smear_steps=45)
ACTION = dict(M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951)


@pytest.fixture
def orm(store, env, monkeypatch):
    """A small graph, and the classes bound to it the way a user binds them."""
    b = GraphBatch()
    b.add("Ensemble", name="a09m310", tag="a09m310", nx=32, nt=96)
    cfg = b.add("GaugeConfig", name="cfg300", ensemble="a09m310", stream="e", config=300, flow_time=1.0)
    action = b.add("MobiusDW", name="mdwf", b5=1.25, c5=0.25, **ACTION)
    for x in (1, 5, 9):
        p = b.add("OneToAll", name=f"prop_x{x}", config=300, x=x, y=0, z=0, t=10, **KEY, **ACTION)
        b.link(p, cfg, "gauge")
        b.link(p, action, "action")
        spec = b.add("Baryon2pt", name=f"spec_x{x}", particle="proton", spin="spin_up", snk="SS", config=300,
                     x=x, y=0, z=0, t=10, **KEY, **ACTION)
        b.link(spec, p, "light")
    graph.write(store, b)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    connected = latteprov.connect()
    yield connected
    connected.close()
    monkeypatch.setattr(model, "save_hook", None)


def test_filters_and_inputs_by_role(orm) -> None:
    props = OneToAll.nodes.filter(ensemble="a09m310", x__gt=3).order_by("x")
    assert [p.name for p in props] == ["prop_x5", "prop_x9"]
    prop = props[0]
    assert prop.gaugeconfig.name == "cfg300" and prop.action.name == "mdwf"
    assert [d.name for d in prop.derivatives.all()] == ["spec_x5"]
    spec = Baryon2pt.nodes.get(name="spec_x5")
    assert spec.inputs("light")[0].name == "prop_x5"


def test_validity_is_visible_from_python(orm) -> None:
    invalidate.invalidate(orm, "cfg300", "bad plaquette", "test")
    assert {s.name for s in Baryon2pt.nodes.filter(valid=False)} == {"spec_x1", "spec_x5", "spec_x9"}


def test_saving_an_entity_goes_through_the_checks_and_merges(orm) -> None:
    smearing = QuarkSmearing(name="gauss", radius=3.5, steps=45).save()
    assert smearing.uid.startswith("QuarkSmearing:") and smearing.element_id is not None
    assert smearing.valid is True and smearing.state == "done"
    again = QuarkSmearing(name="gauss again", radius=3.5, steps=45).save()  # the same natural key
    assert again.uid == smearing.uid and len(QuarkSmearing.nodes.filter(radius=3.5)) == 1
    with pytest.raises(CheckError, match="origin t=96 is outside the lattice 0 <= t < 96"):
        OneToAll(name="bad", config=300, x=1, y=0, z=0, t=96, b5=1.25, c5=0.25, **KEY, **ACTION).save()
    with pytest.raises(InputError, match="beta: nan is not a finite number|not a finite number"):
        model.Ensemble(name="a99", tag="a99", beta=float("nan")).save()
    assert not OneToAll.nodes.filter(name="bad")


def test_relationships_runs_and_deletes_are_refused_through_the_classes(orm) -> None:
    prop = OneToAll.nodes.get(name="prop_x1")
    with pytest.raises(InputError, match="record through latteprov.declare"):
        prop.derived_from.connect(GaugeConfig.nodes.get(name="cfg300"), {"role": "gauge"})
    with pytest.raises(InputError, match="nothing is deleted"):
        prop.delete()
    with pytest.raises(InputError, match="Run.save"):
        Run(uid="Run:" + "0" * 20, run_kind="solve").save()
    assert len(OneToAll.nodes.all()) == 3


def test_save_before_connect_says_what_to_do(store, monkeypatch) -> None:
    monkeypatch.setattr(model, "save_hook", None)
    with pytest.raises(InputError, match=r"call latteprov.connect\(\) first"):
        QuarkSmearing(name="x", radius=1.0, steps=1).save()
