"""Hostile and malformed input: every refusal is one line and a non-zero exit, the graph is
untouched, Cypher in values is just text, memory stays bounded.

Property-based (hypothesis) over ``latteprov find`` filters, ``latteprov ingest names`` file
names, ``latteprov record`` manifests and ``latteprov ingest h5`` files (built with hostile names,
types and a 2 MB attribute, truncated copies of the real file, noise), seeded with injection
payloads. An accepted input may
add to the graph (a weird but well-formed name is recorded as a name) but never change or remove
what was there. ``TRIED`` counts the inputs; the module prints the totals at its end.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from latteprov import graph, model, status, synth
from latteprov.store import Store

TRIED: Counter = Counter()
EXAMPLES = 50
MEMORY_LIMIT_MB = 400
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
# No shrinking: against a real database it can take many minutes; failures print as found.
fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def snapshot(store: Store) -> dict[str, object]:
    """Every node (labels, properties) by uid and every edge (endpoints, type, properties); not
    the locks, whose counters every write moves, nor the status tallies (checked against a scan
    by the guard instead)."""
    nodes = store.run_text("MATCH (n) WHERE NOT n:Lock AND NOT n:Tally "
                           "RETURN labels(n) AS labels, properties(n) AS props")
    edges = store.run_text("MATCH (a)-[r]->(b) RETURN a.uid AS a, b.uid AS b, type(r) AS t, properties(r) AS props")
    out: dict[str, object] = {}
    for row in nodes:
        key = row["props"].get("uid") or json.dumps(row, sort_keys=True, default=str)
        out[f"node {key}"] = (sorted(row["labels"]), {k: str(v) for k, v in row["props"].items()})
    out.update({f"edge {json.dumps(row, sort_keys=True, default=str)}": True for row in edges})
    return out


def only_added(before: dict[str, object], after: dict[str, object]) -> bool:
    """Whether ``after`` keeps every node and edge of ``before``: nodes may gain properties they
    lacked (recording again merges), never lose or change one."""
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            return False
        if old is not True and (new[0] != old[0] or any(new[1].get(k) != v for k, v in old[1].items())):
            return False
    return True


@pytest.fixture(scope="module", autouse=True)
def report_inputs_tried():
    """After the module: how many inputs each area saw (docs/reliability.md quotes it)."""
    yield
    print("\nhostile inputs tried: " + ", ".join(f"{area} {n}" for area, n in sorted(TRIED.items()))
          + f", total {sum(TRIED.values())}")


@pytest.fixture
def seeded(store: Store) -> Store:
    """A small campaign for hostile input to aim at."""
    for batch in islice(synth.campaign("S", 0), 3):
        graph.write(store, batch)
    return store


@pytest.fixture
def guard(seeded: Store):
    """Checks one CLI result: refused cleanly with the graph unchanged, or accepted additively.

    A refusal is one ``Error: ...`` line; commands that report per file (``ingest h5``) may put
    ``summary`` lines before their one error line."""
    state = {"before": snapshot(seeded)}

    def check(result, area: str, summary: int = 0) -> None:
        TRIED[area] += 1
        after = snapshot(seeded)
        assert "Traceback" not in result.output
        assert status.status(seeded) == status.scan(seeded), "the status tallies no longer match the graph"
        if result.exit_code in (0, 3):  # 3: written, with conflicts reported (recorded values kept)
            assert only_added(state["before"], after), "an accepted input changed or removed existing nodes"
            state["before"] = after
            return
        lines = result.output.strip().splitlines()
        errors = [line for line in lines if line.lower().startswith("error: ")]
        assert len(errors) == 1 and len(lines) <= 1 + summary, result.output
        assert after == state["before"], f"a refused input changed the graph: {errors[0]}"

    return check


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
    st.integers(100, 100_000).map(lambda depth: ("json", ("[" * depth + "]" * depth).encode())),  # deep nesting
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


def _write_h5(path: Path, tree: list[tuple[str | bytes, str, object]], attrs: dict[str, object]) -> None:
    """An HDF5 file of datasets ``(name, dtype, value)`` (names may be hostile or not UTF-8)."""
    import h5py
    import numpy as np

    with h5py.File(path, "w", libver="latest") as handle:  # 'latest': attributes may be large
        for name, dtype, value in tree:
            try:
                if dtype == "str":
                    handle.create_dataset(name, data=np.array([str(value)], dtype=h5py.string_dtype()))
                else:
                    handle.create_dataset(name, data=np.full((3, 4), value, dtype=dtype))
            except (ValueError, TypeError, KeyError):
                pass  # names h5py itself refuses ('.', '', clashes): nothing to test
        for key, value in attrs.items():
            handle.attrs[key] = value


h5_names = st.one_of(
    st.sampled_from(["a15m310/proton/px0py0pz0", "meta", "spec/proton_SS", "x" * 300]),
    argv_text.filter(lambda s: s and "/" not in s[:1]),
    st.binary(min_size=1, max_size=12).filter(lambda b: b"\0" not in b and b"/" not in b and b not in (b".",)),
)
h5_values = st.one_of(st.tuples(st.just("str"), hostile_text),
                      st.tuples(st.sampled_from(["f8", "i4", "c16", "bool"]), st.integers(-3, 3)))
h5_attrs = st.dictionaries(
    st.sampled_from(["meta", "ensemble", "latteprov", "units", "x'}) DETACH DELETE n //"]),
    st.one_of(hostile_text, st.integers(), st.just("m" * 2_000_000),  # a 2 MB attribute
              st.lists(hostile_text, max_size=3).map(json.dumps)),
    max_size=3)


@fuzz
@given(kind=st.sampled_from(["built", "truncated", "noise"]),
       tree=st.lists(st.tuples(h5_names, h5_values).map(lambda t: (t[0], *t[1])), max_size=4),
       attrs=h5_attrs, cut=st.floats(0.0, 0.99), noise=st.binary(max_size=2048))
def test_ingest_h5(cli, guard, shared_data: Path, tmp_path: Path, kind: str, tree: list, attrs: dict,
                   cut: float, noise: bytes) -> None:
    # a new path each time: ingesting a path again rightly updates its DataFile (size, checked_at)
    path = tmp_path / f"a15m310-hostile-{TRIED['HDF5 files']}.h5"
    if kind == "built":
        _write_h5(path, tree, attrs)
    elif kind == "truncated":
        data = shared_data.read_bytes()
        path.write_bytes(data[:int(len(data) * cut)])
    else:
        path.write_bytes(noise)
    guard(cli("ingest", "h5", "--", str(path)), "HDF5 files", summary=1)


YAML_BOMB = "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
    f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n" for i in range(8))


def peak_rss_mb(args: list[str], env: dict[str, str]) -> tuple[int, float, str]:
    """Run ``latteprov ARGS`` in its own process: exit code, peak resident memory (MB), output."""
    proc = subprocess.Popen([sys.executable, "-c", "from latteprov.cli import main; main()", *args],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024, out


def test_worst_inputs_run_in_bounded_memory(seeded, env: dict[str, str], tmp_path: Path) -> None:
    huge_attrs = tmp_path / "a15m310-huge.h5"
    _write_h5(huge_attrs, [("x" * 300, "f8", 1), ("a15m310/proton/px0py0pz0", "str", "y" * 100_000)],
              {"meta": "m" * 2_000_000, "latteprov": "[" * 50_000 + "]" * 50_000, "units": "u" * 2_000_000})
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(YAML_BOMB)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 1_000_000 + "]" * 1_000_000)
    names = tmp_path / "names.txt"
    names.write_text(("prop_" + "x" * 100_000 + "\n") * 20)
    cases = {
        "ingest h5 with 2 MB attributes": ["ingest", "h5", str(huge_attrs)],
        "record a YAML billion-laughs bomb": ["record", str(bomb)],
        "record a JSON nested a million deep": ["record", str(deep)],
        "ingest names of 100 kB each": ["ingest", "names", "--from-list", str(names)],
        "find with a 100 kB filter": ["find", "GaugeConfig", "name~" + "z" * 100_000],  # argv's limit: 128 kB
    }
    before = snapshot(seeded)
    for what, args in cases.items():
        code, peak, out = peak_rss_mb(args, env)
        TRIED["memory probes"] += 1
        assert "Traceback" not in out, f"{what}: {out[-1500:]}"
        assert peak < MEMORY_LIMIT_MB, f"{what}: peak {peak:.0f} MB"
        print(f"\n{what}: exit {code}, peak {peak:.0f} MB: {out.strip().splitlines()[-1][:120] if out.strip() else ''}")
    assert only_added(before, snapshot(seeded)), "a probe changed or removed existing nodes"
