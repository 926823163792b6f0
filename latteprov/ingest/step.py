"""``@latteprov.step``: record any Python function that reads and writes HDF5 files as a Run.

::

    @latteprov.step("fold", version="1.2")
    def fold(src: str, dst: str, sign: int = 1) -> None:
        ...                                   # reads src, writes dst with h5py

Each call is a Run of kind ``fold`` with code version ``1.2`` (plus a digest of the function's
source) and the call's other arguments as parameters. HDF5 arguments that exist before the
call and are untouched by it are inputs: their datasets are ingested (through the layouts of
the conventions; a file that fits none is one external input). HDF5 arguments the call
creates or modifies are outputs: each dataset becomes a DerivedDataset of the step, derived
from every input, with a DataFile. ``inputs=``/``outputs=`` name the arguments explicitly.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import h5py

from latteprov import graph, record
from latteprov.graph import GraphBatch
from latteprov.ingest import conventions as conventions_mod
from latteprov.ingest import datafiles
from latteprov.ingest.builder import derived_key
from latteprov.ingest.conventions import Conventions
from latteprov.ingest.h5 import H5Problem, read_file
from latteprov.store import Store

F = TypeVar("F", bound=Callable[..., Any])
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")


def _is_hdf5(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike)) and str(value).lower().endswith(HDF5_SUFFIXES)


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def source_digest(fn: Callable) -> str:
    """12 hex digits of the function's source, so an edited step records a new code version."""
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        text = fn.__qualname__
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def input_products(conventions: Conventions, path: str) -> tuple[GraphBatch, list[str]]:
    """The rows and product uids of one input file (one external node if it fits no layout)."""
    try:
        content = read_file(conventions, path)
        return content.batch, [uid for uids in content.products.values() for uid in uids]
    except H5Problem:
        batch = GraphBatch()
        abspath = os.path.abspath(path)
        uid = batch.add("DerivedDataset", name=os.path.basename(path), step="external",
                        inputs_key=derived_key("external", [], {"path": abspath, "host": datafiles.host()}))
        batch.add_file(uid, abspath, host=datafiles.host(), **datafiles.stat_props(os.stat(path)))
        return batch, [uid]


def step(name: str, version: str | None = None, *, inputs: tuple[str, ...] | None = None,
         outputs: tuple[str, ...] | None = None, store: Store | None = None,
         conventions: Conventions | None = None) -> Callable[[F], F]:
    """Decorate a function so that each call is recorded as a Run with its HDF5 inputs and outputs."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        code_version = f"{version or 'unversioned'}+{source_digest(fn)}"

        @functools.wraps(fn)
        def recorded(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            files = {k: str(v) for k, v in bound.arguments.items() if _is_hdf5(v)}
            params = {k: _json_safe(v) for k, v in bound.arguments.items() if k not in files}
            before = {k: _mtime(p) for k, p in files.items()}
            named_in = set(inputs) if inputs is not None else {k for k, m in before.items() if m is not None}
            if outputs is not None:
                named_in -= set(outputs)
            conv = conventions or conventions_mod.load()
            used: list[str] = []
            in_batch = GraphBatch()
            for key in sorted(named_in):
                batch, uids = input_products(conv, files[key])
                in_batch.extend(batch)
                used += uids
            own_store = store is None
            db = store or Store()
            try:
                graph.write(db, in_batch)
                with record.run(name, code_version=code_version, params=params, inputs=list(dict.fromkeys(used)),
                                store=db, offline=False) as run:
                    result = fn(*bound.args, **bound.kwargs)
                    out_keys = set(outputs) if outputs is not None else {
                        k for k, p in files.items() if _mtime(p) is not None and _mtime(p) != before[k]}
                    for key in sorted(out_keys - named_in):
                        _record_output(run, name, files[key], used, params)
                return result
            finally:
                if own_store:
                    db.close()

        recorded.latteprov_step = name  # type: ignore[attr-defined]
        return recorded  # type: ignore[return-value]

    return decorate


def _record_output(run: record.Recorder, step_name: str, path: str, used: list[str], params: dict) -> None:
    """Each dataset of an output file: a DerivedDataset of the step, derived from every input."""
    base = os.path.basename(path)
    with h5py.File(path, "r") as handle:
        datasets: list[tuple[str, h5py.Dataset]] = []
        handle.visititems(lambda n, obj: datasets.append((n, obj)) if isinstance(obj, h5py.Dataset) else None)
        for dataset, ds in datasets:
            keyed = {"file": base, "dataset": dataset, "params": params}
            uid = run.output("DerivedDataset", name=f"{base}:{dataset}", inputs={"input": used}, step=step_name,
                             inputs_key=derived_key(step_name, used, keyed),
                             params=json.dumps(params, sort_keys=True, default=str))
            run.file(uid, Path(path).resolve(), host=datafiles.host(), dataset=dataset, shape=str(ds.shape),
                     dtype=str(ds.dtype))
