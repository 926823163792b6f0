"""``latteprov ingest h5`` over CalLat post-processing chains: datasets per second.

Writes, for each of N configurations of a15m310, the files of a whole chain in CalLat's layouts
(docs/ingest.md, "CalLat's layouts"): per source a ``spec_4D_`` and a ``formfac_4D_`` file and
their ``_tslice`` files, the spectrum and form-factor source averages and their FFTs, with
``meta`` in CalLat's forms. The arrays are tiny (ingest reads paths, shapes and attributes, not
data). Then times, in the same run:

- the baseline: an h5py walk of every file reading each dataset's ``meta`` (the floor of any
  reader of these files);
- ``ingest_h5`` of all files in one call into an empty graph (one transaction per file).

    python -m benchmarks.h5_chain                # 13 configurations: 10,244 datasets
    python -m benchmarks.h5_chain --configs 2

Without ``NEO4J_URI`` a throwaway server is started (temporary home, free port, no auth).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from benchmarks.server import empty_store
from latteprov.ingest import conventions
from latteprov.ingest.h5 import ingest_h5

ENS = "a15m310_a_{cfg}_gf1.0_w3.0_n30_M51.3_L512_a1.5_mq0.0158"
L, NT, TSEP = 16, 48, 6
SOURCES = [(x, (3 * x) % L, (5 * x) % L, (6 * x) % NT) for x in range(8)]
PARTICLES = ("proton", "proton_np")
FLAV_SPINS = ("UU_up_up", "UU_dn_dn", "DD_up_up", "DD_dn_dn")
CURRENTS = ("A3", "V4", "P", "S", "T34")
DATA = np.zeros((2, 2, 2, 2, 2))


def _src(s) -> str:
    return "x%dy%dz%dt%d" % s


def _path(s) -> str:
    return "x%d_y%d_z%d_t%d" % s


def _tsep(particle: str) -> int:
    return -TSEP if particle.endswith("_np") else TSEP


def _write(path: Path, datasets: dict[str, str | None]) -> None:
    with h5py.File(path, "w") as f:
        for name, meta in datasets.items():
            ds = f.create_dataset(name, data=DATA)
            if meta is not None:
                ds.attrs["meta"] = meta


def make_chain(folder: Path, cfg: int) -> tuple[list[Path], int]:
    """The files of one configuration's chain and how many datasets they hold."""
    ens = ENS.format(cfg=cfg)
    files: list[Path] = []
    count = 0
    spec_lines, ff_lines = [], {}
    for s in SOURCES:
        spec = {f"pt/spec/{p}/{spin}/4D_correlator/{_path(s)}": (p, spin) for p in PARTICLES
                for spin in ("spin_up", "spin_dn")}
        ff = {f"pt/formfac/{p}_{fs}_t0_{s[3]}_tsep_{_tsep(p)}_sink_mom_px0_py0_pz0/{cur}/{_path(s)}/4D_correlator/"
              f"local_current": (p, fs, cur) for p in PARTICLES for fs in FLAV_SPINS for cur in CURRENTS}
        for prefix, group in (("spec_4D", spec), ("formfac_4D", ff)):
            suffix = "" if prefix == "spec_4D" else f"_px0py0pz0_dt{TSEP}_Srcs0-7"
            tail = "" if prefix == "spec_4D" else "_SS"
            raw = folder / f"{prefix}_{ens}{suffix}_{_src(s)}{tail}.h5"
            _write(raw, dict.fromkeys(group))
            cut = folder / f"{prefix}_tslice_{ens}{suffix}_{_src(s)}{tail}.h5"
            metas = {}
            for name, key in group.items():
                tsep = _tsep(key[0])
                metas[name] = (f"t0=={s[3]}&nt=={NT}&tsep=={tsep}" if prefix == "spec_4D"
                               else f"t0=={s[3]}&tsep=={tsep}&nt=={NT}")
            _write(cut, metas)
            files += [raw, cut]
            count += 2 * len(group)
        for p in PARTICLES:
            line = f"t0=={s[3]}&nt=={NT}&tsep=={_tsep(p)}&x=={s[0]}&y=={s[1]}&z=={s[2]}&t=={s[3]}"
            spec_lines.append((p, line))
            spec_lines.append((p, line))  # one line per spin, as CalLat writes them
            for fs in FLAV_SPINS:
                for cur in CURRENTS:
                    ff_lines.setdefault((p, fs, cur), []).append(
                        f"t0=={s[3]}&tsep=={_tsep(p)}&nt=={NT}&x=={s[0]}&y=={s[1]}&z=={s[2]}&t=={s[3]}&t0=={s[3]}")
    spec_avg = {f"pt/spec/{p}/spin_avg/4D_correlator/src_avg": "\n".join(l for q, l in spec_lines if q == p)
                for p in PARTICLES}
    ff_avg = {f"pt/formfac/{p}_{fs}_tsep_{_tsep(p)}_sink_mom_px0_py0_pz0/{cur}/src_avg/4D_correlator/local_current":
              "\n".join(lines) for (p, fs, cur), lines in ff_lines.items()}
    fft = "&max_momentum==2&n1d_prev==%d" % L
    outputs = {
        f"spec_4D_tslice_avg_{ens}_src_avg0-7.h5": spec_avg,
        f"spec_4D_tslice_avg_{ens}_src_avg0-7_fft.h5": {k: v + fft for k, v in spec_avg.items()},
        f"formfac_4D_tslice_src_avg_{ens}_px0py0pz0_dt{TSEP}_Srcs0-7_src_avg0-7_SS.h5": ff_avg,
        f"formfac_4D_tslice_src_avg_{ens}_px0py0pz0_dt{TSEP}_Srcs0-7_src_avg0-7_SS_fft.h5":
            {k.replace("local_current", "momentum_current"): v + fft for k, v in ff_avg.items()},
    }
    for name, datasets in outputs.items():
        _write(folder / name, datasets)
        files.append(folder / name)
        count += len(datasets)
    return files, count


def walk(files: list[Path]) -> int:
    """The baseline: open every file, visit every dataset, read its meta."""
    seen = 0

    def visit(name: str, obj: object) -> None:
        nonlocal seen
        if isinstance(obj, h5py.Dataset):
            obj.attrs.get("meta")
            seen += 1

    for path in files:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=13)
    args = parser.parse_args()
    preset = conventions.load()
    with empty_store() as store, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files: list[Path] = []
        datasets = 0
        for cfg in range(300, 300 + 5 * args.configs, 5):
            more, n = make_chain(folder, cfg)
            files += more
            datasets += n
        started = time.perf_counter()
        assert walk(files) == datasets
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        report = ingest_h5(store, preset, [str(f) for f in files])
        seconds = time.perf_counter() - started
        if report.problems:
            raise SystemExit(f"ingest refused {len(report.problems)} files: {report.problems[0]}")
        steps = store.run_text("MATCH (n:Entity) WHERE EXISTS { (n)-[:STORED_AT]->(:DataFile) } "
                               "RETURN coalesce(n.step, n.kind + ' (raw)') AS step, count(n) AS nodes, "
                               "sum(COUNT { (n)-[:DERIVED_FROM]->() }) AS edges ORDER BY step")
        total = store.run_text("MATCH (n:Entity) RETURN count(n) AS n")[0]["n"]
        edges = store.run_text("MATCH ()-[r:DERIVED_FROM]->() RETURN count(r) AS n")[0]["n"]
    print(f"{len(files)} files, {datasets:,} datasets, {args.configs} configurations")
    print(f"h5py walk (baseline): {baseline:.2f} s = {datasets / baseline:,.0f} datasets/s")
    print(f"ingest h5:            {seconds:.2f} s = {datasets / seconds:,.0f} datasets/s "
          f"({seconds / baseline:.1f}x the walk)")
    print(f"graph: {total:,} entities, {edges:,} DERIVED_FROM edges; products by step:")
    for row in steps:
        print(f"  {row['step']:<18} {row['nodes']:>7,} nodes {row['edges']:>8,} edges to their inputs")


if __name__ == "__main__":
    main()
