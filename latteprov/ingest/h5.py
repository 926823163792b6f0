"""``ingest h5``: correlator files become products with DataFiles, and ``meta`` becomes lineage.

Each dataset path is matched against the layouts of the conventions; the fields of the path,
of the file name (when it fits a template) and of ``--ensemble``/``--stream`` build the node
the layout names. Collected files (``rows = "cfgs_srcs"``) give one node per row.

Every dataset is a product of its own. Which post-processing step made it follows CalLat's
code (nucleon_elastic_FF ``data/scripts/{tslice,average,fft}.py``), in this order:

- its ``meta`` attribute: ``t0==..&nt==..&tsep==..`` is a **tslice**; one line per averaged
  input (``...&x==..&y==..&z==..&t==..``) an **average**; ``max_momentum==k`` on the last line
  an **fft**;
- else the file name's node (``spec_4D_tslice_...``, ``..._src_avg_fft.h5``);
- else the layout's ``step``; a dataset of no step is the raw contraction output.

A step's inputs are the products of the step before, never the raw data: a tslice derives from
the 4D dataset at the same path, an average from the tslice product of each line (both spins
for a ``spin_avg`` spectrum), an FFT from its average, a projection from its FFT. Inputs are
named by their identity, never created: one that is not in the graph (nor earlier in the same
command) is a problem of the file (:func:`ingest_h5`).

A file is read whole before anything is written and written in one transaction: a file with
any problem (unreadable, a dataset fitting no layout, a bad or unresolved ``meta`` line) is
reported and left out, the other files are still ingested.
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
from latteprov.ingest.builder import Builder, derived_key
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
    """The rows one file means, the uids of its products by dataset path, and the inputs its
    ``meta`` lines name that the file does not create (uid -> where it was named)."""

    batch: GraphBatch
    products: dict[str, list[str]]
    needs: dict[str, str] = field(default_factory=dict)


# The CalLat post-processing steps, in the order a chain runs them (raw data first).
STEPS = ("raw", "tslice", "average", "fft", "project")
# Fields that say what an average or FFT is over, not what its inputs are.
_STEP_FIELDS = ("step", "sources", "avg_set", "max_momentum", "n1d_prev", "time_reversed", "file", "dataset")
_ORIGIN = ("x", "y", "z", "t")
_SPINS = ("spin_up", "spin_dn")
# Show at most this many examples of one kind of problem in a file's line.
_EXAMPLES = 3


def ensemble_of(filename: str) -> str | None:
    """The ensemble tag a collected file's name starts with (``a15m310-devel.h5`` -> a15m310)."""
    first = re.split(r"[-_.]", filename, maxsplit=1)[0]
    return first if decode_short_tag(first) else None


def read_file(conventions: Conventions, path: str, *, ensemble: str | None = None, stream: str | None = None,
              checksum: bool = False, named_as: str | None = None) -> FileContent:
    """The graph rows of one HDF5 file; raises :class:`H5Problem` listing every problem found."""
    base = os.path.basename(path)
    context: dict[str, Any] = {"file": base}
    found = conventions.match(named_as or base)  # a derive output written under another name
    #                                            reads as the CalLat name it stands for
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
    problems: dict[str, list[str]] = {}
    products: dict[str, list[str]] = {}
    needs: dict[str, str] = {}
    hostname = datafiles.host()
    abspath = os.path.abspath(path)
    file_step = _file_step(found.spec.step if found is not None else None)
    with handle:
        datasets: list[tuple[str, h5py.Dataset]] = []
        try:
            handle.visititems(lambda name, obj: datasets.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
        except (OSError, RuntimeError) as exc:
            raise H5Problem(f"cannot walk the file ({str(exc).splitlines()[0]})") from None
        for name, ds in datasets:
            if isinstance(name, bytes):  # h5py hands back names that are not UTF-8 as bytes
                problems.setdefault("name is not UTF-8", []).append(repr(name))
                continue
            try:
                reader = _Dataset(conventions, builder, ds, name, context, stream, abspath, hostname, file_step)
                products[name] = reader.build()
                needs.update(reader.needs)
            except (LatteprovError, OSError, KeyError, ValueError) as exc:
                cause = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                problems.setdefault(cause, []).append(name)
    if problems:
        causes = list(problems.items())
        text = "; ".join(_summary(cause, names) for cause, names in causes[:_EXAMPLES])
        if len(causes) > _EXAMPLES:
            text += f"; and {sum(len(n) for _, n in causes[_EXAMPLES:])} more datasets with {len(causes) - _EXAMPLES} other problems"
        raise H5Problem(text)
    builder.resolve_groups()
    props = datafiles.stat_props(stat)
    if checksum:
        props["checksum"] = datafiles.sha256(path)
    builder.batch.add_file(None, abspath, host=hostname, **props)
    batch = builder.take()
    made = {row["uid"] for row in batch.entities}
    return FileContent(batch, products, {uid: where for uid, where in needs.items() if uid not in made})


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit // 2 - 2] + "..." + text[-(limit // 2 - 2):]


def _summary(cause: str, datasets: list[str]) -> str:
    """One problem of a file: its cause, how many datasets have it and the first few of them."""
    cause = _short(cause, 300)
    shown = ", ".join(_short(d) for d in datasets[:_EXAMPLES]) + (f" and {len(datasets) - _EXAMPLES} more" if len(datasets) > _EXAMPLES else "")
    return f"dataset {shown}: {cause}" if len(datasets) == 1 else f"{len(datasets)} datasets ({shown}): {cause}"


def _file_step(step: str | None) -> str | None:
    """The step a file name says its datasets are at (``4D`` files hold the raw correlators)."""
    if step in STEPS:
        return step
    return "raw" if step == "4D" else None


def step_of_meta(lines: list[dict[str, str]]) -> str | None:
    """The CalLat step a ``meta`` attribute was written by (None: not one of CalLat's forms).

    tslice.py writes ``t0==T&nt==NT&tsep==TS`` (spectra) or ``t0==T&tsep==TS&nt==NT`` (form
    factors); average.py one line per input with ``x, y, z, t`` added; fft.py appends
    ``max_momentum==k&n1d_prev==L`` to the last line.
    """
    if not lines:
        return None
    keys = set().union(*lines)
    if "max_momentum" in keys:
        return "fft"
    if set(_ORIGIN) <= keys:
        return "average"
    if len(lines) == 1 and keys and keys <= {"t0", "nt", "tsep"}:
        return "tslice"
    return None


def sources_key(lines: list[dict[str, str]]) -> str:
    """The averaged source set of an average's lines: origins ``x3y3z19t62`` sorted, joined by
    ``+`` (the two spin lines of a source are one source)."""
    origins = {tuple(meta_int(line, k) for k in _ORIGIN) for line in lines if all(k in line for k in _ORIGIN)}
    return "+".join(f"x{x}y{y}z{z}t{t}" for x, y, z, t in sorted(origins))


class _Dataset:
    """One dataset of a file: its step, its node(s) and the inputs it names."""

    def __init__(self, conventions: Conventions, builder: Builder, ds: h5py.Dataset, name: str, context: dict,
                 stream: str | None, abspath: str, hostname: str, file_step: str | None) -> None:
        self.conventions, self.builder, self.ds, self.name = conventions, builder, ds, name
        self.abspath, self.hostname, self.file_step = abspath, hostname, file_step
        self.context, self.stream = context, stream
        self.needs: dict[str, str] = {}

    def _file(self, uid: str, dataset: str | None = None, shape: tuple | None = None, size: int | None = None) -> None:
        ds = self.ds
        self.builder.batch.add_file(uid, self.abspath, host=self.hostname, dataset=dataset or self.name,
                                    shape=str(ds.shape if shape is None else shape),
                                    size=ds.nbytes if size is None else size, status="on_disk", dtype=str(ds.dtype))

    def build(self) -> list[str]:
        """Build the node(s) of the dataset; the uids (empty for index datasets)."""
        conventions = self.conventions
        matched = conventions.layout(self.name)
        if matched is None:
            raise H5Problem("fits no layout")
        layout, path_fields = matched
        if layout.index:
            return []
        fields = {**self.context, **path_fields, "dataset": self.name}
        if self.stream:
            fields["stream"] = self.stream
        meta = self.ds.attrs.get("meta")
        lines = parse_meta(meta) if meta is not None else []
        if meta is not None and not lines:
            raise H5Problem("meta attribute is empty")
        disagree = [f"{k}={self.context[k]} in the file name, {path_fields[k]} in the path" for k in _ORIGIN
                    if self.context.get(k) is not None and path_fields.get(k) is not None
                    and self.context[k] != path_fields[k]]
        if disagree:
            raise H5Problem("file name and dataset path name different sources (" + "; ".join(disagree) + ")")
        if layout.rows:
            return self._rows(layout, fields, lines)
        if lines and layout.meta_input and layout.meta_step is None and step_of_meta(lines) is None:
            # a stack or average written by latteprov itself: its lines name inputs by uid or fields
            uid = derived_node(conventions, self.builder, layout, conventions.nodes[layout.derived or layout.node],
                               fields, lines)
            self._file(uid)
            return [uid]
        step = self._step(layout, lines)
        if step == "raw":
            if not layout.node:
                raise H5Problem(f"is not a product of a post-processing step (layout {layout.key}) and has no meta")
            uid = self.builder.build(conventions.nodes[layout.node], conventions.enrich(fields))
        else:
            uid = self._derived(layout, step, fields, lines)
        self._file(uid)
        return [uid]

    def _step(self, layout: LayoutSpec, lines: list[dict[str, str]]) -> str:
        by_meta = step_of_meta(lines)
        if layout.step == "project":
            return "project"
        if by_meta is not None:
            return by_meta
        if self.file_step is not None and (self.file_step != "raw" or layout.node):
            return self.file_step
        if layout.step:
            return layout.step
        if lines:
            raise H5Problem(f"meta line 1 {'&'.join(f'{k}=={v}' for k, v in lines[0].items())!r} "
                            "is none of CalLat's forms (tslice, average, fft)")
        return "raw"

    def _derived(self, layout: LayoutSpec, step: str, fields: dict, lines: list[dict[str, str]]) -> str:
        """The product of ``step`` at this dataset, derived from the products its meta names."""
        conventions, spec = self.conventions, self.conventions.nodes[layout.derived]
        own = dict(fields, step=step)
        inputs: list[tuple[str, str]] = []
        if step == "tslice" and lines:
            own.update({k: meta_int(lines[0], k) for k in lines[0]})
            self._check_tslice(own, fields)
            if layout.node:
                inputs.append(self._need(conventions.nodes[layout.node], fields, "the 4D correlator it was cut from"))
        elif step == "average" and lines:
            own.update(_common(lines), sources=sources_key(lines))
            inputs += self._average_inputs(layout, fields, lines)
        elif step == "fft" and lines:
            last = lines[-1]
            self._check_extent(last)
            own["max_momentum"] = meta_int(last, "max_momentum")
            if not 0 <= own["max_momentum"] or (self.ds.ndim >= 4 and self.ds.shape[1] != 2 * own["max_momentum"] + 1):
                raise H5Problem(f"meta says max_momentum=={own['max_momentum']}, but the data hold "
                                f"{self.ds.shape[1:4] if self.ds.ndim >= 4 else 'no'} momenta")
            avg_lines = [line for line in (_without(line, _FFT_KEYS) for line in lines) if line]
            if not avg_lines or step_of_meta(avg_lines) == "average":
                # an average without meta (a partial one, src_avg_0) is named by its file's subset
                average = dict(self._input_fields(fields, keep=("avg_set",)), step="average", **_common(avg_lines))
                if avg_lines:
                    average["sources"] = own["sources"] = sources_key(avg_lines)
                own.update(_common(avg_lines))
                inputs.append(self._need(conventions.nodes[self._layout_for_fft(layout).derived], average,
                                         "the average it transforms"))
        elif step == "project" and lines:
            fft_lines = [_without(line, _PICKED) for line in lines]
            picked = {key: meta_int(lines[-1], key) for key in lines[-1] if key in _MOMENTA}
            max_momentum = fft_lines[-1].get("max_momentum")
            fft = {key: value for key, value in self._input_fields(fields, keep=("avg_set",)).items()
                   if key not in picked}
            fft.update(_common(fft_lines), step="fft",
                       max_momentum=None if max_momentum is None else meta_int(fft_lines[-1], "max_momentum"))
            own.update({**picked, **_common(fft_lines)}, max_momentum=fft["max_momentum"],
                       time_reversed=lines[-1].get("time_reversed") == "1" or None)
            if sources_key(fft_lines):
                fft["sources"] = own["sources"] = sources_key(fft_lines)
            inputs.append(self._need(spec, fft, "the FFT it picks a momentum from"))
        if step in ("average", "fft", "project"):
            for key in _ORIGIN:  # an average is over sources: it has none of its own
                own.pop(key, None)
            own.pop("t0", None)
        if not lines and own.get("config") is None:
            # Nothing says which physics object this is (no meta, a file name of no template):
            # its location does, so two such datasets are never one node.
            own["inputs_key"] = derived_key(step, [], {"file": fields.get("file"), "dataset": self.name})
        return self.builder.build(spec, conventions.enrich(own), extra_inputs=sorted(set(inputs)))

    def _layout_for_fft(self, layout: LayoutSpec) -> LayoutSpec:
        """The layout of the average an FFT dataset transforms (spectra: the same path)."""
        if layout.step != "fft":
            return layout
        path = self.name.replace("momentum_current", "local_current")
        found = self.conventions.layout(path)
        if found is None:
            raise H5Problem(f"no layout for the average {path} it transforms")
        return found[0]

    def _check_extent(self, last: dict[str, str]) -> None:
        """fft.py writes ``n1d_prev==L``: the spatial extent it transformed must be the ensemble's."""
        nx = self.conventions.enrich(dict(self.context)).get("nx")
        if "n1d_prev" in last and nx is not None and meta_int(last, "n1d_prev") != int(nx):
            raise H5Problem(f"meta says the FFT was over L={last['n1d_prev']}, but {self.context.get('ensemble')} "
                            f"has L={nx}")

    def _input_fields(self, fields: dict, keep: tuple[str, ...] = ()) -> dict:
        """The dataset's fields that its inputs share (not what the step is over)."""
        return {k: v for k, v in fields.items() if k not in _STEP_FIELDS or k in keep}

    def _check_tslice(self, own: dict, fields: dict) -> None:
        """A tslice's meta must fit its data and its source: |tsep|+1 slices, t0 the source time,
        nt the ensemble's."""
        missing = [k for k in ("t0", "tsep") if own.get(k) is None]
        if missing:
            raise H5Problem(f"tslice meta lacks {', '.join(missing)}")
        if self.ds.shape and self.ds.shape[0] != abs(own["tsep"]) + 1:
            raise H5Problem(f"meta says tsep=={own['tsep']} ({abs(own['tsep']) + 1} time slices), "
                            f"but the data hold {self.ds.shape[0]}")
        if fields.get("t") is not None and own["t0"] != fields["t"]:
            raise H5Problem(f"meta says t0=={own['t0']}, but the source is at t={fields['t']}")
        nt = self.conventions.enrich(dict(self.context)).get("nt")
        if own.get("nt") is not None and nt is not None and own["nt"] != int(nt):
            raise H5Problem(f"meta says nt=={own['nt']}, but {self.context.get('ensemble')} has T={nt}")

    def _average_inputs(self, layout: LayoutSpec, fields: dict, lines: list[dict[str, str]]) -> list[tuple[str, str]]:
        """The product of each line (both spins for a spin average), one edge per distinct input."""
        spec = self.conventions.nodes[layout.meta_input] if layout.meta_input else None
        if spec is None:
            raise H5Problem(f"has an average's meta but layout {layout.key} names no meta_input")
        base = self._input_fields(fields)
        spins = _SPINS if fields.get("spin") == "spin_avg" else (fields.get("spin"),)
        inputs = []
        for lineno, line in enumerate(lines, 1):
            if not all(k in line for k in _ORIGIN):
                raise H5Problem(f"meta line {lineno} names no source (x, y, z, t)")
            values = {k: _number(v) for k, v in line.items()}
            for spin in spins:
                named = {**base, **values, "spin": spin}
                if layout.meta_step:
                    named["step"] = layout.meta_step
                inputs.append(self._need(spec, named, f"meta line {lineno}"))
        return list(dict.fromkeys(inputs))

    def _need(self, spec: NodeSpec, fields: dict, what: str) -> tuple[str, str]:
        """An input named by identity: its uid, remembered so that the caller checks it exists."""
        uid = self.conventions.uid_of(spec, self.conventions.enrich(fields))
        desc = ", ".join(f"{k}={fields[k]}" for k in ("step", "particle", "spin", "current", "x", "y", "z", "t")
                         if fields.get(k) is not None)
        self.needs.setdefault(uid, f"{self.name}: {what} ({spec.kind} {desc})")
        return uid, "input"

    def _rows(self, layout: LayoutSpec, fields: dict, lines: list[dict[str, str]]) -> list[str]:
        """A collected file: one node per row of its ``cfgs_srcs`` index (or one stack with meta)."""
        conventions, ds, name = self.conventions, self.ds, self.name
        if lines:
            uid = derived_node(conventions, self.builder, layout, conventions.nodes[layout.derived or layout.node],
                               fields, lines)
            self._file(uid)
            return [uid]
        spec = conventions.nodes[layout.node]
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
            uid = self.builder.build(spec, conventions.enrich({**fields, "config": int(config)}))
            self._file(uid, dataset=f"{name}[{i}]", shape=ds.shape[1:], size=row_bytes)
            uids.append(uid)
        return uids


_FFT_KEYS = ("max_momentum", "n1d_prev")
_MOMENTA = ("px", "py", "pz", "qx", "qy", "qz")
_PICKED = (*_MOMENTA, "time_reversed")


def _without(line: dict[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in line.items() if k not in keys}


def _common(lines: list[dict[str, str]]) -> dict[str, Any]:
    """What every line of an average's meta agrees on (nt, tsep ...), as numbers: the source
    (x, y, z, t and t0) and an FFT's own keys are not the average's."""
    if not lines:
        return {}
    skip = (*_ORIGIN, "t0", *_FFT_KEYS)
    return {k: _number(v) for k, v in lines[0].items()
            if k not in skip and all(line.get(k) == v for line in lines[1:])}


_INT64 = (-(2**63), 2**63 - 1)


def meta_int(line: dict[str, str], key: str) -> int:
    """The integer a meta line gives ``key``; H5Problem for text that is not a 64-bit integer."""
    text = line[key]
    try:
        value = int(text)
    except ValueError:
        raise H5Problem(f"meta value {key}=={text!r} is not an integer") from None
    if not _INT64[0] <= value <= _INT64[1]:
        raise H5Problem(f"meta value {key}=={text} is beyond 64-bit integers")
    return value


def _number(text: str) -> Any:
    """A meta value as a number where it is one (meta values are text); finite, 64-bit."""
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return text
        if not np.isfinite(number):
            raise H5Problem(f"meta value {text!r} is not a finite number") from None
        return number
    if not _INT64[0] <= value <= _INT64[1]:
        raise H5Problem(f"meta value {text} is beyond 64-bit integers")
    return value


def derived_node(conventions: Conventions, builder: Builder, layout: LayoutSpec, spec: NodeSpec,
                 context: dict, lines: list[dict[str, str]]) -> str:
    """A stack (``derive concatenate``) whose ``meta`` lines name its inputs by uid or fields."""
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


def chain_rank(conventions: Conventions, path: str) -> int:
    """Where a file's step sits in a chain (raw 0, tslice 1 ... project 4) by its name; files
    of unknown names first."""
    try:
        found = conventions.match(os.path.basename(path))
    except LatteprovError:
        return 0
    step = _file_step(found.spec.step) if found is not None else None
    return STEPS.index(step) if step else 0


def missing_inputs(store: Store, needs: dict[str, str], known: set[str] = frozenset()) -> H5Problem | None:
    """The problem of a file whose ``meta`` names inputs (uid -> where named) that neither the
    graph nor ``known`` (uids about to be written with it) holds; None when all are there."""
    asked = [uid for uid in needs if uid not in known]
    if not asked:
        return None
    found = set(store.read("existing_uids", entities=asked, runs=[], files=[])[0]["entities"])
    absent = [needs[uid] for uid in asked if uid not in found]
    if not absent:
        return None
    shown = "; ".join(absent[:_EXAMPLES]) + (f"; and {len(absent) - _EXAMPLES} more" if len(absent) > _EXAMPLES else "")
    return H5Problem(f"{len(absent)} input(s) named by meta are not recorded, nothing linked "
                     f"(ingest the files they come from first, or in the same command): {shown}")


# Files are written together until their rows reach this many entities (one transaction).
FLUSH_ENTITIES = 5_000


def ingest_h5(store: Store, conventions: Conventions, paths: Iterable[str], *, ensemble: str | None = None,
              stream: str | None = None, checksum: bool = False,
              advance: Callable[[int], None] | None = None) -> H5Report:
    """Ingest HDF5 files, earlier steps of a chain first (4D, tslice, average, FFT, projection,
    by file name), so one command can take a whole chain in any order; problems are collected,
    one line per file.

    Good files are written together, about :data:`FLUSH_ENTITIES` entities per transaction;
    should the database refuse such a transaction (a cycle, a consistency rule), its files are
    written again one by one, so exactly the refused files are left out and reported.
    """
    report = H5Report()
    pending: list[tuple[str, FileContent]] = []
    pending_uids: set[str] = set()

    def flush() -> None:
        if not pending:
            return
        batch = GraphBatch()
        for _, content in pending:
            batch.extend(content.batch)
        try:
            report.written += graph.write(store, batch)
            report.ingested += len(pending)
            report.nodes += sum(len(content.batch.entities) for _, content in pending)
        except LatteprovError:
            for path, content in pending:  # tell which file the database refused
                try:
                    report.written += graph.write(store, content.batch)
                    report.ingested += 1
                    report.nodes += len(content.batch.entities)
                except LatteprovError as exc:
                    report.problems.append(f"{path}: {exc}")
        pending.clear()
        pending_uids.clear()

    named: dict[str, str] = {}
    for path in paths:  # f and ./f are one file, named as first given
        named.setdefault(os.path.abspath(str(path)), str(path))
    for path in sorted(named.values(), key=lambda p: chain_rank(conventions, p)):
        report.files += 1
        try:
            content = read_file(conventions, path, ensemble=ensemble, stream=stream, checksum=checksum)
            problem = missing_inputs(store, content.needs, pending_uids)
            if problem is not None:
                raise problem
            pending.append((path, content))
            pending_uids.update(row["uid"] for row in content.batch.entities)
            if len(pending_uids) >= FLUSH_ENTITIES:
                flush()
        except LatteprovError as exc:
            report.problems.append(f"{path}: {exc}")
        if advance:
            advance(1)
    flush()
    return report
