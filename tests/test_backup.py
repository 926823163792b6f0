"""``latteprov db backup`` / ``db restore``: the local server's offline dump round trip (record,
back up, destroy the data directory, restore, same counts and the same checksum of uids and
edges), the online archive round trip, and every refusal in one line with nothing changed.

The dump tests run a throwaway server of their own (the suite's shared server is never stopped).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
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


def run_in(cwd: Path, env: dict[str, str], *args: str):
    """``run`` from the directory ``cwd`` (relative paths are resolved against it)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return run(env, *args)
    finally:
        os.chdir(old)


@contextlib.contextmanager
def writing(settings):
    """A writer creating a :BackupNoise node with a uid every 10 ms (ignoring the errors while
    the server is down) for the duration of the block; yields how many writes landed."""
    landed = [0]
    done = threading.Event()

    def write() -> None:
        with Store(settings, patience=0.5) as store:
            while not done.is_set():
                try:
                    store.run_text("CREATE (:BackupNoise {uid: randomUUID()})", write=True)
                    landed[0] += 1
                except Exception:  # noqa: BLE001 - the server is stopped for part of the time
                    pass
                time.sleep(0.01)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield landed
    finally:
        done.set()
        thread.join(60)


def drop_noise(settings) -> None:
    with Store(settings) as store:
        store.run_text("MATCH (n:BackupNoise) DELETE n", write=True)


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
    """One dump of the local server, made through the CLI into a relative directory while a
    writer writes (the tests share it: a dump stops and starts the server); with the graph
    state before the writer (its :BackupNoise nodes are dropped after the dump, and after every
    restore of it)."""
    env, home, settings = local
    before = graph_state(settings)
    parent = tmp_path_factory.mktemp("backups")
    with writing(settings) as landed:
        time.sleep(0.5)
        made = run_in(parent, env, "db", "backup", "good", "--data-dir", home)
        time.sleep(0.5)
    assert made.exit_code == 0, made.output
    assert landed[0] > 0
    assert manager.running(home) is not None  # started again after the dump
    assert not [p for p in parent.joinpath("good").iterdir() if p.name.startswith(".")]  # no staging left
    drop_noise(settings)
    assert graph_state(settings) == before
    return parent / "good", before


def test_dump_round_trip_survives_a_destroyed_data_directory(local, good) -> None:
    env, home, settings = local
    directory, before = good
    assert before[0]["counts"]["nodes"] > 1000
    manifest = json.loads((directory / backup.MANIFEST).read_text())
    assert manifest["kind"] == "dump" and manifest["neo4j"] == manager.NEO4J_VERSION

    how = manager.start_settings(home)
    manager.stop(home)
    shutil.rmtree(home / "db")  # the disk is gone
    restored = run_in(directory.parent, env, "db", "restore", directory.name, "--data-dir", home)
    assert restored.exit_code == 0, restored.output
    manager.start(home, settings.cache_dir, port=how["port"], auth=True, page_cache="64m", heap="512m")
    with Store(settings) as store:  # what was dumped, writer's nodes included, is what the manifest says
        assert backup.checksum(store) == {"counts": manifest["counts"], "checksum": manifest["checksum"]}
    drop_noise(settings)
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
    drop_noise(settings)
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

    # every field of the manifest that says what to load is checked, the kind against its file too
    for field, value, words in (("version", "1", ("not a backup format version",)),
                                ("version", True, ("not a backup format version",)),
                                ("version", 0, ("not a backup format version",)),
                                ("version", 99, ("newer",)),
                                ("file", backup.ARCHIVE_FILE, ("file of a 'dump' backup is neo4j.dump",)),
                                ("kind", "archive", ("file of a 'archive' backup",)),
                                ("kind", "tar", ("unknown backup kind",))):
        edited = tmp_path / f"edited-{field}-{value}"
        shutil.copytree(good, edited)
        if field == "file":
            shutil.copy(edited / backup.DUMP_FILE, edited / backup.ARCHIVE_FILE)
        (edited / backup.MANIFEST).write_text(json.dumps({**manifest, field: value}))
        for online in ((), ("--online",)):
            one_line_error(run(env, "db", "restore", edited, "--data-dir", home, "--force", *online), *words)

    # a database kept aside by a restore that was killed is never deleted: refused, named
    aside = home / backup.ASIDE / "databases"
    aside.mkdir(parents=True)
    (aside / "keep").write_text("the old database")
    one_line_error(run(env, "db", "restore", good, "--data-dir", home, "--force"), str(home / backup.ASIDE),
                   "move")
    assert (aside / "keep").read_text() == "the old database"
    shutil.rmtree(home / backup.ASIDE)

    # one backup or restore at a time per data directory, said before anything stops
    with (home / backup.LOCK_FILE).open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        one_line_error(run(env, "db", "backup", tmp_path / "second", "--data-dir", home), "another backup")
        one_line_error(run(env, "db", "restore", good, "--data-dir", home, "--force"), "another backup")
        fcntl.flock(held, fcntl.LOCK_UN)
    assert not (tmp_path / "second").exists()  # a directory a failed backup created is gone

    # a failed online backup leaves no directory it created; an empty one it was given stays
    down = {**env, "NEO4J_URI": f"bolt://127.0.0.1:{manager.free_port()}"}
    failed = run(down, "db", "backup", tmp_path / "nested" / "x1", "--online")
    assert failed.exit_code == 1 and "Traceback" not in failed.output, failed.output
    assert not (tmp_path / "nested" / "x1").exists()
    (tmp_path / "empty").mkdir()
    assert run(down, "db", "backup", tmp_path / "empty", "--online").exit_code == 1
    assert list((tmp_path / "empty").iterdir()) == []

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


def _child_running(pid: int, words: str) -> bool:
    """Whether a child process of ``pid`` has ``words`` in its command line."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and words in cmdline:
            return True
    return False


def _signal_during(env: dict[str, str], words: str, sig: int, *args: str) -> subprocess.CompletedProcess:
    """Run ``latteprov ARGS`` and send it ``sig`` once its neo4j-admin child (``words``) runs."""
    proc = subprocess.Popen([sys.executable, "-c", "from latteprov.cli import main; main()", *map(str, args)],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not _child_running(proc.pid, words):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=300)
    return subprocess.CompletedProcess(args, proc.returncode, out)


def test_a_signal_during_a_dump_or_a_load_puts_everything_back(local, good, tmp_path: Path) -> None:
    """SIGTERM (a service manager) or SIGINT (Ctrl-C) in the middle of neo4j-admin: the server
    runs again, the previous database is in place, no directory or staging is left behind."""
    env, home, settings = local
    good, _ = good
    before = graph_state(settings)
    env = {**env, "PYTHONPATH": os.pathsep.join(sys.path)}

    dumped = _signal_during(env, "AdminTool database dump", signal.SIGTERM,
                            "db", "backup", tmp_path / "cut", "--data-dir", home)
    assert dumped.returncode == 1 and "interrupted by SIGTERM" in dumped.stdout, dumped.stdout
    assert dumped.stdout.strip().count("\n") == 0 and "Traceback" not in dumped.stdout
    assert not (tmp_path / "cut").exists()
    assert manager.running(home) is not None

    loaded = _signal_during(env, "AdminTool database load", signal.SIGINT,
                            "db", "restore", good, "--data-dir", home, "--force")
    assert loaded.returncode == 1 and "interrupted by SIGINT" in loaded.stdout, loaded.stdout
    assert "previous database was put back" in loaded.stdout and "Traceback" not in loaded.stdout
    assert manager.running(home) is not None
    assert not (home / backup.ASIDE).exists()
    assert graph_state(settings) == before


def test_neo4j_admin_failures_name_their_cause(settings, tmp_path: Path) -> None:
    """neo4j-admin's own refusal (here: a target that is no directory) is in the one line, not
    its "Run with '--verbose'" hint."""
    (tmp_path / "db").mkdir()
    with pytest.raises(backup.BackupError) as caught:
        backup._admin(settings.cache_dir, tmp_path, "database", "dump", "neo4j", "--to-path=no/such/dir")
    message = str(caught.value)
    assert "no/such/dir is not an existing directory" in message and "--verbose" not in message, message
    assert "\n" not in message
    assert manager.admin_failure("Caused by: java.io.IOException: disk full\nfoo") == "disk full"


def test_an_online_backup_under_writes_matches_its_manifest_or_says_why(store, settings, env, tmp_path: Path) -> None:
    """The manifest of an --online backup taken while a writer writes describes the archive
    written (restored, the checksum is the manifest's), or the backup stops in one line."""
    campaign(store)
    with writing(settings):
        made = run(env, "db", "backup", tmp_path / "busy", "--online")
    if made.exit_code != 0:
        one_line_error(made, "changed while it was read")
        assert not (tmp_path / "busy").exists()
        return
    manifest = json.loads((tmp_path / "busy" / backup.MANIFEST).read_text())
    store.clear()
    assert run(env, "db", "restore", tmp_path / "busy", "--online").exit_code == 0
    assert backup.checksum(store)["checksum"] == manifest["checksum"]


def test_online_round_trip_through_an_archive(store, env: dict[str, str], tmp_path: Path) -> None:
    campaign(store)
    before = backup.checksum(store), fingerprint(store, skip_labels=("Lock", "Tally"), skip_props=("created_at",))
    made = run_in(tmp_path, env, "db", "backup", "online", "--online")
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


def test_putting_back_never_deletes_a_database_that_was_not_moved_aside(tmp_path: Path) -> None:
    """Whatever point a restore failed at, the database directories end as they were: moved
    ones come back, a load's leftovers go, and nothing is deleted while one is still in place."""
    home = tmp_path / "home"
    databases, transactions = backup._database_dirs(home)
    for path in (databases, transactions):
        path.mkdir(parents=True)
        (path / "data").write_text(path.parent.name)
    # failed before anything moved: untouched
    assert backup._put_back(home, [databases, transactions], []) == "the database was not touched"
    assert (databases / "data").read_text() == "databases"
    # failed after one of two moved: that one comes back, the other was never touched
    aside = home / backup.ASIDE
    aside.mkdir()
    databases.rename(aside / "databases")
    assert backup._put_back(home, [databases, transactions], [(databases, aside / "databases")]) \
        == "the previous database was put back"
    assert (databases / "data").read_text() == "databases" and (transactions / "data").read_text() == "transactions"
    assert not aside.exists()
    # failed during the load: its leftovers go, both come back
    aside.mkdir()
    kept = [(p, aside / p.parent.name) for p in (databases, transactions)]
    for path, moved in kept:
        path.rename(moved)
        path.mkdir()
        (path / "partial").write_text("half a load")
    assert backup._put_back(home, [databases, transactions], kept) == "the previous database was put back"
    assert sorted(p.name for p in databases.iterdir()) == ["data"] and not aside.exists()
