"""The fast name path gives what the path before it gave: same matches, same rows (uids,
properties, labels), same edges in the same order, on real-shaped CalLat names of every template
of the preset and on synthetic campaigns of every kind; the fast uid and coercion agree with the
generic ones on any value. The path before is frozen in ``tests/names_reference.py``."""
from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latteprov import identity, model, rows, synth
from latteprov.errors import InputError
from latteprov.ingest import conventions
from latteprov.ingest.builder import Builder
from latteprov.ingest.conventions import NameProblem

import names_reference as ref
from test_ingest_names import FRAGMENTS, PRESET_NAMES


@pytest.fixture(scope="module")
def preset() -> conventions.Conventions:
    return conventions.load()


def _names() -> list[str]:
    names = [name for name, _, _ in PRESET_NAMES.values()]
    names += list(synth.names("S", 0))                                   # every kind synth writes
    names += itertools.islice(synth.names("M", 1), 0, 60_000, 13)        # another seed, other ensembles
    names += itertools.islice(synth.names("L", 0), 0, 20_000, 5)
    return names


def _both(conv: conventions.Conventions, names: list[str]):
    """(fast rows, reference rows): each name matched, enriched and built by each path."""
    out = []
    for match, builder in ((conv.match, Builder(conv)), (lambda n: ref.match(conv, n), ref.Builder(conv))):
        kept = []
        for name in names:
            found = match(name)
            if found is None:
                kept.append(None)
                continue
            kept.append((found.spec.key, found.fields, found.raw))
            builder.build(found.spec, conv.enrich(found.fields), found.raw)
        builder.resolve_groups()
        batch = builder.take()
        out.append((kept, batch.entities, batch.edges))
    return out


def test_fast_path_builds_the_same_rows_and_edges(preset) -> None:
    names = _names()
    (fast_matches, fast_rows, fast_edges), (ref_matches, ref_rows, ref_edges) = _both(preset, names)
    assert fast_matches == ref_matches
    # every template of the preset and every kind synth writes was exercised
    assert {m[0] for m in fast_matches if m} == {k for k, s in preset.nodes.items() if s.template}
    assert len(fast_rows) > 10_000
    for a, b in zip(fast_rows, ref_rows):
        assert a == b
        assert [type(v) for v in a["props"].values()] == [type(v) for v in b["props"].values()]
    assert len(fast_rows) == len(ref_rows)
    assert fast_edges == ref_edges


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=12))
def test_fast_match_agrees_on_random_names(preset, pieces: list[str]) -> None:
    name = "".join(pieces)
    try:
        expected = ref.match(preset, name)
    except NameProblem as exc:
        with pytest.raises(NameProblem) as caught:
            preset.match(name)
        assert str(caught.value) == str(exc)
        return
    found = preset.match(name)
    assert (found and (found.spec.key, found.fields, found.raw)) == (expected and (expected.spec.key, expected.fields, expected.raw))


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
                    st.lists(st.integers(), max_size=2))


@settings(max_examples=500, deadline=None)
@given(st.text(min_size=1, max_size=8), st.dictionaries(st.text(max_size=6), SCALARS, max_size=8))
def test_fast_uid_is_the_generic_one(kind: str, key: dict) -> None:
    assert identity.make_uid(kind, key) == ref.make_uid(kind, key)


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except InputError as exc:
        return "error", str(exc)


VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                   st.sampled_from(["1", "1.0", "-0.0", "inf", "nan", "done", "planned", "true", "x", "1e400"]))
CLASSES = [c for c in model.all_classes()]


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(CLASSES), st.data())
def test_compiled_coercion_is_the_generic_one(cls, data) -> None:
    names = sorted(model.properties(cls)) + ["no_such_property"]
    props = data.draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=4))
    fast, slow = _outcome(model.coerce_props, cls, props), _outcome(ref.coerce_props, cls, props)
    if fast[0] == "ok" and slow[0] == "ok":
        assert fast[1].keys() == slow[1].keys()
        for k in fast[1]:
            a, b = fast[1][k], slow[1][k]
            assert type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))
            if isinstance(a, float):
                assert math.copysign(1, a) == math.copysign(1, b)
    else:
        assert fast == slow


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([c.__name__ for c in model.entity_classes() if c.natural_key]), st.data())
def test_entity_rows_are_the_generic_ones(kind, data) -> None:
    cls = model.kind_class(kind)
    names = sorted(set(model.properties(cls)) - rows.DERIVED_PROPS - {"name"})
    props = data.draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=6))
    fast = _outcome(lambda: rows.entity(kind, name="n", **props))
    slow = _outcome(lambda: ref.entity(kind, name="n", **props))
    if slow[0] == "ok":
        assert fast == slow
    else:
        assert fast[0] == "error"
