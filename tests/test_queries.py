"""Named queries run through one checked entry point (queries.run): parameters checked, writing
queries kept out of READ transactions, and no module running a query's text past it."""
from __future__ import annotations

import pytest


def test_named_queries_run_through_one_checked_entry_point(store) -> None:
    import re
    from pathlib import Path

    from latteprov import queries

    root = Path(__file__).resolve().parent.parent
    callers = [p for p in root.joinpath("latteprov").rglob("*.py")
               if p.name != "queries.py" and re.search(r"queries\.get\([^)]*\)\.text", p.read_text())]
    assert callers == [], f"run named queries through queries.run: {callers}"
    with pytest.raises(queries.QueryError, match="needs parameter"):
        store.read_tx(lambda tx: queries.run(tx, "node_kinds"))
    with pytest.raises(queries.QueryError, match="takes no parameter"):
        store.read_tx(lambda tx: queries.run(tx, "node_kinds", uids=[], typo=1))
    with pytest.raises(queries.QueryError, match="writes; it cannot run in a READ session"):
        store.read("take_dag_lock")
    assert queries.get("take_dag_lock").writes and not queries.get("node_kinds").writes
