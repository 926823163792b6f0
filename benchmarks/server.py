"""The server a stand-alone benchmark script measures: ``NEO4J_URI`` if it names an empty one,
else a throwaway local Neo4j started for the run and stopped after it."""
from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store
from latteprov import schema


@contextmanager
def empty_store() -> Iterator[Store]:
    """A store over an empty database with the schema installed."""
    home = None
    if not os.environ.get("NEO4J_URI"):
        home = Path(tempfile.mkdtemp(prefix="latteprov-bench-"))
        info, _ = manager.start(home, load_settings().cache_dir, port=manager.free_port(), auth=False)
        os.environ["NEO4J_URI"] = info.uri
    try:
        with Store(load_settings()) as store:
            if home is None and store.run_text("MATCH (n) RETURN count(n) AS n")[0]["n"]:
                sys.exit(f"{store.settings.uri} holds data; run the benchmark against an empty server")
            schema.install(store)
            yield store
    finally:
        if home is not None:
            manager.stop(home)
