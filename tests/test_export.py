"""Export for neo4j-admin import: typed headers, every node and relationship once, ids that resolve."""
from __future__ import annotations

import csv
import shlex
from collections import Counter
from pathlib import Path

import pytest

from latteprov import export, synth
from latteprov.errors import InputError


def read(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture
def tier_s(store):
    synth.write(store, "S", 0)
    return store


def test_files_hold_every_node_and_relationship_of_the_graph(tier_s, tmp_path) -> None:
    result = export.neo4j_import(tier_s, tmp_path / "out")
    expected = synth.counts("S")
    assert (result.nodes, result.relationships) == (expected["nodes"], expected["edges"])
    ids: set[str] = set()
    per_label = Counter()
    for path in sorted((tmp_path / "out").glob("nodes-*.csv")):
        header, rows = read(path)
        assert header[0] == "uid:ID" and header[-1] == ":LABEL"
        assert len(rows) == result.files[path.name]
        ids |= {r[0] for r in rows}
        for r in rows:
            per_label.update(r[-1].split(";"))
    assert len(ids) == expected["nodes"]
    graph_labels = {r["label"]: r["n"] for r in tier_s.run_text(
        "MATCH (n) WHERE NOT n:Lock AND NOT n:Tally UNWIND labels(n) AS label RETURN label, count(*) AS n")}
    assert dict(per_label) == graph_labels
    types = Counter()
    for path in (tmp_path / "out").glob("relationships-*.csv"):
        header, rows = read(path)
        assert header == [":START_ID", ":END_ID", ":TYPE", "role:string"]
        assert all(r[0] in ids and r[1] in ids for r in rows)
        types.update(r[2] for r in rows)
    graph_types = {r["t"]: r["n"] for r in tier_s.run_text("MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS n")}
    assert dict(types) == graph_types


def test_headers_carry_the_model_types_and_values_read_back(tier_s, tmp_path) -> None:
    export.neo4j_import(tier_s, tmp_path)
    header, rows = read(tmp_path / "nodes-OneToAll.csv")
    for cell in ("config:long", "flow_time:double", "valid:boolean", "created_at:datetime", "name:string"):
        assert cell in header
    row = dict(zip(header, rows[0]))
    node = tier_s.run_text("MATCH (n:Entity {uid: $uid}) RETURN n.config AS config, n.L5 AS L5, n.valid AS valid",
                             uid=row["uid:ID"])[0]
    assert (int(row["config:long"]), int(row["L5:long"]), row["valid:boolean"]) == (node["config"], node["L5"], "true")
    assert "file_statuses:string[]" in header and row["file_statuses:string[]"] in ("on_disk", "on_tape", "missing")
    derived = read(tmp_path / "relationships-DERIVED_FROM.csv")[1]
    assert {r[3] for r in derived} >= {"gauge", "action", "source", "seqprop", "seqsource", "propagator", "light"}


def test_import_args_name_every_file(tier_s, tmp_path) -> None:
    result = export.neo4j_import(tier_s, tmp_path)
    args = [shlex.split(line)[0] for line in (tmp_path / "import.args").read_text().splitlines()]
    assert "--id-type=string" in args
    named = {Path(a.split("=", 1)[1]).name for a in args if a.startswith(("--nodes=", "--relationships="))}
    assert named == set(result.files)
    # single-valued options last: nothing after the file is taken for one more file
    assert not args[-1].startswith(("--nodes=", "--relationships="))


def test_a_non_empty_directory_is_refused(tier_s, tmp_path) -> None:
    (tmp_path / "something").write_text("x")
    with pytest.raises(InputError, match="not an empty directory"):
        export.neo4j_import(tier_s, tmp_path)


def test_cli_exports(cli, tier_s, tmp_path) -> None:
    result = cli("export", "--format", "neo4j-import", tmp_path / "dump")
    assert result.exit_code == 0, result.output
    assert f"{synth.counts('S')['nodes']} nodes" in result.output
    assert (tmp_path / "dump" / "relationships-USED.csv").exists()
    again = cli("export", tmp_path / "dump")
    assert again.exit_code == 1 and "not an empty directory" in again.output


def test_empty_text_is_quoted_and_a_missing_value_is_an_empty_cell(tier_s, tmp_path) -> None:
    """neo4j-admin reads "" as an empty text and an empty cell as no property: a data file's
    empty dataset must stay an empty text, a run without an end time must have none."""
    export.neo4j_import(tier_s, tmp_path)
    lines = (tmp_path / "nodes-DataFile.csv").read_text().splitlines()
    header = lines[0].split(",")
    dataset = header.index("dataset:string")
    first = next(csv.reader([lines[1]]))
    assert first[dataset] == "" and lines[1].split(",")[dataset] == '""'
    assert export.cell(None) == "" and export.cell("") == '""' and export.cell(["a", "b"]) == '"a;b"'
    with pytest.raises(InputError, match="array delimiter"):
        export.cell(["on;disk"], "X.file_statuses")
