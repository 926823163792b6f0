"""``latteprov sync``: idempotent replay of offline spools, walltime-killed jobs reported failed,
conflicts reported not overwritten, busy and broken files left in place, and a sync killed with
SIGKILL at random points converging on the graph of one clean sync."""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path


from latteprov import graph, record, spool
from latteprov.graph import GraphBatch
from latteprov.spool import SpoolWriter
from latteprov.store import Store

KEY = dict(ensemble="a15m310", stream="a", flow_time=1.0)
CLI = [sys.executable, "-c", "from latteprov.cli import main; main()"]


def checksum(store) -> tuple[int, int, str]:
    """Node and edge counts and a digest over sorted uids (with state and validity) and edges."""
    nodes = store.run_text("MATCH (n) WHERE n.uid IS NOT NULL "
                           "RETURN n.uid AS u, coalesce(n.state, n.exit_state, n.status) AS s, n.valid AS v ORDER BY u")
    edges = store.run_text("MATCH (a)-[r]->(b) WHERE a.uid IS NOT NULL "
                           "RETURN a.uid AS a, type(r) AS t, r.role AS role, b.uid AS b ORDER BY a, t, role, b")
    digest = hashlib.sha256(json.dumps([nodes, edges], default=str).encode()).hexdigest()
    return len(nodes), len(edges), digest


def offline(settings, spool_dir: Path) -> Store:
    return Store(settings.with_(spool_dir=spool_dir))


def campaign_spool(settings, spool_dir: Path, configs: int = 6) -> None:
    """Offline runs of a small chain: setup, then per configuration a flow and two solves."""
    s = offline(settings, spool_dir)
    with record.run("setup", store=s, offline=True) as r:
        ens = r.output("Ensemble", name="a15m310", tag="a15m310", nx=16, nt=48)
        action = r.output("MobiusDW", name="mdwf", quark_mass=0.0158, M5=1.3, L5=12, b5=1.25, c5=0.25, alpha5=1.5)
    for cfg in range(configs):
        with record.run("flow", store=s, offline=True, job_id=f"flow{cfg}") as r:
            base = r.used(graph.entity("GaugeConfig", name=f"cfg{cfg}", ensemble="a15m310", stream="a", config=cfg))
            flowed = r.output("GaugeConfig", name=f"cfg{cfg}_wflow1.0", inputs={"parent": base},
                              ensemble="a15m310", stream="a", config=cfg, flow_time=1.0)
        for t in (0, 24):
            with record.run("solve", store=s, offline=True, job_id=f"solve{cfg}-{t}") as r:
                r.output("OneToAll", name=f"prop{cfg}_t{t}", inputs={"gauge": flowed, "action": action},
                         M5=1.3, L5=12, alpha5=1.5, quark_mass=0.0158, x=1, y=2, z=3, t=t, config=cfg, **KEY)
    assert ens


def killed_job(spool_dir: Path, env: dict) -> str:
    """A job recording offline, killed with SIGKILL in its payload (a wall-clock limit); its run uid."""
    script = ("import latteprov, sys, time\n"
              "with latteprov.run('solve', offline=True) as r:\n"
              "    r.output('QuarkSmearing', name='smear', radius=3.5, steps=45)\n"
              "    print(r.uid, flush=True)\n"
              "    time.sleep(120)\n")
    job = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, **env, "LATTEPROV_SPOOL": str(spool_dir)},
                           stdout=subprocess.PIPE, text=True)
    uid = job.stdout.readline().strip()
    job.send_signal(signal.SIGKILL)
    job.wait()
    return uid


def test_sync_replays_moves_to_done_and_a_second_sync_changes_nothing(cli, store, settings, tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    campaign_spool(settings, spool_dir, configs=2)
    files = spool.pending(spool_dir)
    result = cli("sync", spool_dir)
    assert result.exit_code == 0, result.output
    assert f"synced {len(files)} file(s)" in result.output
    assert not spool.pending(spool_dir) and len(list((spool_dir / "done").iterdir())) == len(files)
    first = checksum(store)
    assert first[0] == 2 + 2 * 2 + 2 * 2 + len(files)  # ensemble and action, configs, propagators, runs
    for done in (spool_dir / "done").iterdir():  # replay the very same files again
        shutil.copy(done, spool_dir / done.name)
    assert cli("sync", spool_dir).exit_code == 0
    assert checksum(store) == first


def test_a_job_killed_in_its_payload_is_reported_and_marked_failed(cli, store, env, tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    uid = killed_job(spool_dir, env)
    result = cli("sync", spool_dir)
    assert f"failed: run {uid} started but never finished" in result.output
    row = store.run_text("MATCH (s:QuarkSmearing)-[:GENERATED_BY]->(r:Run {uid: $uid}) "
                         "RETURN s.state AS s, r.exit_state AS e, r.ended_at IS NOT NULL AS ended", uid=uid)
    assert row == [{"s": "failed", "e": "failed", "ended": True}]


def test_a_file_still_being_written_is_left_alone(cli, store, settings, tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    writer = SpoolWriter(spool_dir, "live")
    batch = GraphBatch(runs=[graph.run_row("Run:" + "a" * 20, kind="solve")])
    writer.append("started", batch, "Run:" + "a" * 20)
    result = cli("sync", spool_dir)
    assert "skipped" in result.output and "a job is still writing it" in result.output
    assert spool.pending(spool_dir) == [writer.path]
    writer.close()
    assert "synced 1 file(s)" in cli("sync", spool_dir).output


def test_conflicting_properties_are_reported_and_not_overwritten(cli, store, tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    for nx in (16, 24):
        with SpoolWriter(spool_dir, f"ens{nx}") as writer:
            b = GraphBatch()
            b.add("Ensemble", name="a15m310", tag="a15m310", nx=nx, nt=48)
            writer.append("declared", b)
    result = cli("sync", spool_dir)
    assert result.exit_code == 3  # written, with a conflict
    assert "conflict: Ensemble a15m310: nx recorded 16, given 24 (the recorded value is kept)" in result.output
    assert store.run_text("MATCH (e:Ensemble) RETURN e.nx AS nx") == [{"nx": 16}]
    assert spool.pending(spool_dir) == []  # both files are in done/: a conflict is no failure


def test_a_torn_last_line_is_left_out_and_said(cli, store, tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    with SpoolWriter(spool_dir, "torn") as writer:
        b = GraphBatch()
        b.add("QuarkSmearing", name="s", radius=1.0, steps=1)
        writer.append("declared", b)
        os.write(writer._fd, b'{"event": "declared", "batch": {"entit')
    result = cli("sync", spool_dir)
    assert result.exit_code == 0 and "torn last line" in result.output
    assert store.run_text("MATCH (n:QuarkSmearing) RETURN n.name AS n") == [{"n": "s"}]


def test_a_file_that_cannot_be_replayed_is_moved_to_rejected_with_its_reason_and_the_others_sync(cli, store, tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    with SpoolWriter(spool_dir, "a-bad") as writer:
        b = GraphBatch(runs=[graph.run_row("Run:" + "b" * 20, kind="solve")])
        b.link("Run:" + "b" * 20, "GaugeConfig:" + "0" * 20, type="USED")
        writer.append("recorded", b, "Run:" + "b" * 20)
    bad = writer.path
    with SpoolWriter(spool_dir, "b-good") as writer:
        b = GraphBatch()
        b.add("QuarkSmearing", name="s", radius=1.0, steps=1)
        writer.append("declared", b)
    (spool_dir / "c-garbage.jsonl").write_text("this is not json\n")
    # A hand-edited file with a list no property can hold (mixed types): the checks let it pass,
    # the server refuses the statement.
    (spool_dir / "d-map.jsonl").write_text(json.dumps({"event": "declared", "run": None, "at": {"$datetime": "2026-11-25T06:00:00+00:00"},
        "batch": {"entities": [], "runs": [{"uid": "Run:" + "d" * 20, "props": {"uid": "Run:" + "d" * 20, "command": ["a", 1]},
                                            "mutable": {"exit_state": "done"}}], "files": [], "edges": []}}) + "\n")
    result = cli("sync", spool_dir)
    assert result.exit_code == 1
    rejected = spool_dir / spool.REJECTED
    assert f"rejected: {bad}:1: USED edge names unknown node(s): GaugeConfig:{'0' * 20}" in result.output
    assert "c-garbage.jsonl:1: not a spool event" in result.output
    assert "d-map.jsonl: Neo4j error" in result.output
    assert "3 spool file(s) could not be replayed" in result.output
    assert spool.pending(spool_dir) == []  # nothing blocks the next sync
    assert sorted(p.name for p in rejected.iterdir()) == sorted(
        [bad.name, bad.name + ".reason", "c-garbage.jsonl", "c-garbage.jsonl.reason", "d-map.jsonl", "d-map.jsonl.reason"])
    assert "USED edge names unknown node(s)" in (rejected / (bad.name + ".reason")).read_text()
    assert store.run_text("MATCH (n) WHERE n.uid IS NOT NULL RETURN n.name AS n") == [{"n": "s"}]

    # Once what it names exists, moving the file back retries it, and it syncs.
    b = GraphBatch()
    b.entities.append({**graph.entity("GaugeConfig", ensemble="a15m310", stream="a", config=1), "uid": "GaugeConfig:" + "0" * 20})
    b.entities[0]["props"]["uid"] = b.entities[0]["uid"]
    graph.write(store, b)
    os.rename(rejected / bad.name, spool_dir / bad.name)
    result = cli("sync", spool_dir)
    assert result.exit_code == 0, result.output
    assert store.run_text("MATCH (:Run)-[u:USED]->(:GaugeConfig) RETURN count(u) AS n") == [{"n": 1}]


def test_a_file_naming_what_a_later_file_records_is_replayed_on_the_second_pass(cli, store, tmp_path) -> None:
    spool_dir = tmp_path / "spool"
    with SpoolWriter(spool_dir, "a-uses") as writer:  # sorts first, but names a product of the next file
        run = "Run:" + "c" * 20
        b = GraphBatch(runs=[graph.run_row(run, kind="contract", exit_state="done")])
        b.link(run, "smear", type="USED")
        writer.append("recorded", b, run)
    with SpoolWriter(spool_dir, "b-makes") as writer:
        b = GraphBatch()
        b.add("QuarkSmearing", name="smear", radius=1.0, steps=1)
        writer.append("declared", b)
    result = cli("sync", spool_dir)
    assert result.exit_code == 0, result.output
    assert store.run_text("MATCH (:Run)-[u:USED]->(:QuarkSmearing) RETURN count(u) AS n") == [{"n": 1}]


def test_sync_of_a_missing_directory_is_one_line(cli) -> None:
    result = cli("sync", "/no/such/spool")
    assert result.exit_code != 0 and "spool directory /no/such/spool does not exist" in result.output


def test_sync_killed_at_random_points_converges_on_one_clean_sync(store, settings, env, tmp_path) -> None:
    source = tmp_path / "source"
    campaign_spool(settings, source, configs=6)
    killed_job(source, env)
    files = len(spool.pending(source))

    clean = tmp_path / "clean"
    shutil.copytree(source, clean)
    started = time.monotonic()
    subprocess.run([*CLI, "sync", str(clean)], env={**os.environ, **env}, check=True, capture_output=True)
    clean_seconds = time.monotonic() - started  # reported only: the kills follow progress, not the clock
    expected = checksum(store)
    store.clear()

    rng = random.Random(int(os.environ.get("LATTEPROV_KILL_SEED", "6")))
    killed = tmp_path / "killed"
    shutil.copytree(source, killed)
    progress = []
    while len(progress) < 8 and spool.pending(killed):
        done_before = files - len(spool.pending(killed))
        # kill once a random number of further files is done, a random moment later: while it
        # starts, inside a transaction, or between a commit and the file's move to done/
        target = done_before + rng.randint(1, max(1, (files - done_before) // 3))
        sync = subprocess.Popen([*CLI, "sync", str(killed)], env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while sync.poll() is None and files - len(spool.pending(killed)) < target:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.05))
        sync.send_signal(signal.SIGKILL)
        sync.wait()
        progress.append(files - len(spool.pending(killed)))
    final = subprocess.run([*CLI, "sync", str(killed)], env={**os.environ, **env}, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    print(f"\n{files} spool files, clean sync {clean_seconds:.1f}s, files done after each kill: {progress}")
    assert any(0 < done < files for done in progress), progress  # at least one kill landed mid-way
    assert checksum(store) == expected
    assert not spool.pending(killed) and len(list((killed / "done").iterdir())) == files
