"""Hostile and malformed input: every refusal is one line and a non-zero exit, the graph is
untouched, Cypher in values is just text, memory stays bounded.

Property-based (hypothesis) over ``latteprov find`` filters, ``latteprov ingest names`` file
names and ``latteprov record`` manifests, seeded with injection payloads. An accepted input may
add to the graph (a weird but well-formed name is recorded as a name) but never change or remove
what was there. ``TRIED`` counts the inputs; the session prints the totals.
"""
from __future__ import annotations

import json
import resource
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from latteprov import graph, model, synth
from latteprov.store import Store

TRIED: Counter = Counter()
EXAMPLES = 80
MEMORY_LIMIT_MB = 300
INJECTIONS = [
    "x'}) DETACH DELETE n //",
    "x\"}) DETACH DELETE n //",
    "x`) DETACH DELETE n //",
    "` DETACH DELETE n //",
    "}) MATCH (m) DETACH DELETE m RETURN 1 //",
    "' OR 1=1 //",
    "$uid",
    "${NEO4J_PASSWORD}",
    "\\' OR \\'1\\'=\\'1",
    "CALL dbms.shutdown()",
    "MATCH (n) DETACH DELETE n",
    "/* */ RETURN 1",
    "a09m310\u202e013m90a",  # right-to-left override
    "名前_テスト",
    "Ωμέγα-🙂",
    "\u0000nul",
    "line\nbreak",
    "%s%n%x",
    "../../../../etc/passwd",
    "x" * 5000,
]
hostile_text = st.one_of(st.sampled_from(INJECTIONS),
                         st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
argv_text = hostile_text.map(lambda s: s.replace("\x00", ""))  # argv cannot carry NUL
KINDS = sorted(cls.__name__ for cls in model.entity_classes())
PROPS = sorted({name for cls in model.entity_classes()
                for name in cls.defined_properties(aliases=False, rels=False)})
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def snapshot(store: Store) -> set[str]:
    """Every node (labels, properties) and edge (endpoints, type, properties) as a line; not the
    DAG lock, whose counter every write with derivations moves."""
    nodes = store.run_text("MATCH (n) WHERE NOT n:Lock RETURN labels(n) AS labels, properties(n) AS props")
    edges = store.run_text("MATCH (a)-[r]->(b) RETURN a.uid AS a, b.uid AS b, type(r) AS t, properties(r) AS props")
    return {json.dumps(row, sort_keys=True, default=str) for row in nodes + edges}


@pytest.fixture
def seeded(store: Store) -> Store:
    """A small campaign for hostile input to aim at."""
    for batch in islice(synth.campaign("S", 0), 3):
        graph.write(store, batch)
    return store


@pytest.fixture
def guard(seeded: Store):
    """Checks one CLI result: refused cleanly with the graph unchanged, or accepted additively."""
    state = {"before": snapshot(seeded)}
    memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def check(result, area: str) -> None:
        TRIED[area] += 1
        after = snapshot(seeded)
        assert "Traceback" not in result.output
        if result.exit_code == 0:
            assert state["before"] <= after, "an accepted input changed or removed existing nodes"
            state["before"] = after
            return
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
        assert after == state["before"], f"a refused input changed the graph: {lines[0]}"

    yield check
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory) / 1024
    assert grown_mb < MEMORY_LIMIT_MB, f"memory grew by {grown_mb:.0f} MB"


filters = st.one_of(
    argv_text,
    st.tuples(st.one_of(st.sampled_from(PROPS), argv_text), st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "~"]),
              argv_text).map("".join),
)


@fuzz
@given(kind=st.one_of(st.sampled_from(KINDS), argv_text), flt=st.lists(filters, min_size=1, max_size=3))
def test_find_filters(cli, guard, kind: str, flt: list[str]) -> None:
    guard(cli("find", "--format", "json", "--", kind, *flt), "find filters")


def test_find_with_cypher_in_a_value_is_a_failed_match(cli, guard) -> None:
    for payload in INJECTIONS[:11]:
        result = cli("find", "--format", "json", "--", "GaugeConfig", f"name={payload}")
        guard(result, "find filters")
        assert result.exit_code == 0 and json.loads(result.output) == []


callat_like = st.builds(
    lambda prefix, ens, field, ext: f"{prefix}_{ens}_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq{field}_x3y3z19t62{ext}",
    st.sampled_from(["prop", "spec", "seqprop", "formfac", "junk"]),
    st.one_of(st.just("a09m310"), argv_text), st.one_of(st.just("0.00951"), argv_text),
    st.sampled_from([".lime", ".h5", "", ".lime.tmp"]))


@fuzz
@given(names=st.lists(st.one_of(argv_text, callat_like), min_size=1, max_size=3))
def test_ingest_names(cli, guard, names: list[str]) -> None:
    guard(cli("ingest", "names", "--", *[n for n in names if n] or ["-"], input=""), "file names")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=20)
EXAMPLE_RUN = {
    "kind": "solve", "command": "lalibe", "job_id": "1", "host": "frontier", "user": "callat",
    "started_at": "2026-11-25T06:00:00Z", "ended_at": "2026-11-25T06:41:10Z",
    "outputs": [{"kind": "OneToAll", "name": "prop_probe",
                 "props": {"ensemble": "a09m310", "stream": "e", "config": 300, "flow_time": 1.0,
                           "smear_width": 3.5, "smear_steps": 45, "M5": 1.1, "L5": 6, "alpha5": 1.5,
                           "quark_mass": 0.00951, "x": 3, "y": 3, "z": 19, "t": 62},
                 "inputs": {"gauge": "l3296f211b630m0074m037m440e.300_wflow1.0"}}],
}


def _poison(value, payloads: list[str]):
    """The example run with string leaves replaced, in order, by the payloads (cycled)."""
    counter = iter(payloads * 50)
    def walk(v):
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return next(counter) if isinstance(v, str) else v
    return walk(value)


manifests = st.one_of(
    json_values.map(lambda v: ("json", json.dumps(v).encode())),
    json_values.map(lambda v: ("yaml", yaml.safe_dump(v, allow_unicode=True).encode())),
    st.lists(hostile_text, min_size=1, max_size=4).map(lambda p: ("json", json.dumps(_poison(EXAMPLE_RUN, p)).encode())),
    st.integers(0, len(json.dumps(EXAMPLE_RUN))).map(lambda n: ("json", json.dumps(EXAMPLE_RUN)[:n].encode())),
    st.binary(max_size=300).map(lambda b: ("json", b)),
    st.binary(max_size=300).map(lambda b: ("yaml", b)),
    st.lists(json_values, max_size=3).map(lambda rows: ("jsonl", "\n".join(json.dumps(r) for r in rows).encode())),
)


@fuzz
@given(manifest=manifests)
def test_record_manifests(cli, guard, tmp_path: Path, manifest: tuple[str, bytes]) -> None:
    ext, content = manifest
    path = tmp_path / f"run.{ext}"
    path.write_bytes(content)
    guard(cli("record", "--", str(path)), "manifests")


def test_zz_report_inputs_tried() -> None:
    """Runs last in this module: prints how many inputs each area saw."""
    print("\nhostile inputs tried: " + ", ".join(f"{area} {n}" for area, n in sorted(TRIED.items()))
          + f", total {sum(TRIED.values())}")
    assert sum(TRIED.values()) >= 3 * EXAMPLES
