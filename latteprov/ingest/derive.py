"""Recorded post-processing: CalLat's steps (tslice, source average, FFT, momentum projection)
and concatenation over configurations.

Each step first ingests its input files (so every input is a node), then, inside a recorded
Run, computes with numpy exactly what CalLat's code computes (callat-qcd/nucleon_elastic_FF:
``nucleon_elastic_ff/data/scripts/tslice.py``, ``average.py``, ``fft.py``, and
``scripts/utils.py::time_reverse``), writes the HDF5 output with the ``meta`` attribute in
CalLat's form, and records the output by reading the written file back through
:func:`latteprov.ingest.h5.read_file`: what the graph says about an output is exactly what
``ingest h5`` recovers from the file alone, each output derived from the products it read.

Array layout (CalLat's): a 4D correlator is ``(Nt, L, L, L, 2)`` float, axes ``t, z, y, x`` and
``(re, im)``; an FFT is ``(Nt', 2k+1, 2k+1, 2k+1)`` complex, momentum ``p`` at index
``p mod (2k+1)`` on axes ``pz, py, px``.
"""
from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import h5py
import numpy as np

from latteprov import graph, record
from latteprov.errors import InputError
from latteprov.ingest.conventions import Conventions
from latteprov.ingest.h5 import FileContent, meta_int, missing_inputs, read_file, sources_key
from latteprov.ingest.meta import format_meta, meta_text, parse_meta
from latteprov.store import Store

ORIGIN = ("x", "y", "z", "t")
# CalLat's per-source dataset paths (tslice.py's dset patterns) and the source in them.
_SPEC_4D = re.compile(r"^pt/spec/(?P<particle>[a-z]+(?:_np)?)/(?P<spin>spin_(?:up|dn))/4D_correlator/"
                      r"x(?P<x>\d+)_y(?P<y>\d+)_z(?P<z>\d+)_t(?P<t>\d+)$")
_FORMFAC_4D = re.compile(r"^pt/formfac/(?P<particle>[a-z]+(?:_np)?)_[A-Z]+_(?:up|dn)_(?:up|dn)_t0_(?P<t0>\d+)_"
                         r"tsep_(?P<tsep>-?\d+)_.*/x(?P<x>\d+)_y(?P<y>\d+)_z(?P<z>\d+)_t(?P<t>\d+)/"
                         r"4D_correlator/local_current$")
# average.py's dset_replace_pattern: the source becomes src_avg, t0 goes, both spins become spin_avg.
_SOURCE = re.compile(r"x(?P<x>[0-9]+)_y(?P<y>[0-9]+)_z(?P<z>[0-9]+)_t(?P<t>[0-9]+)")
_T0 = re.compile(r"t0_(?P<t0>[0-9]+)_")
_SPIN = re.compile(r"spin_(?:up|dn)")
_AVERAGES = re.compile(r"(^pt/spec/[a-z_]+/spin_avg/4D_correlator/src_avg$)|(/src_avg/4D_correlator/local_current$)")


@dataclass
class Derived:
    """What a derive step wrote and recorded."""

    outputs: list[str]
    run: str
    datasets: dict[str, str]  # "file:dataset" -> uid of the derived dataset
    inputs: int

    @property
    def output(self) -> str:
        """The (first) file written."""
        return self.outputs[0]


def _ingest_inputs(store: Store, conventions: Conventions, paths: list[str]) -> dict[str, FileContent]:
    """Read and record every input file (one transaction each); refuse what cannot be read."""
    contents = {}
    for path in paths:
        try:
            contents[path] = read_file(conventions, path)
            problem = missing_inputs(store, contents[path].needs)
            if problem is not None:
                raise problem
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        graph.write(store, contents[path].batch)
    return contents


@dataclass(frozen=True)
class _Output:
    """A file a step writes, and the CalLat name it is read back as (its own, unless ``-o``
    gave it another)."""

    path: str
    callat: str


def _record(store: Store, conventions: Conventions, step: str, outputs: list[_Output], inputs: list[str],
            params: dict, write: Callable[[], None]) -> Derived:
    """Run ``write()`` inside a recorded Run, then record the written files' datasets as its outputs."""
    with record.run(step, params=params, inputs=inputs, store=store, offline=False) as run:
        try:
            write()
            for output in outputs:  # all or nothing: a failed step leaves no output behind
                os.replace(partial(output.path), output.path)
        finally:
            for output in outputs:
                if os.path.exists(partial(output.path)):
                    os.remove(partial(output.path))
        recorded = {}
        for output in outputs:
            content = read_file(conventions, output.path, named_as=output.callat)
            problem = missing_inputs(store, content.needs)
            if problem is not None:
                raise InputError(f"{output.path}: {problem}")
            graph.write(store, content.batch)
            rows = {row["uid"]: row for row in content.batch.entities}
            for dataset, uids in content.products.items():
                for uid in uids:
                    props = {k: v for k, v in rows[uid]["props"].items() if k not in ("uid", "kind", "name")}
                    used = [e["to"] for e in content.batch.edges if e["from"] == uid and e["role"] == "input"]
                    run.output(rows[uid]["props"]["kind"], name=rows[uid]["props"]["name"], inputs={"input": used},
                               **props)
                    recorded[f"{os.path.basename(output.path)}:{dataset}"] = uid
    return Derived([output.path for output in outputs], run.uid, recorded, len(inputs))


def partial(path: str) -> str:
    """Where a step writes ``path`` until the whole step has succeeded."""
    return f"{path}.partial"


def _products(contents: dict[str, FileContent]) -> list[str]:
    return list(dict.fromkeys(uid for content in contents.values() for uids in content.products.values()
                              for uid in uids))


def _output_path(path: str, output: str | None, rename: Callable[[str], str]) -> _Output:
    """Where the output of input ``path`` goes: ``output`` if it names a file, else CalLat's name
    for it (``rename`` of the input's name) in ``output`` (a directory) or beside the input. An
    output under another name is read back as the CalLat name it stands for (its fields)."""
    callat = rename(os.path.basename(path))
    if output and not os.path.isdir(output):
        return _Output(output, callat)
    folder = output or os.path.dirname(path)
    return _Output(os.path.join(folder, callat) if folder else callat, callat)


def _check_outputs(conventions: Conventions, outputs: list[_Output]) -> None:
    """Before anything is written: refuse outputs that exist, two outputs at one path, a folder
    that is not there or not writable, and an output whose CalLat name fits no template (its
    datasets could not be read back as what they are)."""
    paths = [output.path for output in outputs]
    if len(set(paths)) != len(paths):
        raise InputError("two inputs would write one output file (give -o a directory, or each input once)")
    for output in outputs:
        if os.path.exists(output.path):
            raise InputError(f"{output.path} exists; latteprov does not overwrite a recorded output")
        folder = os.path.dirname(os.path.abspath(output.path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise InputError(f"{folder}: not a writable directory")
        if conventions.match(output.callat) is None:
            raise InputError(f"{output.callat}: the output's name fits no CalLat template, so these inputs are not "
                             "what this step takes")


@dataclass(frozen=True)
class _Dataset:
    """What a step reads of an input dataset before it decides: its path, shape and ``meta``."""

    name: str
    shape: tuple[int, ...]
    meta: str | None


def _datasets(path: str) -> list[_Dataset]:
    """Every dataset of an input file (the file is closed again)."""
    found: list[_Dataset] = []

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset):
            meta = obj.attrs.get("meta")
            found.append(_Dataset(name, obj.shape, None if meta is None else meta_text(meta)))

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file ({str(exc).splitlines()[0]})") from None
    return found


def _appended(meta: str | None, text: str) -> str:
    """CalLat's way to extend a meta attribute: ``old&new`` (after the last line of old)."""
    return f"{meta}&{text}" if meta else text


# What a step makes of one input dataset: its data -> (output dataset, data, meta).
Job = Callable[[np.ndarray], tuple[str, np.ndarray, str]]


def _per_file(store: Store, conventions: Conventions, step: str, paths: list[str], output: str | None,
              rename: Callable[[str], str], plan: Callable[[str, _Dataset], Job | None], nothing: str,
              params: dict) -> Derived:
    """The shape of tslice, fft and project: each input file gives one output file (CalLat's
    name for it, by ``rename``), each dataset ``plan`` takes one output dataset. ``plan`` returns
    None to skip a dataset and raises InputError to refuse it; every input is planned, every
    output checked and every input recorded before the Run starts."""
    plans = []
    for path in paths:
        jobs = [(ds.name, job) for ds in _datasets(path) if (job := plan(path, ds)) is not None]
        if not jobs:
            raise InputError(f"{path}: {nothing}")
        plans.append((path, _output_path(path, output, rename), jobs))
    outputs = [target for _, target, _ in plans]
    _check_outputs(conventions, outputs)
    contents = _ingest_inputs(store, conventions, paths)

    def write() -> None:
        for path, target, jobs in plans:
            with h5py.File(path, "r") as src, h5py.File(partial(target.path), "w") as out:
                for name, job in jobs:
                    out_name, data, meta = job(src[name][()])
                    out.create_dataset(out_name, data=data).attrs["meta"] = meta

    return _record(store, conventions, step, outputs, _products(contents), params, write)


def _check_4d(path: str, name: str, shape: tuple[int, ...]) -> None:
    """A 4D correlator or its average is ``(Nt, L, L, L, 2)``."""
    if len(shape) != 5 or shape[-1] != 2 or not shape[1] == shape[2] == shape[3]:
        raise InputError(f"{path}: {name}: shape {shape} is not (Nt, L, L, L, 2)")


# -- tslice ------------------------------------------------------------------------------------
def time_slices(t0: int, tsep: int, nt: int) -> tuple[list[int], np.ndarray]:
    """CalLat's ``get_t_slices``: indices ``t0, t0+s, ..., t0+tsep`` mod ``nt`` (``s`` the sign of
    tsep, so |tsep|+1 slices) and a factor -1 for each slice that wrapped around the lattice."""
    step = 1 if tsep >= 0 else -1
    actual = range(t0, t0 + tsep + step, step)
    return [t % nt for t in actual], np.array([-1 if (t < 0 or t >= nt) else 1 for t in actual])


def tslice_array(data: np.ndarray, t0: int, tsep: int, origin: tuple[int, int, int], sign_flip: bool) -> np.ndarray:
    """The time-slice cut of one 4D correlator ``(Nt, L, L, L, 2)``: slices of :func:`time_slices`,
    times the boundary factor along time when ``sign_flip`` (spectra), rolled so the source
    ``origin = (x, y, z)`` sits at the spatial origin. Shape ``(|tsep|+1, L, L, L, 2)``."""
    index, factor = time_slices(t0, tsep, data.shape[0])
    out = data[index]
    if sign_flip:
        out = out * factor.reshape((-1,) + (1,) * (out.ndim - 1))
    x, y, z = origin
    for axis, shift in enumerate((z, y, x)):
        out = np.roll(out, -shift, axis=axis + 1)
    return out


def tslice(store: Store, conventions: Conventions, paths: list[str], output: str | None = None, *,
           tslice_fact: float | None = None) -> Derived:
    """Cut each per-source 4D correlator of INPUTS to its source-sink window (CalLat's tslice.py).

    Form factors take t0 and tsep from their dataset path and keep their sign; spectra take t0
    from the source and ``tsep = int(nt * tslice_fact)`` (negative for ``_np``), and wrapped
    slices get the antiperiodic factor -1. ``meta`` gets ``t0==..&nt==..&tsep==..`` (spectra) or
    ``t0==..&tsep==..&nt==..`` (form factors). Outputs are named ``spec_4D_tslice_...`` /
    ``formfac_4D_tslice_...`` after their inputs. Raises InputError for a spectrum without
    ``tslice_fact`` or a file with no 4D dataset.
    """
    if tslice_fact is not None and not (math.isfinite(tslice_fact) and 0 < tslice_fact < 1):
        raise InputError(f"--tslice-fact must be between 0 and 1 (tsep = int(Nt * fact)), not {tslice_fact}")

    def plan(path: str, ds: _Dataset) -> Job | None:
        formfac, spec = _FORMFAC_4D.match(ds.name), _SPEC_4D.match(ds.name)
        if not (formfac or spec):
            return None
        if ds.meta is not None:
            raise InputError(f"{path}: {ds.name}: has meta: it is a product of a step already, not a 4D correlator")
        _check_4d(path, ds.name, ds.shape)
        nt = ds.shape[0]
        if formfac:
            info = {"t0": int(formfac["t0"]), "tsep": int(formfac["tsep"]), "nt": nt}
        else:
            if tslice_fact is None:
                raise InputError(f"{path}: {ds.name}: a spectrum needs --tslice-fact (tsep = int(Nt * fact))")
            tsep = int(nt * tslice_fact)
            if tsep < 1:
                raise InputError(f"{path}: {ds.name}: --tslice-fact {tslice_fact} keeps no time slice after the "
                                 f"source (Nt = {nt})")
            info = {"t0": int(spec["t"]), "nt": nt, "tsep": -tsep if spec["particle"].endswith("_np") else tsep}
        if not 0 <= info["t0"] < nt or abs(info["tsep"]) >= nt:
            raise InputError(f"{path}: {ds.name}: t0={info['t0']}, tsep={info['tsep']} do not fit Nt={nt}")
        source = _SOURCE.search(ds.name)
        origin = (int(source["x"]), int(source["y"]), int(source["z"]))
        meta = "&".join(f"{k}=={v}" for k, v in info.items())
        return lambda data: (ds.name, tslice_array(data, info["t0"], info["tsep"], origin, sign_flip=bool(spec)), meta)

    return _per_file(store, conventions, "tslice", paths, output,
                     lambda name: name.replace("formfac_4D", "formfac_4D_tslice", 1).replace("spec_4D", "spec_4D_tslice", 1),
                     plan, "no per-source 4D correlator to slice", {"tslice_fact": tslice_fact})


# -- average -----------------------------------------------------------------------------------
def average_key(dataset: str) -> tuple[str, dict[str, str]] | None:
    """average.py's rewrite of a per-source dataset path: the path it is averaged into (source ->
    ``src_avg``, ``t0_N_`` dropped, ``spin_up``/``spin_dn`` -> ``spin_avg``) and its line's keys
    (x, y, z, t, then t0 for form factors); None for a dataset of no source."""
    source = _SOURCE.search(dataset)
    if source is None:
        return None
    keys = dict(source.groupdict())
    t0 = _T0.search(dataset)
    if t0:
        keys.update(t0.groupdict())
    target = _T0.sub("", _SOURCE.sub("src_avg", dataset))
    return _SPIN.sub("spin_avg", target), keys


def _one_configuration(conventions: Conventions, paths: list[str]) -> None:
    """average.py groups files whose names agree on everything but the source: inputs of two
    configurations (or parameter sets) are refused, not averaged into one of them."""
    keys: dict[tuple, str] = {}
    for path in paths:
        found = conventions.match(os.path.basename(path))
        if found is None:
            raise InputError(f"{path}: its name fits no CalLat template, so its configuration is not known")
        key = (found.spec.key, *sorted((k, str(v)) for k, v in found.fields.items() if k not in ORIGIN))
        keys.setdefault(key, path)
    if len(keys) > 1:
        first, second = list(keys.values())[:2]
        raise InputError(f"inputs differ in more than their source ({os.path.basename(first)} and "
                         f"{os.path.basename(second)}): average the files of one configuration at a time")


def average(store: Store, conventions: Conventions, paths: list[str], output: str | None = None) -> Derived:
    """Average per-source correlators over their sources, and spectra over both spins (CalLat's
    average.py): the sum of every dataset that rewrites to the same path, divided by their count.
    Each output dataset's ``meta`` has one line per input: the input's meta, then
    ``x==..&y==..&z==..&t==..`` (and ``t0==..`` for form factors). Raises InputError when
    inputs differ in shape or nothing has a source."""
    _one_configuration(conventions, paths)
    groups: dict[str, list[tuple[str, str, str]]] = defaultdict(list)  # target -> (file, dataset, line)
    for path in paths:
        for ds in _datasets(path):
            found = average_key(ds.name)
            if found is None:
                continue
            target, keys = found
            groups[target].append((path, ds.name, _appended(ds.meta, "&".join(f"{k}=={v}" for k, v in keys.items()))))
    if not groups:
        raise InputError("no per-source dataset to average in " + ", ".join(paths))
    first = paths[0]
    target_file = _output_path(first, output, lambda name: re.sub(r"x[0-9]+y[0-9]+z[0-9]+t[0-9]+", "src_avg", name)
                               .replace("formfac_4D_tslice", "formfac_4D_tslice_src_avg", 1)
                               .replace("spec_4D_tslice", "spec_4D_tslice_avg", 1))
    _check_outputs(conventions, [target_file])
    contents = _ingest_inputs(store, conventions, paths)

    def write() -> None:
        with h5py.File(partial(target_file.path), "w") as out:
            for target, items in sorted(groups.items()):
                total = None
                shapes = set()
                for path, name, _ in items:
                    with h5py.File(path, "r") as handle:
                        data = handle[name][()]
                    shapes.add(data.shape)
                    if len(shapes) > 1:
                        raise InputError(f"{target}: inputs differ in shape: {sorted(shapes)}")
                    total = data if total is None else total + data
                ds = out.create_dataset(target, data=total / len(items))
                ds.attrs["meta"] = "\n".join(line for _, _, line in items)

    return _record(store, conventions, "average", [target_file], _products(contents),
                   {"over": "sources and spins", "groups": len(groups)}, write)


# -- FFT ---------------------------------------------------------------------------------------
def fft_array(data: np.ndarray, max_momentum: int) -> np.ndarray:
    """CalLat's FFT of a 4D correlator ``(Nt, L, L, L, 2)``: complex from the last axis, ``ifftn``
    over the three spatial axes times L^3 (so ``sum_n exp(+2 pi i n.p / L) f(n)``), momenta
    ``|p_i| <= max_momentum`` kept in FFT order. Shape ``(Nt, 2k+1, 2k+1, 2k+1)`` complex."""
    arr = data[..., 0] + 1j * data[..., 1]
    n1d = arr.shape[-1]
    out = np.fft.ifftn(arr, axes=(-1, -2, -3)) * (arr.shape[-1] * arr.shape[-2] * arr.shape[-3])
    keep = list(range(max_momentum + 1)) + [p % n1d for p in range(-max_momentum, 0)]
    for axis in (-1, -2, -3):
        out = np.take(out, keep, axis=axis)
    return out


def fft(store: Store, conventions: Conventions, paths: list[str], output: str | None = None, *,
        max_momentum: int = 5) -> Derived:
    """Fourier-transform the source averages of INPUTS (CalLat's fft.py): each average dataset
    becomes its FFT (a form factor's ``local_current`` is written ``momentum_current``), with
    ``&max_momentum==k&n1d_prev==L`` appended to its meta. Outputs are named ``..._fft.h5``.
    Raises InputError for a file with no average or a non-cubic one."""
    if max_momentum < 0:
        raise InputError(f"--max-momentum must be >= 0, not {max_momentum}")

    def plan(path: str, ds: _Dataset) -> Job | None:
        if not _AVERAGES.search(ds.name):
            return None
        _check_4d(path, ds.name, ds.shape)
        if 2 * max_momentum + 1 > ds.shape[1]:
            raise InputError(f"{path}: {ds.name}: --max-momentum {max_momentum} keeps {2 * max_momentum + 1} momenta "
                             f"per axis, more than L={ds.shape[1]} has")
        meta = _appended(ds.meta, f"max_momentum=={max_momentum}&n1d_prev=={ds.shape[-2]}")
        return lambda data: (ds.name.replace("local_current", "momentum_current"), fft_array(data, max_momentum), meta)

    return _per_file(store, conventions, "fft", paths, output, lambda name: re.sub(r"\.h5$", "_fft.h5", name),
                     plan, "no source average to transform", {"max_momentum": max_momentum})


# -- momentum projection and time reversal ----------------------------------------------------
def time_reverse(corr: np.ndarray, phase: int) -> np.ndarray:
    """CalLat's ``utils.time_reverse`` on axis 0: ``C'(t) = phase * C(-t mod Nt)`` for t >= 1 and
    ``C'(0) = C(0)``."""
    out = phase * np.roll(corr[::-1], 1, axis=0)
    out[0] = phase * out[0]
    return out


def project(store: Store, conventions: Conventions, paths: list[str], output: str | None = None, *,
            momentum: tuple[int, int, int] = (0, 0, 0), time_reversal: bool = False,
            truncate: int | None = None) -> Derived:
    """Pick one momentum out of the FFTs of INPUTS: ``data[:, pz, py, px]`` (spectra: the hadron's
    momentum, written ``pt/spec/<particle>/spin_avg/px.._py.._pz../src_avg``; form factors: the
    current's, written ``.../src_avg/qx.._qy.._qz../local_current``). With ``time_reversal``,
    negative-parity correlators are time-reversed (phase -1 for spectra, +1 for form factors,
    whose boundary sign is already in) and, with ``truncate`` N, cut to their first N slices.
    ``meta`` is the FFT's with ``&px==..&py==..&pz==..`` (or qx..) appended, and
    ``&time_reversed==1`` when reversed. Outputs are named ``..._fft_proj.h5``."""
    if truncate is not None and truncate < 1:
        raise InputError(f"--truncate must be >= 1, not {truncate}")
    px, py, pz = momentum

    def plan(path: str, ds: _Dataset) -> Job | None:
        lines = parse_meta(ds.meta) if ds.meta is not None else []
        if not lines or "max_momentum" not in lines[-1] or any(k in lines[-1] for k in ("px", "qx")):
            return None  # not an FFT (a projection carries the momentum it picked)
        k = meta_int(lines[-1], "max_momentum")
        if max(abs(px), abs(py), abs(pz)) > k:
            raise InputError(f"{path}: {ds.name}: momentum {momentum} is beyond its max_momentum {k}")
        if ds.shape[1:] != (2 * k + 1,) * 3:
            raise InputError(f"{path}: {ds.name}: shape {ds.shape} is not (Nt, {2 * k + 1}, {2 * k + 1}, {2 * k + 1})")
        formfac = ds.name.startswith("pt/formfac/")
        reversed_ = time_reversal and "_np" in ds.name
        if formfac:
            target = ds.name.replace("4D_correlator/momentum_current", f"qx{px}_qy{py}_qz{pz}/local_current")
            picked = {"qx": px, "qy": py, "qz": pz}
        else:
            target = ds.name.replace("4D_correlator/src_avg", f"px{px}_py{py}_pz{pz}/src_avg")
            picked = {"px": px, "py": py, "pz": pz}
        meta = _appended(ds.meta, "&".join(f"{key}=={v}" for key, v in picked.items())
                         + ("&time_reversed==1" if reversed_ else ""))

        def job(data: np.ndarray) -> tuple[str, np.ndarray, str]:
            data = data[:, pz, py, px]
            if reversed_:
                data = time_reverse(data, +1 if formfac else -1)
            return target, data if truncate is None else data[:truncate], meta

        return job

    return _per_file(store, conventions, "project", paths, output, lambda name: re.sub(r"\.h5$", "_proj.h5", name),
                     plan, "no FFT to project",
                     {"momentum": list(momentum), "time_reversal": time_reversal, "truncate": truncate})


# -- concatenation -----------------------------------------------------------------------------
def concatenate(store: Store, conventions: Conventions, paths: list[str], output: str | None = None) -> Derived:
    """Stack per-configuration correlators into one dataset per group, with a ``cfgs_srcs`` index."""
    if not output:
        raise InputError("concatenate needs -o OUTPUT")
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
                sources = len(sources_key(parse_meta(meta)).split("+")) if meta is not None else 1
                groups[target].append((int(props["config"]), sources, uids[0], handle[dataset][()]))
    if not groups:
        raise InputError("no per-configuration dataset to concatenate in " + ", ".join(paths))
    used = [uid for items in groups.values() for _, _, uid, _ in items]

    def write() -> None:
        with h5py.File(partial(output), "w") as out:
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

    return _record(store, conventions, "concatenate", [_Output(output, os.path.basename(output))],
                   list(dict.fromkeys(used)),
                   {"over": "configurations", "groups": len(groups)}, write)
