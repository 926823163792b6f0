"""The local Neo4j: start, persist across stop/start, refuse bad situations with one line."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from latteprov.cli import main
from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store


def run(env: dict[str, str], *args: str):
    return CliRunner(env=env).invoke(main, list(args))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    yield tmp_path / "server"
    manager.stop(tmp_path / "server")


def test_data_survives_stop_and_start(home: Path, env: dict[str, str]) -> None:
    port = manager.free_port()
    local = {**env, "LATTEPROV_DATA_DIR": str(home.parent)}
    local.pop("NEO4J_URI")
    first = run(local, "db", "start", "--data-dir", str(home), "--port", str(port))
    assert first.exit_code == 0, first.output
    assert f"bolt://127.0.0.1:{port}" in first.output
    assert stat.S_IMODE(os.stat(home / "password").st_mode) == 0o600
    settings = load_settings({**local, "NEO4J_URI": f"bolt://127.0.0.1:{port}",
                              "NEO4J_PASSWORD": (home / "password").read_text().strip()})
    with Store(settings) as store:
        store.run_text("CREATE (:Probe {value: 42})", write=True)
    again = run(local, "db", "start", "--data-dir", str(home), "--port", str(port))
    assert again.exit_code == 0 and "already running" in again.output
    assert run(local, "db", "stop", "--data-dir", str(home)).exit_code == 0
    assert manager.running(home) is None
    assert run(local, "db", "start", "--data-dir", str(home), "--port", str(port)).exit_code == 0
    with Store(settings) as store:
        assert store.run_text("MATCH (p:Probe) RETURN p.value AS v") == [{"v": 42}]


def test_wrong_password_is_one_line(home: Path, env: dict[str, str], settings) -> None:
    port = manager.free_port()
    manager.start(home, settings.cache_dir, port=port, auth=True)
    result = run({**env, "NEO4J_URI": f"bolt://127.0.0.1:{port}", "NEO4J_PASSWORD": "not-the-password"},
                 "db", "status")
    assert result.exit_code == 1
    assert "refused the credentials" in result.output
    assert "Traceback" not in result.output


def test_status_reports_version_and_counts(cli, store) -> None:
    store.run_text("CREATE (:Probe), (:Probe)-[:R]->(:Probe)", write=True)
    result = cli("db", "status")
    assert result.exit_code == 0
    assert f"Neo4j {manager.NEO4J_VERSION}" in result.output
    assert "3 nodes" in result.output and "1 relationships" in result.output


def test_status_fails_when_nothing_answers(env: dict[str, str]) -> None:
    result = run({**env, "NEO4J_URI": f"bolt://127.0.0.1:{manager.free_port()}"}, "db", "status")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "cannot reach Neo4j" in result.output


def test_start_on_a_taken_port_names_the_port(home: Path, env: dict[str, str], server_uri: str) -> None:
    taken = server_uri.rsplit(":", 1)[1]
    result = run(env, "db", "start", "--data-dir", str(home), "--port", taken)
    assert result.exit_code == 1
    assert f"port {taken}" in result.output and "already taken" in result.output


def test_old_java_is_refused(home: Path, env: dict[str, str], tmp_path: Path) -> None:
    fake = tmp_path / "jdk" / "bin"
    fake.mkdir(parents=True)
    (fake / "java").write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    (fake / "java").chmod(0o755)
    result = run({**env, "JAVA_HOME": str(tmp_path / "jdk")}, "db", "start", "--data-dir", str(home),
                 "--port", str(manager.free_port()))
    assert result.exit_code == 1
    assert "Java 11 found" in result.output


def test_missing_maven_is_refused_when_jars_are_not_cached(home: Path, env: dict[str, str], tmp_path: Path) -> None:
    result = run({**env, "LATTEPROV_CACHE_DIR": str(tmp_path / "empty-cache"), "PATH": "/nonexistent:" +
                  str(Path(os.path.realpath(os.popen("command -v java").read().strip())).parent)},
                 "db", "start", "--data-dir", str(home), "--port", str(manager.free_port()))
    assert result.exit_code == 1
    assert "mvn not found" in result.output


def test_jvm_crash_reports_the_log(home: Path, env: dict[str, str]) -> None:
    result = run(env, "db", "start", "--data-dir", str(home), "--port", str(manager.free_port()),
                 "--heap", "notasize")
    assert result.exit_code == 1
    assert "Neo4j exited with code" in result.output
    assert "Invalid maximum heap size" in result.output


def test_init_is_idempotent(cli) -> None:
    first = cli("init")
    second = cli("init")
    assert first.exit_code == 0 and second.exit_code == 0
    assert first.output == second.output
