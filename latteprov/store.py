"""The connection to Neo4j: one driver, managed transactions, batched writes.

Everything that talks to the database goes through a :class:`Store`. Reads run in READ
sessions, writes through ``execute_write`` (the driver retries transient errors and deadlocks
with back-off); queries are named files of ``latteprov/cypher/`` and values travel as parameters.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

import neo4j
from neo4j import GraphDatabase, READ_ACCESS, WRITE_ACCESS
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

from latteprov import queries
from latteprov.errors import LatteprovError
from latteprov.config import Settings, load_settings

T = TypeVar("T")
# The driver logs each retry as a warning; our users get one line from StoreError instead.
logging.getLogger("neo4j").addHandler(logging.NullHandler())
logging.getLogger("neo4j").propagate = False
DEFAULT_BATCH = 5000


class StoreError(LatteprovError):
    """The database refused or could not answer; the message is one line for the user."""


class StoreUnavailable(StoreError):
    """Nothing answers at the configured URI."""


class StoreTimeout(StoreError):
    """A transaction ran longer than the store's ``tx_timeout`` and the server ended it."""


def chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items."""
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


class Store:
    """A Neo4j database reached through the official driver."""

    def __init__(self, settings: Settings | None = None, patience: float = 30.0,
                 tx_timeout: float | None = None, liveness_check: float | None = None) -> None:
        """``patience`` (seconds) bounds the driver's retries of transient errors and how long it
        waits for a connection: 30 s suits jobs that write (a deadlock or a leader switch is
        retried); a web app answering people uses 0.5 s (one retry), so a database that went away gives a
        503 at once instead of after half a minute. ``tx_timeout`` (seconds, None: the server's
        own limit) makes the server end any managed transaction of this store that runs longer,
        raising :class:`StoreTimeout` (the web app sets it, so no request holds a worker for ever).
        ``liveness_check`` (seconds, None: never): a pooled connection idle for longer is checked
        with a round trip before use, bounded by the acquisition deadline, so a server that
        stopped answering (SIGSTOP, a hung VM, a dropped route) costs a new connection that fails
        fast instead of a read that waits for ever (the web app uses 0: every time)."""
        self.settings = settings or load_settings()
        self.tx_timeout = tx_timeout
        auth = (self.settings.user, self.settings.password) if self.settings.password else None
        try:
            self.driver = GraphDatabase.driver(self.settings.uri, auth=auth,
                                               connection_acquisition_timeout=max(patience, 1.0) * 2,
                                               connection_timeout=min(patience, 30.0),
                                               max_transaction_retry_time=patience,
                                               liveness_check_timeout=liveness_check,
                                               # the server's hints ("property key does not exist"
                                               # on an empty graph) are not for our users
                                               notifications_min_severity="OFF")
        except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
            raise StoreError(f"bad Neo4j URI {self.settings.uri!r}: {exc}") from None
        self._neomodel_bound = False
        self._checked = False

    # -- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.driver.close()

    def check(self) -> None:
        """Fail with one clear line unless the server answers and accepts our credentials."""
        with self.errors():
            self.driver.verify_connectivity()
        self._checked = True

    def errors(self) -> "_ErrorTranslator":
        return _ErrorTranslator(self.settings.uri, self.settings.user)

    def session(self, write: bool = False) -> neo4j.Session:
        """A session; the first one checks the server answers, so a down server fails at once
        instead of after the managed transactions' 30 s of retries."""
        if not self._checked:
            self.check()
        return self.driver.session(database=self.settings.database,
                                   default_access_mode=WRITE_ACCESS if write else READ_ACCESS)

    # -- running queries --------------------------------------------------------------------
    @staticmethod
    def _reading(name: str) -> None:
        if queries.get(name).writes:
            raise queries.QueryError(f"query {name} ({queries.get(name).origin}) writes; it cannot run in a READ session")

    def read(self, name: str, **params: Any) -> list[dict]:
        """Run the named query in a READ session; rows as dicts."""
        self._reading(name)
        queries.get(name).check_params(params)
        return self.read_tx(lambda tx: queries.run(tx, name, **params).data())

    def read_records(self, name: str, **params: Any) -> list[neo4j.Record]:
        """Run the named query in a READ session; its rows as the driver decoded them (not
        copied into dicts: large nested answers, as :meth:`read_one`)."""
        self._reading(name)
        queries.get(name).check_params(params)
        return self.read_tx(lambda tx: list(queries.run(tx, name, **params)))

    def read_one(self, name: str, **params: Any) -> neo4j.Record | None:
        """Run the named one-row query in a READ session; its row as the driver decoded it, or None."""
        self._reading(name)
        queries.get(name).check_params(params)
        # Not .data(): that copies every nested list and map once more, a fifth of the time of a
        # large answer (lineage of ~1,000 nodes).
        return self.read_tx(lambda tx: queries.run(tx, name, **params).single())

    def write(self, name: str, **params: Any) -> list[dict]:
        """Run the named query in one managed write transaction; rows as dicts."""
        queries.get(name).check_params(params)
        return self.write_tx(lambda tx: queries.run(tx, name, **params).data())

    def read_tx(self, work: Callable[[neo4j.ManagedTransaction], T]) -> T:
        """Run ``work`` in a managed read transaction (retried on transient errors)."""
        with self.errors(), self.session(write=False) as session:
            return session.execute_read(self._bounded(work))

    def write_tx(self, work: Callable[[neo4j.ManagedTransaction], T]) -> T:
        """Run ``work`` in a managed write transaction (retried on transient errors)."""
        with self.errors(), self.session(write=True) as session:
            return session.execute_write(self._bounded(work))

    def _bounded(self, work: Callable[[neo4j.ManagedTransaction], T]) -> Callable[[neo4j.ManagedTransaction], T]:
        """``work`` with the store's transaction timeout, when it has one."""
        return work if self.tx_timeout is None else neo4j.unit_of_work(timeout=self.tx_timeout)(work)

    def write_auto(self, name: str, **params: Any) -> list[dict]:
        """Run the named query in an auto-commit transaction (needed by ``CALL {} IN TRANSACTIONS``)."""
        queries.get(name).check_params(params)
        # No driver retries here: such queries commit batch by batch and are written re-runnable.
        with self.errors(), self.session(write=True) as session:
            return queries.run(session, name, **params).data()

    def run_text(self, text: str, write: bool = False, **params: Any) -> list[dict]:
        """Run literal query text that is not one of ``latteprov/cypher/`` (schema statements, tests)."""
        work = lambda tx: tx.run(text, params).data()  # noqa: E731
        return self.write_tx(work) if write else self.read_tx(work)

    # -- schema and neomodel ----------------------------------------------------------------
    def bind_neomodel(self) -> None:
        """Point neomodel's global connection at this store's driver."""
        if not self._neomodel_bound:
            from neomodel import db
            db.set_connection(driver=self.driver)
            self._neomodel_bound = True

    def server_info(self) -> dict:
        """Server version, edition and node/relationship counts."""
        return self.read("server_info")[0]

    def clear(self) -> None:
        """Delete every node and relationship (tests and throwaway servers only)."""
        # CALL {} IN TRANSACTIONS needs an auto-commit transaction, hence session.run.
        with self.errors(), self.session(write=True) as session:
            session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()


class _ErrorTranslator:
    """Turns driver exceptions into one-line :class:`StoreError` messages."""

    def __init__(self, uri: str, user: str) -> None:
        self.uri, self.user = uri, user

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None or isinstance(exc, StoreError):
            return False
        if isinstance(exc, ServiceUnavailable):
            raise StoreUnavailable(f"cannot reach Neo4j at {self.uri} (is it running? try 'latteprov db start')") from exc
        if isinstance(exc, neo4j.exceptions.ConnectionAcquisitionTimeoutError):
            raise StoreUnavailable(f"Neo4j at {self.uri} does not answer (no connection within the time "
                                   "allowed)") from exc
        if isinstance(exc, AuthError):
            raise StoreError(f"Neo4j at {self.uri} refused the credentials of user {self.user!r} "
                             "(set NEO4J_PASSWORD or the config file)") from exc
        if isinstance(exc, Neo4jError) and "TransactionTimedOut" in (exc.code or ""):
            raise StoreTimeout("the database did not answer within the time allowed (a narrower "
                               "question answers faster)") from exc
        if isinstance(exc, Neo4jError):
            message = (exc.message or str(exc)).strip().splitlines()[0]
            raise StoreError(f"Neo4j error {exc.code}: {message}") from exc
        return False
