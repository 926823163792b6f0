"""The relational baseline: the same graph in a derivation table, answered with recursive CTEs.

Twice: SQLite in-process (the embedded floor) and PostgreSQL over a local unix socket (a
shared server, as LatteDB ran in production), started here as a throwaway cluster. Both hold
entities (uid, kind, ensemble, state, valid), the ``derivation`` table (derived, input, role)
with indexes on both ends, and ``stored`` (product, file status) for the status report.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from latteprov.graph import GraphBatch

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SCHEMA = (
    "CREATE TABLE entity (uid TEXT PRIMARY KEY, kind TEXT NOT NULL, ensemble TEXT, state TEXT NOT NULL,"
    " valid BOOLEAN NOT NULL, invalidated_by TEXT)",
    "CREATE TABLE derivation (derived TEXT NOT NULL, input TEXT NOT NULL, role TEXT NOT NULL,"
    " PRIMARY KEY (derived, input, role))",
    "CREATE INDEX derivation_input ON derivation (input)",
    "CREATE TABLE stored (product TEXT NOT NULL, file TEXT NOT NULL, status TEXT NOT NULL)",
    "CREATE INDEX stored_product ON stored (product)",
    "CREATE INDEX entity_ensemble_kind ON entity (ensemble, kind)",
)
ANCESTORS = """
WITH RECURSIVE up(uid) AS (
  SELECT input FROM derivation WHERE derived = {p}
  UNION
  SELECT d.input FROM derivation d JOIN up ON d.derived = up.uid
) SELECT uid FROM up"""
DESCENDANTS = """
WITH RECURSIVE down(uid) AS (
  SELECT derived FROM derivation WHERE input = {p}
  UNION
  SELECT d.derived FROM derivation d JOIN down ON d.input = down.uid
) SELECT uid FROM down"""
INVALIDATE = """
UPDATE entity SET valid = FALSE, invalidated_by = {p} WHERE uid IN (
  WITH RECURSIVE down(uid) AS (
    SELECT {p}
    UNION
    SELECT d.derived FROM derivation d JOIN down ON d.input = down.uid
  ) SELECT uid FROM down)"""
STATUS = """
SELECT e.ensemble, e.kind, COUNT(DISTINCT e.uid) AS total,
       COUNT(DISTINCT CASE WHEN e.state = 'planned' THEN e.uid END) AS planned,
       COUNT(DISTINCT CASE WHEN e.state = 'queued' THEN e.uid END) AS queued,
       COUNT(DISTINCT CASE WHEN e.state = 'running' THEN e.uid END) AS running,
       COUNT(DISTINCT CASE WHEN e.state = 'done' THEN e.uid END) AS done,
       COUNT(DISTINCT CASE WHEN e.state = 'failed' THEN e.uid END) AS failed,
       COUNT(DISTINCT CASE WHEN NOT e.valid THEN e.uid END) AS invalid,
       COUNT(CASE WHEN s.status = 'on_disk' THEN 1 END) AS on_disk,
       COUNT(CASE WHEN s.status = 'on_tape' THEN 1 END) AS on_tape,
       COUNT(CASE WHEN s.status = 'missing' THEN 1 END) AS missing,
       COUNT(CASE WHEN s.status = 'wrong_size' THEN 1 END) AS wrong_size,
       COUNT(CASE WHEN s.status = 'unknown' THEN 1 END) AS unknown
FROM entity e LEFT JOIN stored s ON s.product = e.uid
GROUP BY e.ensemble, e.kind"""


def rows_of(batch: GraphBatch) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Entity, derivation and storage rows of one batch."""
    status = {f["uid"]: f["mutable"].get("status", f["props"].get("status", "unknown")) for f in batch.files}
    entities = [(r["uid"], r["props"]["kind"], r["props"].get("ensemble"), r["state"] or "done", True, None)
                for r in batch.entities]
    derivations = [(e["from"], e["to"], e["role"]) for e in batch.edges if e["type"] == "DERIVED_FROM"]
    stored = [(e["from"], e["to"], status[e["to"]]) for e in batch.edges if e["type"] == "STORED_AT"]
    return entities, derivations, stored


def load(dbs: list["Relational"], batches: Iterable[GraphBatch], every: int = 50) -> None:
    """Insert the campaign into every database in one pass over ``batches``."""
    cursors = [db.conn.cursor() for db in dbs]
    for i, batch in enumerate(batches, 1):
        entities, derivations, stored = rows_of(batch)
        for db, cur in zip(dbs, cursors):
            p = db.p
            cur.executemany(f"INSERT INTO entity VALUES ({p},{p},{p},{p},{p},{p})", entities)
            cur.executemany(f"INSERT INTO derivation VALUES ({p},{p},{p})", derivations)
            cur.executemany(f"INSERT INTO stored VALUES ({p},{p},{p})", stored)
            if i % every == 0:
                db.conn.commit()
    for db, cur in zip(dbs, cursors):
        db.conn.commit()
        db.settle()


class Relational:
    """One relational database holding the campaign's derivation graph."""

    def __init__(self, name: str, connection: object, placeholder: str) -> None:
        self.name, self.conn, self.p = name, connection, placeholder

    def settle(self) -> None:
        """Bring the freshly loaded database to a steady state before it is timed: statistics
        for the planner, and (PostgreSQL) the vacuum and checkpoint it would otherwise run in
        the background during the questions, on the cores Neo4j is measured on."""
        if self.name == "PostgreSQL":
            self.conn.autocommit = True  # VACUUM cannot run inside a transaction block
            try:
                self.conn.execute("VACUUM ANALYZE")
                self.conn.execute("CHECKPOINT")
            finally:
                self.conn.autocommit = False
        else:
            self.conn.execute("ANALYZE")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.commit()

    def create(self) -> None:
        cur = self.conn.cursor()
        for statement in SCHEMA:
            cur.execute(statement)
        self.conn.commit()

    def _query(self, sql: str, *params: object) -> list[tuple]:
        cur = self.conn.cursor()
        cur.execute(sql.format(p=self.p), params)
        rows = cur.fetchall()
        self.conn.commit()
        return rows

    def ancestors(self, uid: str) -> set[str]:
        return {r[0] for r in self._query(ANCESTORS, uid)}

    def descendants(self, uid: str) -> set[str]:
        return {r[0] for r in self._query(DESCENDANTS, uid)}

    def invalidate(self, uid: str) -> int:
        """Mark ``uid`` and everything derived from it invalid in one transaction; rows changed."""
        cur = self.conn.cursor()
        cur.execute(INVALIDATE.format(p=self.p), (uid, uid))
        self.conn.commit()
        return cur.rowcount

    def status(self) -> list[dict]:
        cols = ("ensemble", "kind", "total", "planned", "queued", "running", "done", "failed", "invalid",
                "on_disk", "on_tape", "missing", "wrong_size", "unknown")
        return [dict(zip(cols, row)) for row in self._query(STATUS)]

    def close(self) -> None:
        self.conn.close()


@contextmanager
def sqlite(path: Path) -> Iterator[Relational]:
    """SQLite in-process, in a file (WAL, as a careful user would set it up)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    db = Relational("SQLite", conn, "?")
    db.create()
    try:
        yield db
    finally:
        db.close()


class PostgresError(RuntimeError):
    """The throwaway PostgreSQL cluster could not be started."""


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root: run the server binaries as the postgres system user.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL 15 cluster on a unix socket in a temp dir; yields its conninfo."""
    if not (PG_BIN / "initdb").exists():
        raise PostgresError(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing)")
    home = Path(tempfile.mkdtemp(prefix="latteprov-pg-"))
    data, sock = home / "data", home / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
        shutil.chown(sock, "postgres")
    try:
        run = lambda cmd: subprocess.run(_as_postgres(cmd), check=True, capture_output=True, text=True)  # noqa: E731
        run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        options = f"-k {sock} -c listen_addresses='' -c shared_buffers=1GB -c work_mem=64MB -c fsync=on"
        run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start"])
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(home, ignore_errors=True)
        raise PostgresError(f"PostgreSQL did not start: {exc.stderr.strip()[-300:]}") from None
    try:
        deadline = time.monotonic() + 30
        while subprocess.run([str(PG_BIN / "pg_isready"), "-h", str(sock)], capture_output=True).returncode:
            if time.monotonic() > deadline:
                raise PostgresError("PostgreSQL did not answer within 30 s")
            time.sleep(0.2)
        yield f"host={sock} user=postgres dbname=postgres"
    finally:
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def postgres(conninfo: str) -> Iterator[Relational]:
    """PostgreSQL over its unix socket, the same tables as SQLite."""
    import psycopg

    conn = psycopg.connect(conninfo)
    db = Relational("PostgreSQL", conn, "%s")
    cur = conn.cursor()
    for table in ("stored", "derivation", "entity"):
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    conn.commit()
    db.create()
    try:
        yield db
    finally:
        db.close()
