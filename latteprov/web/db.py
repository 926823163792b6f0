"""The app's one connection to Neo4j: a :class:`~latteprov.store.Store` per app.

The driver behind a Store is a thread-safe connection pool, so one Store serves every request
of an app; each query runs in its own READ (or, for the write routes, WRITE) session that the
Store opens and closes. Opening a driver per request would pay a connection and a
connectivity check every time; so the Store lives as long as the app and :func:`close` ends
it (``latteprov serve`` on exit, the tests' fixtures). Its patience is ``DB_PATIENCE`` (0.5 s: one retry): a
database that went away answers 503 within about that, not after the driver's 30 s of retries; its transactions last
``DB_TIMEOUT`` seconds at most (:mod:`latteprov.web.limits`). Every pooled connection is checked
with a round trip before a request uses it (bounded by the acquisition deadline, 2 s), so a
server that stopped answering is a 503 within seconds, not a read that never ends.
"""
from __future__ import annotations

from flask import Flask, current_app

from latteprov.store import Store

_KEY = "latteprov_store"


def get_store() -> Store:
    """The Store of the current app, opened on first use."""
    app = current_app._get_current_object()
    store = app.extensions.get(_KEY)
    if store is None:
        store = app.extensions[_KEY] = Store(app.config["SETTINGS"], patience=app.config.get("DB_PATIENCE", 0.5),
                                                  tx_timeout=app.config.get("DB_TIMEOUT"), liveness_check=0.0)
    return store


def close(app: Flask) -> None:
    """Close the app's Store (its driver and connection pool), if one was opened."""
    store = app.extensions.pop(_KEY, None)
    if store is not None:
        store.close()

