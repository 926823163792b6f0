"""Backups of the provenance graph, and restoring them.

Two kinds, each a directory holding its data file and a manifest ``latteprov-backup.json``
written last (a directory without it holds no finished backup):

- **dump** (the local server of ``latteprov db start``): Neo4j Community's offline
  ``neo4j-admin database dump`` of the ``neo4j`` database into ``neo4j.dump``; the server is
  stopped for it and started again as it was (same port, authentication, memory). Restoring
  is ``neo4j-admin database load`` the same way. Byte for byte what the store held, indexes
  included; only the Neo4j version that wrote it loads it (checked before anything is touched).
  Neo4j's own users (the ``system`` database) are not in it; the local password file stays.
- **archive** (any server, online, e.g. a remote one of ``NEO4J_URI``): the whole graph as a
  latteprov archive (:mod:`latteprov.exchange.archive`, JSON Lines) in ``provenance.jsonl``,
  read in one READ transaction while the server keeps answering. Restoring merges it into the
  configured database (idempotent, one transaction; the schema is installed first). It carries
  the provenance (entities, runs, files, invalidations, edges), not web users, campaigns or
  locks.

The manifest: ``{"format": "latteprov-backup", "version": 1, "kind": "dump" | "archive",
"neo4j": server version, "latteprov": version, "written_at": ISO 8601, "file": name,
"sha256": of the file, "bytes", "counts": {"nodes", "relationships"} or null, "checksum":
sha256 of the sorted uids and edges or null}``. Every refusal (directory not empty or not
writable, no backup, another Neo4j version, a file that does not match its manifest, a database
that would be replaced without ``force``) is a :class:`BackupError` raised before anything is
changed.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from latteprov import __version__
from latteprov.errors import LatteprovError
from latteprov.server import manager
from latteprov.store import Store

FORMAT = "latteprov-backup"
VERSION = 1
MANIFEST = "latteprov-backup.json"
DUMP_FILE = "neo4j.dump"
ARCHIVE_FILE = "provenance.jsonl"
DATABASE = "neo4j"
FILE_OF_KIND = {"dump": DUMP_FILE, "archive": ARCHIVE_FILE}
LOCK_FILE = ".latteprov-backup.lock"
ASIDE = ".before-restore"


class BackupError(LatteprovError):
    """A backup or restore was refused or failed; nothing was changed (the message says why)."""


@dataclass(frozen=True)
class BackupResult:
    """What a backup wrote or a restore loaded: the directory, its manifest, and for a restore
    whether the graph read back matches the manifest's checksum (None: not checked)."""

    directory: Path
    manifest: dict
    verified: bool | None = None


def checksum(store: Store) -> dict:
    """Node and relationship counts and a sha256 over the sorted uids and the sorted edges
    (endpoint uids, type, role) of ``store``'s graph: equal for two stores holding the same
    nodes and edges."""
    def read(tx) -> dict:
        return checksum_in(tx)

    return store.read_tx(read)


def checksum_in(tx) -> dict:
    """:func:`checksum` read in the transaction ``tx`` (so that a caller may read more in the
    same snapshot)."""
    from latteprov import queries

    uids = [r["uid"] for r in queries.run(tx, "backup_uids")]
    edges = [f"{r['a']} {r['type']} {r['role'] or ''} {r['b']}" for r in queries.run(tx, "backup_edges")]
    counts = queries.run(tx, "backup_counts").single()
    digest = hashlib.sha256()
    for line in sorted(uids) + ["--"] + sorted(edges):
        digest.update(line.encode() + b"\n")
    return {"counts": {"nodes": counts["nodes"], "relationships": counts["relationships"]},
            "checksum": digest.hexdigest()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Interrupted(BackupError):
    """SIGTERM or SIGINT arrived during a backup or restore (see :func:`interruptible`)."""


_signals = {"active": False, "fired": False, "shielded": 0, "pending": None}


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within it, the first SIGTERM or SIGINT raises :class:`Interrupted` where the command is
    (so ``finally`` blocks put things back and start the server again); later ones are ignored
    until the block ends, and one that arrives inside :func:`_shielded` (putting back, starting
    the server again) is raised when that is done. Main thread only (elsewhere it does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if _signals["fired"]:
            return
        if _signals["shielded"]:
            _signals["pending"] = signum
            return
        _signals["fired"] = True
        raise Interrupted(f"interrupted by {signal.Signals(signum).name}")

    _signals.update(active=True, fired=False, shielded=0, pending=None)
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _signals.update(active=False, fired=False, shielded=0, pending=None)


@contextlib.contextmanager
def _shielded() -> Iterator[None]:
    """Clean-up that a signal must not cut short: a signal arriving inside is raised after it
    (unless an exception is on its way already)."""
    _signals["shielded"] += 1
    failed = True
    try:
        yield
        failed = False
    finally:
        _signals["shielded"] -= 1
        pending = _signals["pending"]
        if pending is not None and not _signals["shielded"] and not _signals["fired"]:
            _signals.update(pending=None, fired=True)
            if not failed:
                raise Interrupted(f"interrupted by {signal.Signals(pending).name}")


@contextlib.contextmanager
def exclusive(home: Path) -> Iterator[None]:
    """Hold the lock file of ``home`` (the local server's data directory) for one backup or
    restore; BackupError at once when another one holds it."""
    home.mkdir(parents=True, exist_ok=True)
    with (home / LOCK_FILE).open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BackupError(f"another backup or restore of {home} is running (wait for it to end)") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def check_target(directory: Path, force: bool) -> bool:
    """Refuse a backup directory that is a file, cannot be written, or is not empty (with
    ``force`` one that holds an earlier latteprov backup and nothing else may be replaced);
    create it if missing. Returns whether it was created (so a failed backup removes it)."""
    if directory.exists() and not directory.is_dir():
        raise BackupError(f"{directory} is not a directory")
    if directory.is_dir():
        present = {p.name for p in directory.iterdir()}
        ours = {MANIFEST, DUMP_FILE, ARCHIVE_FILE}
        if present and not (force and MANIFEST in present and present <= ours):
            hint = (" (pass --force to replace the backup in it)" if MANIFEST in present and present <= ours
                    else "; give a new or empty directory")
            raise BackupError(f"{directory} is not empty{hint}")
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=directory, prefix=".latteprov-probe-")
        probe.close()
    except OSError as exc:
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        raise BackupError(f"{directory} is not writable: {exc.strerror or exc}") from None
    return created


@contextlib.contextmanager
def _target(directory: Path, force: bool) -> Iterator[Path]:
    """The checked backup ``directory`` with a staging directory in it (yielded); on any failure
    the staging directory goes, and so does ``directory`` if it was created here."""
    created = check_target(directory, force)
    staging = Path(tempfile.mkdtemp(prefix=".latteprov-backup-", dir=directory))
    ok = False
    try:
        yield staging
        ok = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created and not ok:
            shutil.rmtree(directory, ignore_errors=True)


def _finish(directory: Path, staged: Path, manifest: dict) -> None:
    """Move the staged data file into ``directory`` and write the manifest last."""
    for name in (MANIFEST, DUMP_FILE, ARCHIVE_FILE):
        (directory / name).unlink(missing_ok=True)
    staged.replace(directory / manifest["file"])
    tmp = directory / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(directory / MANIFEST)


def read_manifest(directory: Path) -> dict:
    """The checked manifest of the backup in ``directory``; BackupError when there is none,
    it is not ours, its kind and data file do not go together, or its data file is missing or
    differs from what was written."""
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{directory} holds no latteprov backup (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a latteprov backup manifest")
    version = manifest.get("version")
    if type(version) is not int or version < 1:
        raise BackupError(f"{path}: {version!r} is not a backup format version (a whole number from 1)")
    if version > VERSION:
        raise BackupError(f"{path}: backup format version {version} is newer than this "
                          f"latteprov reads ({VERSION}); upgrade latteprov")
    kind = manifest.get("kind")
    if kind not in FILE_OF_KIND:
        raise BackupError(f"{path}: unknown backup kind {kind!r}")
    if manifest.get("file") != FILE_OF_KIND[kind]:
        raise BackupError(f"{path}: the file of a {kind!r} backup is {FILE_OF_KIND[kind]}, "
                          f"not {manifest.get('file')!r}")
    data = directory / manifest["file"]
    if not data.is_file():
        raise BackupError(f"{directory}: {manifest['file']} is missing")
    if data.stat().st_size != manifest.get("bytes") or _sha256(data) != manifest.get("sha256"):
        raise BackupError(f"{data} does not match its manifest (truncated or changed since the backup)")
    return manifest


def _manifest(kind: str, file: Path, neo4j_version: str, state: dict | None) -> dict:
    return {"format": FORMAT, "version": VERSION, "kind": kind, "neo4j": neo4j_version,
            "latteprov": __version__, "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "file": DUMP_FILE if kind == "dump" else ARCHIVE_FILE, "sha256": _sha256(file),
            "bytes": file.stat().st_size, "counts": state["counts"] if state else None,
            "checksum": state["checksum"] if state else None}


# -- the local server: offline dump and load ------------------------------------------------


def _database_dirs(home: Path) -> list[Path]:
    data = home / "db" / "data"
    return [data / "databases" / DATABASE, data / "transactions" / DATABASE]


def _admin(cache_dir: Path, home: Path, *args: str) -> None:
    command = [*manager.admin_command(cache_dir, *args), "--verbose"]
    env = {**os.environ, "NEO4J_HOME": str(home / "db")}
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=home / "db")
    except OSError as exc:
        raise BackupError(f"cannot run neo4j-admin ({command[0]}): {exc.strerror or exc}") from None
    if result.returncode != 0:
        reason = manager.admin_failure(result.stdout + "\n" + result.stderr)
        raise BackupError(f"neo4j-admin {' '.join(args[:2])} failed ({result.returncode}): {reason[:300]}")


def _local_store(home: Path, port: int, auth: bool) -> Store:
    from latteprov.config import load_settings

    env = {**os.environ, "NEO4J_URI": f"bolt://127.0.0.1:{port}"}
    if auth and (home / "password").is_file():
        env.update(NEO4J_USER="neo4j", NEO4J_PASSWORD=(home / "password").read_text().strip())
    else:
        env.pop("NEO4J_PASSWORD", None)
    return Store(load_settings(env))


def _restart(home: Path, cache_dir: Path, how: dict | None) -> None:
    """Start the server of ``home`` as ``how`` says (after an offline step), stopping first one
    that runs another way (the private port of :func:`_dumped_checksum`); None: leave it stopped."""
    if how is None:
        return
    with _shielded():
        now = manager.start_settings(home)
        if now is not None and now["port"] != how["port"]:
            manager.stop(home)
        manager.start(home, cache_dir, port=how["port"], auth=how["auth"], page_cache=how["page_cache"],
                      heap=how["heap"])


def _dumped_checksum(home: Path, cache_dir: Path, how: dict) -> dict:
    """The checksum of the stopped database of ``home``: started on a free private port that no
    client knows (so nothing writes between the dump and the count), read, stopped again."""
    port = manager.free_port()
    manager.start(home, cache_dir, port=port, auth=how["auth"], page_cache=how["page_cache"], heap=how["heap"])
    try:
        with _local_store(home, port, how["auth"]) as store:
            return checksum(store)
    finally:
        manager.stop(home)


def backup_local(home: Path, cache_dir: Path, directory: Path, force: bool = False) -> BackupResult:
    """Dump the local server's database (``home``, as ``latteprov db start --data-dir``) into
    ``directory``: stop the server if it runs, ``neo4j-admin database dump``, count and
    checksum what was dumped (the stopped store started on a private port), start the server
    again as it was. BackupError when the directory is refused, another backup or restore of
    ``home`` runs, or the dump fails; whatever fails or interrupts it (:func:`interruptible`),
    the server is started again and a directory created here is removed."""
    home = home.expanduser().resolve()
    directory = directory.expanduser().resolve()
    if not _database_dirs(home)[0].is_dir():
        raise BackupError(f"no local database in {home} (a server of NEO4J_URI elsewhere is backed up with --online)")
    with exclusive(home), _target(directory, force) as staging:
        how = manager.start_settings(home)
        state = None
        try:
            manager.stop(home)
            _admin(cache_dir, home, "database", "dump", DATABASE, f"--to-path={staging}")
            if how is not None:
                state = _dumped_checksum(home, cache_dir, how)
        finally:
            _restart(home, cache_dir, how)
        dump = staging / f"{DATABASE}.dump"
        if not dump.is_file():
            raise BackupError(f"neo4j-admin wrote no {dump.name} into {staging}")
        manifest = _manifest("dump", dump, manager.NEO4J_VERSION, state)
        _finish(directory, dump, manifest)
    return BackupResult(directory, manifest)


def restore_local(home: Path, cache_dir: Path, directory: Path, force: bool = False) -> BackupResult:
    """Load the dump backup in ``directory`` into the local server's database (``home``),
    replacing it: refused without ``force`` when a database is there, for a dump of another
    Neo4j version or one that does not match its manifest, while another backup or restore of
    ``home`` runs, and while ``home`` holds a database kept aside by an earlier restore that was
    killed (it is never deleted; the message says how to put it back). The server is stopped
    for the load and started again if it ran; the database it had is kept aside in
    ``home/.before-restore`` until the load succeeds and put back whatever fails or interrupts
    it. The result says whether the checksum read back matches the manifest's (when the server
    runs afterwards and the backup has one)."""
    home = home.expanduser().resolve()
    directory = directory.expanduser().resolve()
    manifest = read_manifest(directory)
    if manifest["kind"] != "dump":
        raise BackupError(f"{directory} holds an online (archive) backup: restore it with --online")
    if manifest.get("neo4j") != manager.NEO4J_VERSION:
        raise BackupError(f"{directory} was dumped by Neo4j {manifest.get('neo4j')}; this server is Neo4j "
                          f"{manager.NEO4J_VERSION} (load it with that version, or move data between "
                          "versions with an --online backup)")
    with exclusive(home):
        aside = home / ASIDE
        if aside.exists() and any(aside.iterdir()):
            databases, transactions = _database_dirs(home)
            raise BackupError(
                f"{aside} holds the database an interrupted restore kept aside; nothing was changed: "
                f"stop the server and move {aside}/databases back to {databases} and {aside}/transactions "
                f"to {transactions} (or move {aside} away to give it up), then restore again")
        existing = [d for d in _database_dirs(home) if d.exists()]
        if existing and not force:
            raise BackupError(f"{home} holds a database: pass --force to replace it with the backup")
        how = manager.start_settings(home)
        (home / "db").mkdir(parents=True, exist_ok=True)
        kept: list[tuple[Path, Path]] = []
        try:
            manager.stop(home)
            for path in existing:
                aside.mkdir(parents=True, exist_ok=True)
                target = aside / path.parent.name
                path.rename(target)
                kept.append((path, target))
            _admin(cache_dir, home, "database", "load", DATABASE, f"--from-path={directory}",
                   "--overwrite-destination=true")
        except BaseException as exc:
            with _shielded():
                put_back = _put_back(home, existing, kept)
            reason = str(exc) if isinstance(exc, LatteprovError) else f"{type(exc).__name__}: {exc}"
            raise BackupError(f"{reason}; {put_back}") from None
        else:
            with _shielded():  # the load succeeded: a signal now must not report a failure half-way
                shutil.rmtree(aside, ignore_errors=True)
        finally:
            _restart(home, cache_dir, how)
    verified = None
    if how is not None and manifest.get("checksum"):
        with _local_store(home, how["port"], how["auth"]) as store:
            verified = checksum(store)["checksum"] == manifest["checksum"]
    return BackupResult(directory, manifest, verified)


def _put_back(home: Path, existing: list[Path], kept: list[tuple[Path, Path]]) -> str:
    """Move the database directories kept aside (``kept``: (place, aside)) back in place,
    removing what a failed load left once every one of ``existing`` was moved aside; says what
    happened, for the error line."""
    try:
        if len(kept) == len(existing):  # the load may have begun: what is there is not the database
            for path in _database_dirs(home):
                shutil.rmtree(path, ignore_errors=True)
        if not kept:
            return "the database was not touched" if existing else "no database was there before"
        for path, moved in kept:
            moved.rename(path)
        shutil.rmtree(home / ASIDE, ignore_errors=True)
    except OSError as exc:
        return f"the previous database could not be put back ({exc.strerror or exc}): it is kept in {home / ASIDE}"
    return "the previous database was put back"


# -- any server, online: the archive --------------------------------------------------------


ONLINE_ATTEMPTS = 3


def backup_online(store: Store, directory: Path, force: bool = False) -> BackupResult:
    """Write the whole graph of ``store`` as an archive into ``directory`` while the server
    keeps serving (refusals as :func:`check_target`). The counts and checksum of the manifest
    are read before and after the archive; when writes changed the graph in between, the
    archive is read again (up to ``ONLINE_ATTEMPTS`` times, then BackupError), so the manifest
    describes the archive written. A directory created here is removed on failure."""
    from latteprov.exchange import archive, subgraph

    directory = directory.expanduser().resolve()
    with _target(directory, force) as staging:
        staged = staging / ARCHIVE_FILE
        for _ in range(ONLINE_ATTEMPTS):
            state = checksum(store)
            version = store.server_info()["version"]
            sub = subgraph.select(store)
            if checksum(store) == state:
                break
        else:
            raise BackupError(f"the graph of {store.settings.uri} changed while it was read, "
                              f"{ONLINE_ATTEMPTS} times: back it up when writers pause")
        with staged.open("w", encoding="utf-8") as out:
            archive.write(sub, out)
        manifest = _manifest("archive", staged, version, state)
        _finish(directory, staged, manifest)
    return BackupResult(directory, manifest)


def restore_online(store: Store, directory: Path, force: bool = False) -> BackupResult:
    """Merge the archive backup in ``directory`` into ``store`` (schema installed first):
    refused without ``force`` when the database holds provenance already, and for a backup
    that is not an archive or does not match its manifest. Archives merge across Neo4j
    versions. The manifest returned carries ``imported``, what the merge wrote."""
    from latteprov import schema
    from latteprov.exchange import archive

    directory = directory.expanduser().resolve()
    manifest = read_manifest(directory)
    if manifest["kind"] != "archive":
        raise BackupError(f"{directory} holds a neo4j-admin dump: restore it into the local server "
                          "without --online")
    loaded = archive.read(directory / ARCHIVE_FILE)  # checked whole before anything is written
    if store.read("backup_any") and not force:
        raise BackupError(f"{store.settings.uri} holds provenance already: pass --force to merge the backup into it")
    schema.install(store)
    result = archive.import_archive(store, loaded)
    imported = {"entities_created": result.write.entities_created, "entities_matched": result.write.entities_matched,
                "edges_written": result.write.edges_written, "events_created": result.events_created}
    return BackupResult(directory, {**manifest, "imported": imported})
