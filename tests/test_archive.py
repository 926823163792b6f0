"""Archives between databases: a product's lineage or impact leaves as one self-contained file
and comes back (into an emptied store, as into another database) as the same nodes, edges and
validity; a second import changes nothing; what differs is kept and reported; a bad archive
writes nothing and says what is wrong in one line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from exchange_support import campaign, fingerprint
from latteprov import invalidate, tally
from latteprov.exchange import archive, subgraph
from latteprov.store import Store


@pytest.fixture
def graph(store):
    return campaign(store)


def part(store: Store, entities: set[str]) -> dict:
    """The graph around ``entities`` as comparable text: their properties (creation time left
    out: each database stamps its own), their runs, files, events and every edge among them."""
    q = store.run_text
    nodes = q("MATCH (n:Entity) WHERE n.uid IN $u RETURN n.uid AS uid, properties(n) AS p", u=sorted(entities))
    runs = q("MATCH (n:Entity)-[:GENERATED_BY]->(r:Run) WHERE n.uid IN $u RETURN DISTINCT properties(r) AS p",
             u=sorted(entities))
    files = q("MATCH (n:Entity)-[:STORED_AT]->(f) WHERE n.uid IN $u RETURN DISTINCT properties(f) AS p",
              u=sorted(entities))
    events = q("MATCH (n:Entity)-[:INVALIDATED_BY]->(i) WHERE n.uid IN $u RETURN properties(i) AS p",
               u=sorted(entities))
    edges = q("MATCH (a)-[r]->(b) WHERE a.uid IN $u RETURN a.uid AS a, type(r) AS t, r.role AS role, b.uid AS b",
              u=sorted(entities))
    text = lambda rows: sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)  # noqa: E731
    # file_statuses is a multiset (one entry per file, in no particular order)
    return {"entities": text({k: sorted(v) if k == "file_statuses" else v for k, v in n["p"].items()
                              if k != "created_at"} for n in nodes),
            "runs": text(r["p"] for r in runs), "files": text(f["p"] for f in files),
            "events": text(e["p"] for e in events), "edges": text(edges)}


def export(cli, path: Path, ident: str, direction: str) -> Path:
    result = cli("export", "--format", "archive", ident, f"--{direction}", "-o", path)
    assert result.exit_code == 0, result.output
    return path


def entity_uids(path: Path) -> set[str]:
    return {r["uid"] for r in map(json.loads, path.read_text().splitlines()[1:]) if r["record"] == "entity"}


def tallies(store: Store) -> list[dict]:
    """The status counters, without the empty ones (a recount does not keep those)."""
    rows = store.run_text("MATCH (t:Tally) RETURN properties(t) AS p")
    return sorted((r["p"] for r in rows if r["p"].get("total")), key=lambda p: (p["ensemble"], p["kind"]))


def tallies_are_exact(store: Store) -> None:
    before = tallies(store)
    tally.recount(store)
    assert tallies(store) == before, "the import left the status counters inexact"


@pytest.mark.parametrize("which, direction", [("correlator", "upstream"), ("invalid_config", "downstream")])
def test_round_trip_into_an_empty_store_gives_the_same_part_of_the_graph(graph, store, cli, tmp_path, which,
                                                                        direction) -> None:
    path = export(cli, tmp_path / "a.jsonl", graph[which], direction)
    members = entity_uids(path)
    original = part(store, members)
    assert graph[which] in members and original["events"]
    store.clear()
    first = cli("import", path)
    assert first.exit_code == 0, first.output
    copy = part(store, members)
    for key in original:
        assert set(copy[key]) ^ set(original[key]) == set(), key
    tallies_are_exact(store)
    once = fingerprint(store)
    again = cli("import", path)
    assert again.exit_code == 0 and "0 entities created" in again.output
    assert fingerprint(store) == once


def test_an_archive_is_self_contained(graph, cli, tmp_path) -> None:
    path = export(cli, tmp_path / "a.jsonl", graph["config"], "downstream")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    header, body = records[0], records[1:]
    assert header["format"] == archive.FORMAT and header["version"] == archive.VERSION
    nodes = {r["uid"] for r in body if r["record"] != "edge"}
    edges = [r for r in body if r["record"] == "edge"]
    assert edges and all(e["from"] in nodes and e["to"] in nodes for e in edges)
    assert header["counts"]["edges"] == len(edges)


def test_invalid_products_arrive_invalid_and_counted(graph, store, cli, tmp_path) -> None:
    path = export(cli, tmp_path / "a.jsonl", graph["invalid_config"], "downstream")
    invalid = {r["uid"] for r in store.run_text("MATCH (n:Entity {valid: false}) RETURN n.uid AS uid")}
    assert invalid
    store.clear()
    result = cli("import", path)
    assert f"{len(invalid)} entities marked invalid" in result.output
    assert {r["uid"] for r in store.run_text("MATCH (n:Entity {valid: false}) RETURN n.uid AS uid")} == invalid
    assert store.run_text("MATCH (t:Tally) RETURN sum(t.invalid) AS n")[0]["n"] == len(invalid)


def test_a_value_recorded_otherwise_is_kept_and_reported(graph, store, cli, tmp_path) -> None:
    path = export(cli, tmp_path / "a.jsonl", graph["correlator"], "upstream")
    run = next(r for r in map(json.loads, path.read_text().splitlines()[1:]) if r["record"] == "run")
    store.run_text("MATCH (r:Run {uid: $u}) SET r.code_version = 'lalibe-9.9'", write=True, u=run["uid"])
    store.run_text("MATCH (f:DataFile) WHERE f.uid IN $u SET f.status = 'missing'", write=True,
                   u=[r["uid"] for r in map(json.loads, path.read_text().splitlines()[1:]) if r["record"] == "file"])
    result = cli("import", path)
    assert result.exit_code == 3
    conflicts = [line for line in result.output.splitlines() if line.startswith("conflict: ")]
    assert any("code_version recorded 'lalibe-9.9', given 'lalibe-2.4.1'" in line for line in conflicts)
    assert any("status recorded 'missing'" in line for line in conflicts)
    assert store.run_text("MATCH (r:Run {uid: $u}) RETURN r.code_version AS v", u=run["uid"])[0]["v"] == "lalibe-9.9"


def test_a_revalidation_from_elsewhere_does_not_revoke_our_invalidation(graph, store, cli, tmp_path) -> None:
    """The source invalidated and revalidated the configuration; this graph invalidated it too.
    A revalidation older than ours changes nothing; one after ours would revoke it (the latest
    event on a root decides), so it is not recorded, with a conflict line, and the subtree
    stays invalid."""
    path = export(cli, tmp_path / "a.jsonl", graph["config"], "downstream")
    events = [r for r in map(json.loads, path.read_text().splitlines()[1:]) if r["record"] == "invalidation"]
    assert [e["props"]["action"] for e in events] == ["invalidate", "revalidate"]
    store.clear()

    def without_events(records):
        records[:] = [r for r in records if r.get("record") != "invalidation"]
        records[0]["counts"]["invalidations"] = 0

    assert cli("import", rewrite(path, without_events)).exit_code == 0
    ours = invalidate.invalidate(store, graph["config"], "our own check", "tester")["event"]["uid"]
    older = cli("import", path)
    assert older.exit_code == 0 and "2 invalidation events recorded" in older.output

    def later(records):
        for r in records:
            if r.get("record") == "invalidation" and r["props"]["action"] == "revalidate":
                r["uid"] = "Invalidation:" + "f" * 20
                r["props"]["at"] = {"$datetime": "2999-01-01T00:00:00+00:00"}

    result = cli("import", rewrite(path, later))
    assert result.exit_code == 3 and "not recorded: this graph's invalidation" in result.output
    assert store.run_text("MATCH (n:Entity {uid: $u}) RETURN n.valid AS v", u=graph["config"])[0]["v"] is False
    assert ours in {r["uid"] for r in store.read("active_invalidations")}


def rewrite(path: Path, edit) -> Path:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    edit(records)
    out = path.with_name("edited.jsonl")
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    return out


def _newer(records):
    records[0]["version"] = archive.VERSION + 1


def _wrong_uid(records):
    entity = next(r for r in records[1:] if r["record"] == "entity" and "config" in r["props"])
    entity["props"]["config"] += 1000


def _outside_the_lattice(records):
    entity = next(r for r in records[1:] if r["record"] == "entity" and r["kind"] == "Source")
    entity["props"]["t"] = 96
    entity["uid"] = subgraph_uid(entity)


def subgraph_uid(entity: dict) -> str:
    from latteprov import rows
    return rows.entity(entity["kind"], **entity["props"])["uid"]


def _unknown_record(records):
    records.insert(3, {"record": "sample", "uid": "x"})


@pytest.mark.parametrize("edit, message", [
    (_newer, "archive version 2 is newer than this latteprov reads (1)"),
    (_wrong_uid, "is not what its natural key gives"),
    (_outside_the_lattice, "is outside the lattice"),
    (_unknown_record, "unknown record 'sample'"),
])
def test_a_bad_archive_writes_nothing_and_says_why_in_one_line(graph, store, cli, tmp_path, edit, message) -> None:
    path = rewrite(export(cli, tmp_path / "a.jsonl", graph["correlator"], "upstream"), edit)
    store.clear()
    before = fingerprint(store)
    result = cli("import", path)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.output
    assert fingerprint(store) == before


def test_a_broken_or_cut_line_is_refused_by_file_and_line(graph, store, cli, tmp_path) -> None:
    path = export(cli, tmp_path / "a.jsonl", graph["correlator"], "upstream")
    text = path.read_text().splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(text[:4]) + text[4][: len(text[4]) // 2] + "\n" + "".join(text[5:]))
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(text[:-3]))
    torn = tmp_path / "torn.jsonl"
    torn.write_text("".join(text)[:-1])
    store.clear()
    before = fingerprint(store)
    for bad, message in ((broken, f"{broken}:5: not a JSON line"), (cut, "the header announces"),
                         (torn, "cut short"), (tmp_path / "missing.jsonl", "cannot read")):
        result = cli("import", bad)
        assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
        assert message in result.output
    assert fingerprint(store) == before


def test_a_cycle_across_the_archive_and_the_graph_is_refused(graph, store, cli, tmp_path) -> None:
    path = export(cli, tmp_path / "a.jsonl", graph["correlator"], "upstream")
    config = next(r for r in map(json.loads, path.read_text().splitlines()[1:])
                  if r["record"] == "entity" and r["kind"] == "GaugeConfig")

    def loop(records):
        records.append({"record": "edge", "type": "DERIVED_FROM", "from": config["uid"], "to": graph["correlator"],
                        "role": "parent"})
        records[0]["counts"]["edges"] += 1

    bad = rewrite(path, loop)
    before = fingerprint(store)
    result = cli("import", bad)
    assert result.exit_code == 1 and "cycle" in result.output
    assert fingerprint(store) == before


def test_the_library_reads_what_it_writes(graph, store, tmp_path) -> None:
    sub = subgraph.select(store, graph["correlator"], "upstream")
    path = tmp_path / "lib.jsonl"
    with path.open("w") as out:
        counts = archive.write(sub, out)
    read = archive.read(path)
    assert counts == read.header["counts"]
    assert {r["uid"] for r in read.batch.entities} == set(sub.entities)
    assert {r["uid"] for r in read.batch.runs} == set(sub.runs)
