"""``ingest h5``: correlator files become correlators with DataFiles, and ``meta`` becomes lineage.

Each dataset path is matched against the layouts of the conventions; the fields of the path,
of the file name (when it fits a template) and of ``--ensemble``/``--stream`` build the node
the layout names. Collected files (``rows = "cfgs_srcs"``) give one node per row. A dataset
with a ``meta`` attribute is a derived dataset: each line names one input, built from the
line's keys over the dataset's context, and the dataset derives from each of them.

A file is read whole before anything is written and written in one transaction: a file with
any problem (unreadable, a dataset fitting no layout, a bad ``meta`` line) is reported and
left out, the other files are still ingested.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from latteprov import graph
from latteprov.errors import InputError, LatteprovError
from latteprov.graph import GraphBatch, WriteResult
from latteprov.ingest import datafiles
from latteprov.ingest.builder import Builder
from latteprov.ingest.conventions import Conventions, LayoutSpec, NodeSpec, decode_short_tag
from latteprov.ingest.meta import parse_meta
from latteprov.store import Store


class H5Problem(InputError):
    """Something in an HDF5 file that keeps it from being ingested."""


@dataclass
class H5Report:
    """What an ingest of HDF5 files did."""

    files: int = 0
    ingested: int = 0
    nodes: int = 0
    problems: list[str] = field(default_factory=list)
    written: WriteResult = field(default_factory=WriteResult)


@dataclass
class FileContent:
    """The rows one file means, and the uids of its top-level products by dataset path."""

    batch: GraphBatch
    products: dict[str, list[str]]


def ensemble_of(filename: str) -> str | None:
    """The ensemble tag a collected file's name starts with (``a15m310-devel.h5`` -> a15m310)."""
    first = re.split(r"[-_.]", filename, maxsplit=1)[0]
    return first if decode_short_tag(first) else None


def read_file(conventions: Conventions, path: str, *, ensemble: str | None = None, stream: str | None = None,
              checksum: bool = False) -> FileContent:
    """The graph rows of one HDF5 file; raises :class:`H5Problem` listing every problem found."""
    base = os.path.basename(path)
    context: dict[str, Any] = {"file": base}
    found = conventions.match(base)
    if found is not None:
        context.update(found.fields)
    if ensemble:
        context["ensemble"] = ensemble
    elif not context.get("ensemble") and ensemble_of(base):
        context["ensemble"] = ensemble_of(base)
    try:
        stat = os.stat(path)
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise H5Problem(f"not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
    builder = Builder(conventions)
    problems: list[str] = []
    products: dict[str, list[str]] = {}
    hostname = datafiles.host()
    abspath = os.path.abspath(path)
    with handle:
        datasets: list[tuple[str, h5py.Dataset]] = []
        try:
            handle.visititems(lambda name, obj: datasets.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
        except (OSError, RuntimeError) as exc:
            raise H5Problem(f"cannot walk the file ({str(exc).splitlines()[0]})") from None
        for name, ds in datasets:
            if isinstance(name, bytes):  # h5py hands back names that are not UTF-8 as bytes
                problems.append(f"dataset {name!r}: name is not UTF-8")
                continue
            try:
                products[name] = _dataset(conventions, builder, ds, name, context, stream, abspath, hostname)
            except (LatteprovError, OSError, KeyError, ValueError) as exc:
                problems.append(f"dataset {name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    if problems:
        raise H5Problem("; ".join(problems))
    builder.resolve_groups()
    props = datafiles.stat_props(stat)
    if checksum:
        props["checksum"] = datafiles.sha256(path)
    builder.batch.add_file(None, abspath, host=hostname, **props)
    return FileContent(builder.take(), products)


def _dataset(conventions: Conventions, builder: Builder, ds: h5py.Dataset, name: str, context: dict,
             stream: str | None, abspath: str, hostname: str) -> list[str]:
    """Build the node(s) of one dataset; the uids (empty for index datasets)."""
    matched = conventions.layout(name)
    if matched is None:
        raise H5Problem("fits no layout")
    layout, path_fields = matched
    if layout.index:
        return []
    fields = {**context, **path_fields, "dataset": name}
    if stream:
        fields["stream"] = stream
    shape_props = {"dtype": str(ds.dtype)}
    meta = ds.attrs.get("meta")
    if meta is not None:
        spec = conventions.nodes[layout.derived or layout.node]
        uid = derived_node(conventions, builder, layout, spec, fields, parse_meta(meta))
        builder.batch.add_file(uid, abspath, host=hostname, dataset=name, shape=str(ds.shape), size=ds.nbytes,
                               status="on_disk", **shape_props)
        return [uid]
    spec = conventions.nodes[layout.node]
    if not layout.rows:
        uid = builder.build(spec, conventions.enrich(fields))
        builder.batch.add_file(uid, abspath, host=hostname, dataset=name, shape=str(ds.shape), size=ds.nbytes,
                               status="on_disk", **shape_props)
        return [uid]
    index_path = f"{name.rsplit('/', 1)[0]}/{layout.rows}" if "/" in name else layout.rows
    index = ds.file.get(index_path)
    if index is None or index.shape[0] != ds.shape[0]:
        raise H5Problem(f"needs an index dataset {index_path} with one row per row of the data")
    if not fields.get("ensemble"):
        raise H5Problem("cannot tell the ensemble (give --ensemble TAG)")
    configs = np.asarray(index[:, 0] if index.ndim == 2 else index[:]).astype(int)
    row_bytes = ds.nbytes // max(ds.shape[0], 1)
    uids = []
    for i, config in enumerate(configs):
        uid = builder.build(spec, conventions.enrich({**fields, "config": int(config)}))
        builder.batch.add_file(uid, abspath, host=hostname, dataset=f"{name}[{i}]", shape=str(ds.shape[1:]),
                               size=row_bytes, status="on_disk", **shape_props)
        uids.append(uid)
    return uids


def derived_node(conventions: Conventions, builder: Builder, layout: LayoutSpec, spec: NodeSpec,
                 context: dict, lines: list[dict[str, str]]) -> str:
    """The derived dataset a ``meta`` attribute describes, derived from each input it names."""
    if not layout.meta_input:
        raise H5Problem(f"has a meta attribute but layout {layout.key} names no meta_input")
    input_spec = conventions.nodes[layout.meta_input]
    keyed = set(input_spec.cls.natural_key)
    inputs = []
    for lineno, line in enumerate(lines, 1):
        if "uid" in line:  # an input named by uid must exist: the write refuses unknown uids
            inputs.append((line["uid"], "input"))
            continue
        if not keyed & set(line):
            raise H5Problem(f"meta line {lineno} names nothing known "
                            f"(keys {', '.join(line) or 'none'}; a {input_spec.kind} needs some of {', '.join(sorted(keyed))})")
        inputs.append((builder.build(input_spec, conventions.enrich({**context, **line})), "input"))
    if not inputs:
        raise H5Problem("meta attribute names no input")
    common = {k: v for k, v in lines[0].items()
              if k not in ("uid", "file", "dataset") and all(line.get(k) == v for line in lines[1:])}
    return builder.build(spec, conventions.enrich({**context, **common}), extra_inputs=sorted(set(inputs)))


def ingest_h5(store: Store, conventions: Conventions, paths: Iterable[str], *, ensemble: str | None = None,
              stream: str | None = None, checksum: bool = False,
              advance: Callable[[int], None] | None = None) -> H5Report:
    """Ingest each file in its own transaction; problems are collected, one line per file."""
    report = H5Report()
    for path in paths:
        report.files += 1
        try:
            content = read_file(conventions, path, ensemble=ensemble, stream=stream, checksum=checksum)
            report.written += graph.write(store, content.batch)
            report.ingested += 1
            report.nodes += len(content.batch.entities)
        except LatteprovError as exc:
            report.problems.append(f"{path}: {exc}")
        if advance:
            advance(1)
    return report
