"""Asking questions from Python, as LatteDB's users did with Django's ORM: the neomodel classes
of :mod:`latteprov.model` over the graph, after :func:`connect`.

::

    import latteprov
    from latteprov.model import OneToAll, GaugeConfig

    latteprov.connect()                                   # NEO4J_URI, the config file, or the local server
    props = OneToAll.nodes.filter(ensemble="a09m310", x__gt=3, t__lt=48)
    prop = props[0]
    prop.gaugeconfig, prop.action, prop.source            # its inputs, by role
    prop.derivatives.all()                                # what was made of it

Reads go through neomodel. Writes do not bypass latteprov's checks: ``Entity.save()`` goes
through the write path every other write takes (uid from the natural key, consistency checks,
merging, states only forward, validity inherited); connecting relationships, saving runs or
files and deleting anything are refused with InputError (docs/python.md).
"""
from __future__ import annotations

from typing import Any

from latteprov import graph, model
from latteprov.config import load_settings
from latteprov.errors import InputError
from latteprov.store import Store

# Kept by the write path; not given by whoever saves an entity.
_DERIVED = frozenset({"uid", "kind", "valid", "state", "file_statuses", "search_name", "created_at"})


def connect(uri: str | None = None, user: str | None = None, password: str | None = None) -> Store:
    """Bind the model classes to the graph (``uri`` etc. override the settings: NEO4J_URI, the
    config file); return the :class:`~latteprov.store.Store`. StoreError when it cannot be
    reached."""
    changes = {k: v for k, v in (("uri", uri), ("user", user), ("password", password)) if v is not None}
    settings = load_settings()
    store = Store(settings.with_(**changes) if changes else settings)
    store.check()
    store.bind_neomodel()
    model.save_hook = lambda node: _save(store, node)
    return store


def _save(store: Store, node: "model.Entity") -> "model.Entity":
    """Write ``node`` through :func:`latteprov.graph.write`; then ``node`` is the stored node."""
    cls = type(node)
    if not cls.natural_key:
        raise InputError(f"{cls.__name__} is not a concrete entity kind")
    props: dict[str, Any] = {k: getattr(node, k, None) for k in model.properties(cls) if k not in _DERIVED}
    state = getattr(node, "state", None)
    batch = graph.GraphBatch()
    uid = batch.add(cls.__name__, state=state, **{k: v for k, v in props.items() if v is not None})
    graph.resolve_names(batch, store)
    graph.write(store, batch)
    stored = cls.nodes.get(uid=uid)
    node.__dict__.update(stored.__dict__)
    return node
