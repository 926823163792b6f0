"""Constraints and indexes, generated from the model classes.

Each class's own ``unique_index`` properties become uniqueness constraints on its label and
its ``index`` properties range indexes; inherited properties are covered once, on the label
of the class that declares them (``Entity.uid`` covers every entity), so a node is not
indexed again under each subclass label.
"""
from __future__ import annotations

from latteprov import model, queries, tally
from latteprov.store import Store


def statements() -> list[str]:
    """The DDL statements, one per constraint or index (labels and names come from our classes)."""
    out: list[str] = []
    for cls in model.all_classes():
        label = cls.__label__
        own = {name: prop for name, prop in vars(cls).items()
               if name in cls.defined_properties(aliases=False, rels=False)}
        for name, prop in own.items():
            if getattr(prop, "unique_index", False):
                out.append(f"CREATE CONSTRAINT {label.lower()}_{name}_unique IF NOT EXISTS "
                           f"FOR (n:{label}) REQUIRE n.{name} IS UNIQUE")
            elif getattr(prop, "index", False):
                out.append(f"CREATE INDEX {label.lower()}_{name} IF NOT EXISTS FOR (n:{label}) ON (n.{name})")
    # No index on DERIVED_FROM.role: no query looks edges up by role, and with one the planner
    # (its statistics taken on a small graph) seeks every edge of a role for each MERGE instead
    # of expanding between the two endpoints (6.8 M db hits for 3.3k edges; docs/performance.md).
    out.append("DROP INDEX derived_from_role IF EXISTS")
    out.append("DROP INDEX entity_valid IF EXISTS")  # see Entity.valid
    out.append("DROP INDEX entity_search IF EXISTS")  # the search box matches fragments now (entity_search_name)
    # Trigram text index: `search_name CONTAINS fragment` (the search box) without a scan.
    out.append("CREATE TEXT INDEX entity_search_name IF NOT EXISTS FOR (n:Entity) ON (n.search_name) "
               "OPTIONS {indexProvider: 'text-2.0'}")
    # Status counters (latteprov.tally): not a model class, one node per (ensemble, kind).
    out.append("CREATE CONSTRAINT tally_key IF NOT EXISTS FOR (t:Tally) REQUIRE (t.ensemble, t.kind) IS UNIQUE")
    return out


def install(store: Store) -> list[str]:
    """Create every constraint and index that does not exist yet; wait until they are online."""
    done = []
    with store.errors(), store.session(write=True) as session:
        for statement in statements():
            session.run(statement).consume()
            done.append(statement)
        session.run("CALL db.awaitIndexes(300)").consume()
        # Graphs written before entities carried file_statuses get them once (auto-commit, batched).
        session.run(queries.get("fill_file_statuses").text).consume()
        session.run(queries.get("fill_search_names").text).consume()
    # Stores written before the tallies existed, or loaded by neo4j-admin import, get them once.
    tally.ensure(store)
    return done

