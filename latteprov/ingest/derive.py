"""Recorded post-processing: source averages and concatenations over configurations.

Both steps first ingest their input files (so every input is a node), then, inside a
recorded Run, compute with numpy, write the HDF5 output with a ``meta`` attribute naming each
input in the CalLat ``key==value&...`` convention, and record the output by reading the
written file back through :func:`latteprov.ingest.h5.read_file`: what the graph says about the
output is exactly what ``ingest h5`` recovers from the file alone.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

import h5py
import numpy as np

from latteprov import graph, record
from latteprov.errors import InputError
from latteprov.ingest.conventions import Conventions
from latteprov.ingest.h5 import FileContent, read_file
from latteprov.ingest.meta import format_meta, parse_meta
from latteprov.store import Store

ORIGIN = ("x", "y", "z", "t")


@dataclass
class Derived:
    """What a derive step wrote and recorded."""

    output: str
    run: str
    datasets: dict[str, str]  # dataset path -> uid of the derived dataset
    inputs: int


def _ingest_inputs(store: Store, conventions: Conventions, paths: list[str]) -> dict[str, FileContent]:
    """Read and record every input file (one transaction each); refuse what cannot be read."""
    contents = {}
    for path in paths:
        try:
            contents[path] = read_file(conventions, path)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        graph.write(store, contents[path].batch)
    return contents


def _record(store: Store, conventions: Conventions, step: str, output: str, inputs: list[str],
            params: dict, write) -> Derived:
    """Run ``write()`` inside a recorded Run, then record the written file's datasets as its outputs."""
    with record.run(step, params=params, inputs=inputs, store=store, offline=False) as run:
        write()
        content = read_file(conventions, output)
        graph.write(store, content.batch)
        rows = {row["uid"]: row for row in content.batch.entities}
        outputs = {}
        for dataset, uids in content.products.items():
            for uid in uids:
                props = {k: v for k, v in rows[uid]["props"].items() if k not in ("uid", "kind", "name")}
                used = [e["to"] for e in content.batch.edges if e["from"] == uid and e["role"] == "input"]
                run.output(rows[uid]["props"]["kind"], name=rows[uid]["props"]["name"], inputs={"input": used}, **props)
                outputs[dataset] = uid
    return Derived(output, run.uid, outputs, len(inputs))


def average(store: Store, conventions: Conventions, paths: list[str], output: str) -> Derived:
    """Average per-source correlators over their sources; one output dataset per group."""
    contents = _ingest_inputs(store, conventions, paths)
    groups: dict[tuple[str, str], list[tuple[dict, np.ndarray, str]]] = defaultdict(list)
    used: list[str] = []
    for path, content in contents.items():
        base = os.path.basename(path)
        found = conventions.match(base)
        raw = dict(found.raw) if found else {}
        with h5py.File(path, "r") as handle:
            for dataset, uids in content.products.items():
                layout, fields = conventions.layout(dataset)
                if not layout.average or not uids:
                    continue
                target = conventions.layouts[layout.average].format(fields)
                line = {**raw, "file": base, "dataset": dataset, **{k: fields[k] for k in ORIGIN}}
                groups[(layout.average, target)].append((line, handle[dataset][()], dataset))
                used += uids
    if not groups:
        raise InputError("no per-source dataset to average in " + ", ".join(paths))

    def write() -> None:
        with h5py.File(output, "w") as out:
            for (_, target), items in sorted(groups.items()):
                shapes = {data.shape for _, data, _ in items}
                if len(shapes) > 1:
                    raise InputError(f"{target}: inputs differ in shape: {sorted(shapes)}")
                ds = out.create_dataset(target, data=np.mean([data for _, data, _ in items], axis=0))
                ds.attrs["meta"] = format_meta(line for line, _, _ in items)

    return _record(store, conventions, "average", output, list(dict.fromkeys(used)),
                   {"over": "sources", "groups": len(groups)}, write)


def concatenate(store: Store, conventions: Conventions, paths: list[str], output: str) -> Derived:
    """Stack per-configuration correlators into one dataset per group, with a ``cfgs_srcs`` index."""
    contents = _ingest_inputs(store, conventions, paths)
    groups: dict[str, list[tuple[int, int, str, np.ndarray]]] = defaultdict(list)
    for path, content in contents.items():
        rows = {row["uid"]: row["props"] for row in content.batch.entities}
        with h5py.File(path, "r") as handle:
            for dataset, uids in content.products.items():
                layout, fields = conventions.layout(dataset)
                if not layout.concatenate or len(uids) != 1:
                    continue
                props = rows[uids[0]]
                if props.get("config") is None:
                    raise InputError(f"{path}: {dataset}: its configuration is not known")
                target = conventions.layouts[layout.concatenate].format({**props, **fields})
                meta = handle[dataset].attrs.get("meta")
                sources = len(parse_meta(meta)) if meta is not None else 1
                groups[target].append((int(props["config"]), sources, uids[0], handle[dataset][()]))
    if not groups:
        raise InputError("no per-configuration dataset to concatenate in " + ", ".join(paths))
    used = [uid for items in groups.values() for _, _, uid, _ in items]

    def write() -> None:
        with h5py.File(output, "w") as out:
            for target, items in sorted(groups.items()):
                items.sort(key=lambda item: item[0])
                configs = [item[0] for item in items]
                if len(set(configs)) != len(configs):
                    raise InputError(f"{target}: a configuration appears twice")
                index = f"{target.rsplit('/', 1)[0]}/cfgs_srcs"
                if index not in out:
                    out.create_dataset(index, data=np.array([(c, s) for c, s, _, _ in items], dtype=np.int64))
                ds = out.create_dataset(target, data=np.stack([data for _, _, _, data in items]))
                ds.attrs["meta"] = format_meta({"uid": uid, "config": c} for c, _, uid, _ in items)

    return _record(store, conventions, "concatenate", output, list(dict.fromkeys(used)),
                   {"over": "configurations", "groups": len(groups)}, write)
