"""``latteprov db backup`` / ``db restore``: the local server's offline dump round trip (record,
back up, destroy the data directory, restore, same counts and the same checksum of uids and
edges), the online archive round trip, and every refusal in one line with nothing changed.

The dump tests run a throwaway server of their own (the suite's shared server is never stopped).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange_support import campaign, fingerprint
from latteprov import backup
from latteprov.cli import main
from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store


def run(env: dict[str, str], *args: str):
    return CliRunner(env=env).invoke(main, [str(a) for a in args])


def one_line_error(result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.output.strip().count("\n") == 0, result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output


@pytest.fixture(scope="module")
def local(tmp_path_factory, env: dict[str, str]):
    """A throwaway local server (with authentication, as a group's is) holding a recorded
    campaign; yields (cli env, home, settings)."""
    home = tmp_path_factory.mktemp("backup-server") / "server"
    local_env = {**env, "LATTEPROV_DATA_DIR": str(home.parent)}
    local_env.pop("NEO4J_PASSWORD", None)
    info, _ = manager.start(home, load_settings(env).cache_dir, port=manager.free_port(), auth=True,
                            page_cache="64m", heap="512m")
    local_env.update(NEO4J_URI=info.uri, NEO4J_PASSWORD=(home / "password").read_text().strip())
    settings = load_settings(local_env)
    with Store(settings) as store:
        from latteprov import schema

        schema.install(store)
        campaign(store)
    yield local_env, home, settings
    manager.stop(home)


def graph_state(settings) -> tuple[dict, dict]:
    with Store(settings) as store:
        return backup.checksum(store), fingerprint(store)


@pytest.fixture(scope="module")
def good(local, tmp_path_factory) -> tuple[Path, tuple[dict, dict]]:
    """One dump of the local server, made through the CLI (the tests share it: a dump stops
    and starts the server); with the graph state it was made of."""
    env, home, settings = local
    before = graph_state(settings)
    directory = tmp_path_factory.mktemp("backups") / "good"
    made = run(env, "db", "backup", directory, "--data-dir", home)
    assert made.exit_code == 0, made.output
    assert manager.running(home) is not None  # started again after the dump
    assert graph_state(settings) == before
    return directory, before


def test_dump_round_trip_survives_a_destroyed_data_directory(local, good) -> None:
    env, home, settings = local
    directory, before = good
    assert before[0]["counts"]["nodes"] > 1000
    manifest = json.loads((directory / backup.MANIFEST).read_text())
    assert manifest["kind"] == "dump" and manifest["neo4j"] == manager.NEO4J_VERSION
    assert manifest["checksum"] == before[0]["checksum"]

    how = manager.start_settings(home)
    manager.stop(home)
    shutil.rmtree(home / "db")  # the disk is gone
    restored = run(env, "db", "restore", directory, "--data-dir", home)
    assert restored.exit_code == 0, restored.output
    manager.start(home, settings.cache_dir, port=how["port"], auth=True, page_cache="64m", heap="512m")
    assert graph_state(settings) == before


def test_restore_into_a_running_server_restarts_and_verifies(local, good) -> None:
    env, home, settings = local
    directory, before = good
    assert graph_state(settings) == before
    with Store(settings) as store:
        store.run_text("MATCH (c:Baryon3pt) WITH c LIMIT 5 DETACH DELETE c", write=True)
    assert graph_state(settings) != before
    restored = run(env, "db", "restore", directory, "--data-dir", home, "--force")
    assert restored.exit_code == 0, restored.output
    assert "checksum of uids and edges matches" in restored.output
    assert manager.running(home) is not None
    assert graph_state(settings) == before


def test_refusals_are_one_line_and_change_nothing(local, good, tmp_path: Path) -> None:
    env, home, settings = local
    good, _ = good
    before = graph_state(settings)
    pid = manager.running(home).pid

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    one_line_error(run(env, "db", "backup", busy, "--data-dir", home), "not empty")
    one_line_error(run(env, "db", "backup", busy, "--data-dir", home, "--force"), "not empty")
    assert (busy / "notes.txt").read_text() == "keep me"
    one_line_error(run(env, "db", "backup", good, "--data-dir", home), "not empty", "--force")
    one_line_error(run(env, "db", "backup", "/proc/latteprov-backup", "--data-dir", home), "not writable")
    (tmp_path / "afile").write_text("")
    as_file = run(env, "db", "backup", tmp_path / "afile", "--data-dir", home)
    assert as_file.exit_code == 2 and "is a file" in as_file.output  # click's usage error

    one_line_error(run(env, "db", "restore", good, "--data-dir", home), "holds a database", "--force")
    one_line_error(run(env, "db", "restore", busy, "--data-dir", home, "--force"), "no latteprov backup")
    other = tmp_path / "other-version"
    shutil.copytree(good, other)
    manifest = json.loads((other / backup.MANIFEST).read_text())
    (other / backup.MANIFEST).write_text(json.dumps({**manifest, "neo4j": "5.20.0"}))
    one_line_error(run(env, "db", "restore", other, "--data-dir", home, "--force"), "Neo4j 5.20.0",
                   manager.NEO4J_VERSION)
    truncated = tmp_path / "truncated"
    shutil.copytree(good, truncated)
    dump = truncated / backup.DUMP_FILE
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    one_line_error(run(env, "db", "restore", truncated, "--data-dir", home, "--force"), "does not match")
    one_line_error(run(env, "db", "restore", good, "--data-dir", home, "--online", "--force"), "--online")

    # nothing was stopped, nothing changed
    assert manager.running(home).pid == pid
    assert graph_state(settings) == before


def test_a_failed_load_puts_the_database_back(local, good, tmp_path: Path) -> None:
    env, home, settings = local
    good, _ = good
    before = graph_state(settings)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / backup.DUMP_FILE).write_bytes(b"not a neo4j dump at all" * 100)
    manifest = json.loads((good / backup.MANIFEST).read_text())
    data = broken / backup.DUMP_FILE
    manifest.update(bytes=data.stat().st_size, sha256=backup._sha256(data))
    (broken / backup.MANIFEST).write_text(json.dumps(manifest))
    failed = run(env, "db", "restore", broken, "--data-dir", home, "--force")
    one_line_error(failed, "neo4j-admin database load failed")
    assert manager.running(home) is not None
    assert graph_state(settings) == before


def test_online_round_trip_through_an_archive(store, env: dict[str, str], tmp_path: Path) -> None:
    campaign(store)
    before = backup.checksum(store), fingerprint(store, skip_labels=("Lock", "Tally"), skip_props=("created_at",))
    made = run(env, "db", "backup", tmp_path / "online", "--online")
    assert made.exit_code == 0, made.output
    manifest = json.loads((tmp_path / "online" / backup.MANIFEST).read_text())
    assert manifest["kind"] == "archive" and manifest["checksum"] == before[0]["checksum"]
    one_line_error(run(env, "db", "restore", tmp_path / "online", "--online"), "holds provenance", "--force")
    one_line_error(run(env, "db", "restore", tmp_path / "online"), "--online")
    store.clear()
    restored = run(env, "db", "restore", tmp_path / "online", "--online")
    assert restored.exit_code == 0, restored.output
    assert backup.checksum(store) == before[0]
    again = run(env, "db", "restore", tmp_path / "online", "--online", "--force")
    assert again.exit_code == 0 and "0 entities created" in again.output
    assert backup.checksum(store) == before[0]
