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

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
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
    def read(tx) -> tuple[list[str], list[str]]:
        from latteprov import queries

        uids = [r["uid"] for r in queries.run(tx, "backup_uids")]
        edges = [f"{r['a']} {r['type']} {r['role'] or ''} {r['b']}" for r in queries.run(tx, "backup_edges")]
        return uids, edges

    uids, edges = store.read_tx(read)
    digest = hashlib.sha256()
    for line in sorted(uids) + ["--"] + sorted(edges):
        digest.update(line.encode() + b"\n")
    info = store.server_info()
    return {"counts": {"nodes": info["nodes"], "relationships": info["relationships"]},
            "checksum": digest.hexdigest()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_target(directory: Path, force: bool) -> None:
    """Refuse a backup directory that is a file, cannot be written, or is not empty (with
    ``force`` one that holds an earlier latteprov backup and nothing else may be replaced)."""
    if directory.exists() and not directory.is_dir():
        raise BackupError(f"{directory} is not a directory")
    if directory.is_dir():
        present = {p.name for p in directory.iterdir()}
        ours = {MANIFEST, DUMP_FILE, ARCHIVE_FILE}
        if present and not (force and MANIFEST in present and present <= ours):
            hint = (" (pass --force to replace the backup in it)" if MANIFEST in present and present <= ours
                    else "; give a new or empty directory")
            raise BackupError(f"{directory} is not empty{hint}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=directory, prefix=".latteprov-probe-")
        probe.close()
    except OSError as exc:
        raise BackupError(f"{directory} is not writable: {exc.strerror or exc}") from None


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
    it is not ours, or its data file is missing or differs from what was written."""
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise BackupError(f"{directory} holds no latteprov backup (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not a latteprov backup manifest")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
        raise BackupError(f"{path}: backup format version {manifest.get('version')!r} is newer than this "
                          f"latteprov reads ({VERSION}); upgrade latteprov")
    if manifest.get("kind") not in ("dump", "archive") or manifest.get("file") not in (DUMP_FILE, ARCHIVE_FILE):
        raise BackupError(f"{path}: unknown backup kind {manifest.get('kind')!r}")
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
    command = manager.admin_command(cache_dir, *args)
    env = {**os.environ, "NEO4J_HOME": str(home / "db")}
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=home / "db")
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()]
        reason = next((line for line in lines if "Exception" in line or "rror" in line), lines[-1] if lines else "")
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
    if how is not None:
        manager.start(home, cache_dir, port=how["port"], auth=how["auth"], page_cache=how["page_cache"],
                      heap=how["heap"])


def backup_local(home: Path, cache_dir: Path, directory: Path, force: bool = False) -> BackupResult:
    """Dump the local server's database (``home``, as ``latteprov db start --data-dir``) into
    ``directory``: stop the server if it runs (counting and checksumming the graph first),
    ``neo4j-admin database dump``, start it again as it was. BackupError when the directory is
    refused or the dump fails; the server is started again in every case."""
    home = home.expanduser().resolve()
    if not _database_dirs(home)[0].is_dir():
        raise BackupError(f"no local database in {home} (a server of NEO4J_URI elsewhere is backed up with --online)")
    check_target(directory, force)
    how = manager.start_settings(home)
    state = None
    if how is not None:
        with _local_store(home, how["port"], how["auth"]) as store:
            state = checksum(store)
    staging = Path(tempfile.mkdtemp(prefix=".latteprov-backup-", dir=directory))
    try:
        manager.stop(home)
        try:
            _admin(cache_dir, home, "database", "dump", DATABASE, f"--to-path={staging}")
        finally:
            _restart(home, cache_dir, how)
        dump = staging / f"{DATABASE}.dump"
        if not dump.is_file():
            raise BackupError(f"neo4j-admin wrote no {dump.name} into {staging}")
        manifest = _manifest("dump", dump, manager.NEO4J_VERSION, state)
        _finish(directory, dump, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupResult(directory, manifest)


def restore_local(home: Path, cache_dir: Path, directory: Path, force: bool = False) -> BackupResult:
    """Load the dump backup in ``directory`` into the local server's database (``home``),
    replacing it: refused without ``force`` when a database is there, and for a dump of
    another Neo4j version or one that does not match its manifest. The server is stopped for
    the load and started again if it ran; the database it had is kept aside until the load
    succeeds and put back if it fails. The result says whether the checksum read back matches
    the manifest's (when the server runs afterwards and the backup has one)."""
    home = home.expanduser().resolve()
    manifest = read_manifest(directory)
    if manifest["kind"] != "dump":
        raise BackupError(f"{directory} holds an online (archive) backup: restore it with --online")
    if manifest.get("neo4j") != manager.NEO4J_VERSION:
        raise BackupError(f"{directory} was dumped by Neo4j {manifest.get('neo4j')}; this server is Neo4j "
                          f"{manager.NEO4J_VERSION} (load it with that version, or move data between "
                          "versions with an --online backup)")
    existing = [d for d in _database_dirs(home) if d.exists()]
    if existing and not force:
        raise BackupError(f"{home} holds a database: pass --force to replace it with the backup")
    how = manager.start_settings(home)
    aside = home / ".before-restore"
    shutil.rmtree(aside, ignore_errors=True)
    (home / "db").mkdir(parents=True, exist_ok=True)
    manager.stop(home)
    try:
        for number, path in enumerate(existing):
            aside.mkdir(parents=True, exist_ok=True)
            path.rename(aside / str(number))
        try:
            _admin(cache_dir, home, "database", "load", DATABASE, f"--from-path={directory.resolve()}",
                   "--overwrite-destination=true")
        except BackupError:
            for path in _database_dirs(home):
                shutil.rmtree(path, ignore_errors=True)
            for number, path in enumerate(existing):
                (aside / str(number)).rename(path)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        _restart(home, cache_dir, how)
    verified = None
    if how is not None and manifest.get("checksum"):
        with _local_store(home, how["port"], how["auth"]) as store:
            verified = checksum(store)["checksum"] == manifest["checksum"]
    return BackupResult(directory, manifest, verified)


# -- any server, online: the archive --------------------------------------------------------


def backup_online(store: Store, directory: Path, force: bool = False) -> BackupResult:
    """Write the whole graph of ``store`` as an archive into ``directory`` while the server
    keeps serving (refusals as :func:`check_target`)."""
    from latteprov.exchange import archive, subgraph

    check_target(directory, force)
    state = checksum(store)
    version = store.server_info()["version"]
    sub = subgraph.select(store)
    staging = Path(tempfile.mkdtemp(prefix=".latteprov-backup-", dir=directory))
    try:
        staged = staging / ARCHIVE_FILE
        with staged.open("w", encoding="utf-8") as out:
            archive.write(sub, out)
        manifest = _manifest("archive", staged, version, state)
        _finish(directory, staged, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupResult(directory, manifest)


def restore_online(store: Store, directory: Path, force: bool = False) -> BackupResult:
    """Merge the archive backup in ``directory`` into ``store`` (schema installed first):
    refused without ``force`` when the database holds provenance already, and for a backup
    that is not an archive or does not match its manifest. Archives merge across Neo4j
    versions. The manifest returned carries ``imported``, what the merge wrote."""
    from latteprov import schema
    from latteprov.exchange import archive

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
