"""Fixtures: a real Neo4j for the whole session, an empty graph for every test.

With ``NEO4J_URI`` set the tests use that server (and refuse to wipe one that holds data
unless ``LATTEPROV_TEST_WIPE=1``); otherwise they start a throwaway server through the same
code as ``latteprov db start`` (temporary home, free port, no auth) and stop it at the end.
A test that needs Neo4j and cannot get it fails: nothing here skips.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import campaign_data

from latteprov.cli import main
from latteprov.config import Settings, load_settings
from latteprov.server import manager
from latteprov.store import Store
from latteprov import schema


@pytest.fixture(scope="session")
def server_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The bolt URI of the server the tests use."""
    uri = os.environ.get("NEO4J_URI")
    if uri:
        yield uri
        return
    home = tmp_path_factory.mktemp("neo4j-home")
    info, _ = manager.start(home, load_settings().cache_dir, port=manager.free_port(), auth=False,
                            page_cache="256m", heap="1g")
    yield info.uri
    manager.stop(home)


@pytest.fixture(scope="session")
def env(server_uri: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for CLI invocations: the test server and private data directories."""
    data = tmp_path_factory.mktemp("latteprov-data")
    values = {
        "NEO4J_URI": server_uri,
        "NEO4J_USER": os.environ.get("NEO4J_USER", "neo4j"),
        "LATTEPROV_DATA_DIR": str(data),
        "LATTEPROV_SPOOL": str(data / "spool"),
        "LATTEPROV_CONFIG": str(data / "no-config.toml"),
        "LATTEPROV_CACHE_DIR": str(load_settings().cache_dir),
    }
    if os.environ.get("NEO4J_PASSWORD"):
        values["NEO4J_PASSWORD"] = os.environ["NEO4J_PASSWORD"]
    return values


@pytest.fixture(scope="session")
def settings(env: dict[str, str]) -> Settings:
    return load_settings(env)


@pytest.fixture(scope="session")
def session_store(settings: Settings) -> Store:
    store = Store(settings)
    if os.environ.get("NEO4J_URI") and not os.environ.get("LATTEPROV_TEST_WIPE"):
        count = store.run_text("MATCH (n) RETURN count(n) AS n")[0]["n"]
        if count:
            pytest.exit(f"{settings.uri} holds {count} nodes; set LATTEPROV_TEST_WIPE=1 to let the tests wipe it", 2)
    schema.install(store)
    yield store
    store.close()


@pytest.fixture
def store(session_store: Store) -> Store:
    """The session's store over an empty graph (schema installed)."""
    session_store.clear()
    return session_store


@pytest.fixture
def cli(store: Store, env: dict[str, str]):
    """Run ``latteprov ARGS...`` in-process against the test server; returns click's Result."""
    runner = CliRunner(env=env)

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def shared_data() -> Path:
    """The repository's shared real data (``../shared/data``) or the copy the package ships."""
    from latteprov.data import path

    return path("a15m310-devel.h5")


@pytest.fixture
def make_app(settings: Settings):
    """A factory of web apps over the test server: ``make_app(**config)`` adds ``config`` to
    the test defaults (anonymous reading on, CSRF off); every app's store closes at teardown."""
    from latteprov.web import create_app, db

    made = []

    def make(**config):
        app = create_app({"TESTING": True, "SETTINGS": settings, "SECRET_KEY": "test", "ANONYMOUS_READ": True,
                          "WTF_CSRF_ENABLED": False, **config})
        made.append(app)
        return app

    yield make
    for app in made:
        db.close(app)


@pytest.fixture
def app(make_app):
    """The web app over the test server with the test defaults (test files that need other
    settings call ``make_app``)."""
    return make_app()


@pytest.fixture
def client(app):
    """A Flask test client of :func:`app`."""
    return app.test_client()


@pytest.fixture
def campaign(store: Store) -> campaign_data.Campaign:
    """The small hand-built campaign of ``campaign_data`` (two ensembles, configurations,
    propagators, sequential chains, form factors) written to the empty graph: its uids by name."""
    from latteprov import graph

    batch, uids = campaign_data.build()
    graph.write(store, batch)
    return uids
