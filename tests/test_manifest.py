"""``latteprov record MANIFEST``: JSON, YAML and JSON Lines manifests, the published schema,
one-line errors that write nothing, and the offline fall-back."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from latteprov import graph, spool
from latteprov.cli import main
from latteprov.manifest import SCHEMA
from latteprov.server.manager import free_port

DOCS = Path(__file__).resolve().parent.parent / "docs"
KEY = {"ensemble": "a09m310", "stream": "e", "config": 300, "flow_time": 1.0, "smear_width": 3.5, "smear_steps": 45}
PROP = {"kind": "OneToAll", "name": "prop", "props": {**KEY, "M5": 1.1, "L5": 6, "alpha5": 1.5,
                                                     "quark_mass": 0.00951, "x": 3, "y": 3, "z": 19, "t": 62}}


def counts(store) -> tuple[int, int]:
    row = store.run_text("MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS n, count(r) AS r")[0]
    return row["n"], row["r"]


def doc_examples() -> dict[str, list[str]]:
    """The fenced examples of docs/manifest.md by language."""
    found: dict[str, list[str]] = {}
    for lang, body in re.findall(r"```(json|yaml|jsonl)\n(.*?)```", (DOCS / "manifest.md").read_text(), re.S):
        found.setdefault(lang, []).append(body)
    return found


@pytest.fixture
def config(store) -> str:
    b = graph.GraphBatch()
    uid = b.add("GaugeConfig", name="l3296f211b630m0074m037m440e.300_wflow1.0", ensemble="a09m310",
                stream="e", config=300, flow_time=1.0)
    graph.write(store, b)
    return uid


def write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_the_published_schema_is_the_one_the_code_validates_with() -> None:
    published = json.loads((DOCS / "manifest.schema.json").read_text())
    assert published == SCHEMA, "docs/manifest.schema.json is stale: regenerate it from latteprov.manifest.SCHEMA"
    jsonschema.Draft202012Validator.check_schema(published)


def test_every_example_of_the_docs_records(cli, store, config, tmp_path) -> None:
    examples = doc_examples()
    assert set(examples) == {"json", "yaml", "jsonl"}
    for lang, bodies in examples.items():
        for i, body in enumerate(bodies):
            result = cli("record", write(tmp_path, f"example{i}.{lang}", body))
            assert result.exit_code == 0, result.output
    assert store.run_text("MATCH (r:Run) RETURN count(r) AS n")[0]["n"] == 5
    row = store.run_text("MATCH (p:OneToAll)-[:GENERATED_BY]->(r:Run), (p)-[:DERIVED_FROM {role: 'gauge'}]->(c), "
                         "(p)-[:STORED_AT]->(f) RETURN r.job_id AS job, c.uid AS c, f.size AS size")
    assert row == [{"job": "4711", "c": config, "size": 3623882000}]
    failed = store.run_text("MATCH (s:Baryon2pt)-[:GENERATED_BY]->(r:Run) RETURN s.state AS s, r.exit_state AS e")
    assert failed == [{"s": "failed", "e": "failed"}]


def test_a_json_run_records_inputs_by_name_and_spec_outputs_and_files(cli, store, config, tmp_path) -> None:
    lime = write(tmp_path, "prop.lime", "x" * 100)
    run = {"kind": "solve", "job_id": 12, "inputs": [config],
           "outputs": [{**PROP, "inputs": {"gauge": "l3296f211b630m0074m037m440e.300_wflow1.0",
                                           "source": {"kind": "Source", "name": "src", "props": {**KEY, "x": 3, "y": 3, "z": 19, "t": 62}}},
                        "files": [str(lime)]}]}
    result = cli("record", write(tmp_path, "run.json", run))
    assert result.exit_code == 0, result.output
    assert "recorded 1 run(s): 2 entities created, 0 already known, 6 edges" in result.output
    used = store.run_text("MATCH (:Run {job_id: '12'})-[:USED]->(x) RETURN x.name AS n ORDER BY n")
    assert [u["n"] for u in used] == ["l3296f211b630m0074m037m440e.300_wflow1.0", "src"]
    assert store.run_text("MATCH (:OneToAll)-[:STORED_AT]->(f) RETURN f.size AS s, f.status AS st") == \
        [{"s": 100, "st": "on_disk"}]


def test_recording_the_same_manifest_twice_leaves_one_run(cli, store, tmp_path) -> None:
    path = write(tmp_path, "run.json", {"kind": "solve", "started_at": "2026-11-25T06:00:00Z", "outputs": [PROP]})
    cli("record", path)
    before = counts(store)
    result = cli("record", path)
    assert "0 entities created, 1 already known" in result.output
    assert counts(store) == before


def test_json_lines_from_stdin_one_run_per_line(cli, store) -> None:
    lines = "\n".join(json.dumps({"kind": "tslice", "job_id": str(i), "outputs": [
        {"kind": "DerivedDataset", "name": f"t{i}", "props": {"step": "tslice", "inputs_key": str(i)}}]})
        for i in range(3))
    result = cli("record", "-", input=lines + "\n")
    assert result.exit_code == 0, result.output
    assert "recorded 3 run(s)" in result.output
    assert store.run_text("MATCH (d:DerivedDataset)-[:GENERATED_BY]->(:Run) RETURN count(d) AS n")[0]["n"] == 3


def test_a_started_only_run_keeps_its_outputs_running(cli, store, tmp_path) -> None:
    result = cli("record", write(tmp_path, "start.yaml", "kind: solve\nexit_state: running\noutputs:\n"
                                 f"  - {json.dumps(PROP)}\n"))
    assert result.exit_code == 0, result.output
    assert store.run_text("MATCH (p:OneToAll)-[:GENERATED_BY]->(r) RETURN p.state AS s, r.exit_state AS e") == \
        [{"s": "running", "e": "running"}]


BAD = [
    ("runs.jsonl", '{"kind": "a"}\n{"kind": "b"}\n{"kind": "c", "outputs": [{"kind": 42}]}\n',
     "runs.jsonl:3: $.outputs[0].kind: 42 is not of type 'string'"),
    ("run.yaml", "runs:\n  - kind: a\n  - kind: b\n    outputs:\n      - kind: OneToAll\n        props: {x: a}\n",
     "run.yaml: run 2 ($.runs[1]): $.outputs[0]: OneToAll.x: 'a' is not a valid integer"),
    ("run.json", '{"kind": "a",', "run.json: not valid JSON"),
    ("run.json", '{"command": "x"}', "run.json: $: 'kind' is a required property"),
    ("run.json", '{"kind": "a", "exit_state": "ok"}', "run.json: $.exit_state: 'ok' is not one of"),
    ("run.json", '{"kind": "a", "colour": "red"}', "Additional properties are not allowed ('colour'"),
    ("run.json", '{"kind": "a", "started_at": "yesterday"}', "$.started_at: 'yesterday' is not"),
    ("run.json", '{"kind": "a", "outputs": [{"kind": "Flux"}]}', "$.outputs[0]: unknown kind 'Flux'"),
    ("run.json", '{"kind": "a", "outputs": [{"kind": "OneToAll", "props": {"colour": 1}}]}', "OneToAll has no property 'colour'"),
    ("run.json", '{"kind": "a", "inputs": ["no-such-thing"]}', "no node with uid, name or location 'no-such-thing'"),
    ("run.json", '{"kind": "a", "outputs": [{"kind": "MobiusDW", "name": "m", "props": {"quark_mass": 0.1, "M5": 1.1, '
                 '"L5": 6, "b5": 1.5, "c5": 0.5, "alpha5": 1.0}}]}', "MobiusDW m: alpha5 = b5 + c5 is broken"),
    ("run.json", "[]", "the manifest holds no run"),
    ("run.json", "3", "a manifest is a run, a list of runs"),
]


@pytest.mark.parametrize("name,content,message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_a_bad_manifest_is_one_line_non_zero_and_writes_nothing(cli, store, tmp_path, name, content, message) -> None:
    good = write(tmp_path, "good.json", {"kind": "setup", "outputs": [PROP]})
    before = counts(store)
    result = cli("record", good, write(tmp_path, name, content))
    assert result.exit_code != 0
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert counts(store) == before
    assert not spool.pending(store.settings.spool_dir)


def test_a_rule_only_the_graph_can_check_still_leaves_nothing_written(cli, store, tmp_path) -> None:
    first = write(tmp_path, "ens.json", {"kind": "setup", "outputs": [{"kind": "Ensemble", "name": "a09m310",
                                                                      "props": {"tag": "a09m310", "nx": 32, "nt": 96}}]})
    assert cli("record", first).exit_code == 0
    before = counts(store)
    late = {**PROP, "props": {**PROP["props"], "t": 96}}
    result = cli("record", write(tmp_path, "two.json", [{"kind": "ok", "outputs": [{**PROP, "name": "fine"}]},
                                                         {"kind": "bad", "outputs": [late]}]))
    assert result.exit_code != 0 and "origin t=96 is outside the lattice 0 <= t < 96" in result.output
    assert counts(store) == before


def test_unknown_manifest_file_is_one_line(cli) -> None:
    result = cli("record", "/no/such/manifest.json")
    assert result.exit_code != 0 and "/no/such/manifest.json: cannot read" in result.output


def test_offline_flag_spools_and_sync_writes_it(cli, store, tmp_path) -> None:
    path = write(tmp_path, "run.json", [{"kind": "solve", "outputs": [PROP]}, {"kind": "late", "exit_state": "running"}])
    result = cli("record", "--offline", path)
    assert result.exit_code == 0
    assert re.fullmatch(r"offline: 2 run\(s\) recorded offline in \S+\.jsonl \(replay with 'latteprov sync'\)\n", result.output)
    assert counts(store) == (0, 0)
    result = cli("sync")
    assert result.exit_code == 0, result.output
    # A manifest of a run that has only started is spooled by a process that ends at once while
    # the job goes on: sync must not take the end of that file for the job's death.
    assert "failed: run" not in result.output
    states = store.run_text("MATCH (r:Run) RETURN r.run_kind AS k, r.exit_state AS s ORDER BY k")
    assert states == [{"k": "late", "s": "running"}, {"k": "solve", "s": "done"}]


def test_an_unreachable_database_spools_and_exits_zero(env, store, tmp_path) -> None:
    runner = CliRunner(env={**env, "NEO4J_URI": f"bolt://127.0.0.1:{free_port()}", "LATTEPROV_SPOOL": str(tmp_path / "sp")})
    result = runner.invoke(main, ["record", str(write(tmp_path, "run.json", {"kind": "solve", "outputs": [PROP]}))])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Neo4j cannot be reached at bolt://127.0.0.1:") and len(result.output.splitlines()) == 1
    [spooled] = spool.pending(tmp_path / "sp")
    assert [e.kind for e in spool.read_events(spooled)[0]] == ["recorded"]
