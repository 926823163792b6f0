"""``derive average|concatenate`` on momentum-space spectra: recorded post-processing whose
lineage the files carry (the 4D chain is tests/test_chain.py)."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from latteprov import lineage
from latteprov.errors import InputError
from latteprov.ingest import conventions, derive
from latteprov.ingest.h5 import ingest_h5
from latteprov.ingest.meta import parse_meta

ENS = "a09m310_e_{cfg}_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951"
SOURCES = [(3, 3, 19, 62), (9, 1, 2, 14), (0, 5, 7, 30)]


@pytest.fixture(scope="module")
def preset() -> conventions.Conventions:
    return conventions.load()


def spec_file(folder: Path, cfg: int, src: tuple[int, int, int, int], value: float) -> Path:
    x, y, z, t = src
    path = folder / f"spec_{ENS.format(cfg=cfg)}_x{x}y{y}z{z}t{t}.h5"
    with h5py.File(path, "w") as f:
        for particle in ("proton", "proton_np"):
            for spin in ("spin_up", "spin_dn"):
                f[f"pt/spec/{particle}/{spin}/x{x}_y{y}_z{z}_t{t}/px0_py0_pz0"] = np.full(8, value, dtype=np.complex64)
    return path


def derived_lineage(store, uid: str) -> tuple[set, set]:
    """(entity uids, DERIVED_FROM edges) of a lineage: what must survive a round trip."""
    graph = lineage.lineage(store, uid)
    nodes = {n["uid"] for n in graph["nodes"] if n["kind"] != "Run"}
    edges = {(e["from"], e["to"], e["role"]) for e in graph["edges"] if e["type"] == "DERIVED_FROM"}
    return nodes, edges


def test_average_is_the_mean_and_names_each_input_in_meta(store, preset, tmp_path: Path) -> None:
    inputs = [spec_file(tmp_path, 300, s, v) for s, v in zip(SOURCES, (1.0, 2.0, 6.0))]
    out = tmp_path / "avg.h5"
    result = derive.average(store, preset, [str(p) for p in inputs], str(out))
    assert len(result.datasets) == 2
    with h5py.File(out) as f:
        ds = f["pt/spec/proton/spin_avg/src_avg/px0_py0_pz0"]  # over sources and both spins
        assert np.allclose(ds[()], 3.0)
        lines = parse_meta(ds.attrs["meta"])
    # one line per input, the source's x, y, z, t: both spins of a source give two equal lines
    assert sorted((int(l["x"]), int(l["t"])) for l in lines) == sorted((s[0], s[3]) for s in SOURCES for _ in "ud")


def test_average_has_lineage_to_each_input_and_a_run(store, preset, tmp_path: Path) -> None:
    inputs = [spec_file(tmp_path, 300, s, 1.0) for s in SOURCES]
    result = derive.average(store, preset, [str(p) for p in inputs], str(tmp_path / "avg.h5"))
    uid = result.datasets["avg.h5:pt/spec/proton/spin_avg/src_avg/px0_py0_pz0"]
    graph = lineage.lineage(store, uid, depth=1)
    inputs_found = [e for e in graph["edges"] if e["type"] == "DERIVED_FROM" and e["role"] == "input"]
    assert len(inputs_found) == 6  # three sources, two spins
    runs = [n for n in graph["nodes"] if n["kind"] == "Run"]
    assert len(runs) == 1 and runs[0]["props"]["run_kind"] == "average" and runs[0]["state"] == "done"
    used = store.run_text("MATCH (:Run {uid: $r})-[:USED]->(c:Baryon2pt) RETURN count(c) AS n", r=result.run)[0]["n"]
    assert used == 12  # both particles and spins of three sources


def test_the_same_lineage_is_recovered_from_the_files_alone(store, preset, tmp_path: Path) -> None:
    inputs = [spec_file(tmp_path, 300, s, 1.0) for s in SOURCES]
    result = derive.average(store, preset, [str(p) for p in inputs], None)  # CalLat's name beside them
    out = result.output
    assert Path(out).name == f"spec_{ENS.format(cfg=300)}_src_avg.h5"
    recorded = {d: derived_lineage(store, uid) for d, uid in result.datasets.items()}
    store.clear()
    report = ingest_h5(store, preset, [out, *map(str, inputs)])  # any order: inputs are taken first
    assert report.ingested == 4, report.problems
    for dataset, uid in result.datasets.items():
        assert derived_lineage(store, uid) == recorded[dataset]
    nodes, _ = recorded[f"{Path(out).name}:pt/spec/proton/spin_avg/src_avg/px0_py0_pz0"]
    assert any(n.startswith("OneToAll:") for n in nodes) and any(n.startswith("GaugeConfig:") for n in nodes)


def test_the_average_alone_names_inputs_not_recorded(store, preset, tmp_path: Path) -> None:
    inputs = [spec_file(tmp_path, 300, s, 1.0) for s in SOURCES]
    out = derive.average(store, preset, [str(p) for p in inputs]).output
    store.clear()
    report = ingest_h5(store, preset, [out])
    assert report.ingested == 0 and "12 input(s) named by meta are not recorded" in report.problems[0]


def test_concatenate_stacks_configurations_with_cfgs_srcs(store, preset, tmp_path: Path) -> None:
    averages = []
    for cfg in (310, 300, 305):
        folder = tmp_path / str(cfg)
        folder.mkdir()
        inputs = [spec_file(folder, cfg, s, float(cfg)) for s in SOURCES[:2]]
        averages.append(derive.average(store, preset, [str(p) for p in inputs]).output)  # CalLat's name
    out = tmp_path / "a09m310-stacked.h5"
    result = derive.concatenate(store, preset, [str(p) for p in averages], str(out))
    group = "gf1p0_w3p5_n45_M51p1_L56_a1p5/spec/ml0p00951/proton/px0_py0_pz0"
    with h5py.File(out) as f:
        assert f[f"{group}/cfgs_srcs"][()].tolist() == [[300, 2], [305, 2], [310, 2]]
        assert np.allclose(f[f"{group}/spin_avg"][:, 0], [300, 305, 310])
    uid = result.datasets[f"{out.name}:{group}/spin_avg"]
    graph = lineage.lineage(store, uid, depth=1)
    assert sum(e["role"] == "input" for e in graph["edges"]) == 3
    # the stacked file's meta names its inputs by uid: ingesting it where they exist links them
    report = ingest_h5(store, preset, [str(out)])
    assert report.ingested == 1, report.problems


def test_average_refuses_inputs_without_per_source_data(store, preset, tmp_path: Path) -> None:
    path = tmp_path / f"spec_{ENS.format(cfg=300)}_x1y2z3t4.h5"
    h5py.File(path, "w").close()
    with pytest.raises(InputError, match="no per-source dataset to average"):
        derive.average(store, preset, [str(path)], str(tmp_path / "out.h5"))


def test_average_refuses_inputs_of_different_shapes(store, preset, tmp_path: Path) -> None:
    a = spec_file(tmp_path, 300, SOURCES[0], 1.0)
    b = spec_file(tmp_path, 300, SOURCES[1], 1.0)
    with h5py.File(b, "a") as f:
        del f["pt/spec/proton/spin_up/x9_y1_z2_t14/px0_py0_pz0"]  # noqa: the other spin stays
        f["pt/spec/proton/spin_up/x9_y1_z2_t14/px0_py0_pz0"] = np.ones(4, dtype=np.complex64)
    with pytest.raises(InputError, match="inputs differ in shape"):
        derive.average(store, preset, [str(a), str(b)], str(tmp_path / "out.h5"))
    run = store.run_text("MATCH (r:Run {run_kind: 'average'}) RETURN r.exit_state AS s")
    assert run == [{"s": "failed"}]


def test_cli_derive_average(cli, tmp_path: Path) -> None:
    inputs = [spec_file(tmp_path, 300, s, 1.0) for s in SOURCES]
    result = cli("derive", "average", *inputs, "-o", tmp_path / "avg.h5")
    assert result.exit_code == 0, result.output
    assert "2 datasets from 12 inputs" in result.output
    bad = cli("derive", "average", tmp_path / "missing.h5", "-o", tmp_path / "x.h5")
    assert bad.exit_code != 0 and "does not exist" in bad.output
