"""The neo4j-admin export loads as printed: the command ``latteprov export`` prints runs, with the
neo4j-admin of the fetched jars, into a throwaway store, and after ``latteprov init`` that store
holds the same graph (nodes, properties with their types, relationships, status tallies)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from exchange_support import campaign, fingerprint
from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store

CLI = [sys.executable, "-c", "from latteprov.cli import main; main()"]


@pytest.fixture
def neo4j_admin(tmp_path: Path, settings) -> tuple[dict, Path]:
    """A ``neo4j-admin`` on PATH that is the fetched jars' AdminTool (what Neo4j's own
    bin/neo4j-admin runs), with NEO4J_HOME a new directory; returns (env, home)."""
    lib = manager.ensure_jars(settings.cache_dir)
    bin_dir, home = tmp_path / "bin", tmp_path / "server"
    bin_dir.mkdir()
    script = bin_dir / "neo4j-admin"
    script.write_text(f'#!/bin/sh\nexec java -cp "{lib}/*" org.neo4j.cli.AdminTool "$@"\n')
    script.chmod(0o755)
    (home / "db").mkdir(parents=True)
    # The local server's DBMS home is <home>/db (latteprov/server/Launcher.java).
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "NEO4J_HOME": str(home / "db")}
    return env, home


def test_printed_command_loads_the_same_graph(store, cli, env, neo4j_admin, tmp_path) -> None:
    campaign(store)
    exported = cli("export", "--format", "neo4j-import", tmp_path / "dump")
    assert exported.exit_code == 0, exported.output
    command = next(line.split(": ", 1)[1] for line in exported.output.splitlines() if line.startswith("load with: "))
    admin_env, home = neo4j_admin
    loaded = subprocess.run(command, shell=True, env=admin_env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stdout[-2000:] + loaded.stderr[-2000:]
    assert "IMPORT DONE" in loaded.stdout
    info, _ = manager.start(home, load_settings(env).cache_dir, port=manager.free_port(), auth=False,
                            page_cache="64m", heap="512m")
    try:
        init = subprocess.run([*CLI, "init"], env={**os.environ, **env, "NEO4J_URI": info.uri},
                              capture_output=True, text=True, timeout=300)
        assert init.returncode == 0, init.stderr
        with Store(load_settings({**env, "NEO4J_URI": info.uri})) as loaded_store:
            copy = fingerprint(loaded_store)
        original = fingerprint(store)
        assert copy["labels"].get("Tally", 0) > 0 and copy["labels"]["Invalidation"] == 3
        assert copy == original
    finally:
        manager.stop(home)


def test_a_database_name_after_the_options_file_is_not_taken_for_a_file(store, cli, neo4j_admin, tmp_path) -> None:
    """The form older exports printed (``@DIR/import.args neo4j``) fails only if the options
    file ends in a list of files; it ends in single-valued options now."""
    campaign(store)
    cli("export", "--format", "neo4j-import", tmp_path / "dump")
    admin_env, _ = neo4j_admin
    loaded = subprocess.run(["neo4j-admin", "database", "import", "full", f"@{tmp_path / 'dump' / 'import.args'}",
                             "neo4j"], env=admin_env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stdout[-2000:] + loaded.stderr[-2000:]
