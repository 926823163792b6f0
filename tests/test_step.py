"""``@latteprov.step``: a user's HDF5 function recorded with inputs, outputs, parameters, version."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import latteprov
from latteprov import lineage

ENS = "a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951"
SPEC = "pt/spec/proton/spin_up/x3_y3_z19_t62/px0_py0_pz0"


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / f"spec_{ENS}_x3y3z19t62.h5"
    with h5py.File(path, "w") as f:
        f[SPEC] = np.arange(8, dtype=np.complex64)
    return path


def test_a_step_records_inputs_outputs_parameters_and_version(store, spec_file: Path, tmp_path: Path) -> None:
    @latteprov.step("fold", version="1.2", store=store)
    def fold(src: str, dst: str, sign: int = 1) -> float:
        with h5py.File(src) as fin, h5py.File(dst, "w") as fout:
            data = fin[SPEC][()]
            fout["folded"] = data + sign * data[::-1]
        return 42.0

    out = tmp_path / "folded.h5"
    assert fold(str(spec_file), str(out), sign=-1) == 42.0
    run = store.run_text("MATCH (r:Run {run_kind: 'fold'}) RETURN r.code_version AS v, r.params AS p, r.exit_state AS s")[0]
    assert run["v"].startswith("1.2+") and json.loads(run["p"]) == {"sign": -1} and run["s"] == "done"
    product = store.run_text("MATCH (d:DerivedDataset {step: 'fold'})-[:STORED_AT]->(f:DataFile) "
                             "RETURN d.uid AS uid, f.dataset AS ds, f.shape AS shape")[0]
    assert product["ds"] == "folded" and product["shape"] == "(8,)"
    graph = lineage.lineage(store, product["uid"])
    kinds = {n["kind"] for n in graph["nodes"]}
    assert {"Baryon2pt", "OneToAll", "GaugeConfig", "Run"} <= kinds  # input correlator and its lineage


def test_a_failing_step_is_recorded_failed_and_raises(store, spec_file: Path, tmp_path: Path) -> None:
    @latteprov.step("broken", version="0", store=store)
    def broken(src: str, dst: str) -> None:
        raise RuntimeError("solver diverged")

    with pytest.raises(RuntimeError, match="solver diverged"):
        broken(str(spec_file), str(tmp_path / "never.h5"))
    assert store.run_text("MATCH (r:Run {run_kind: 'broken'}) RETURN r.exit_state AS s") == [{"s": "failed"}]


def test_inputs_fitting_no_layout_are_one_external_input(store, tmp_path: Path) -> None:
    src = tmp_path / "mine.h5"
    with h5py.File(src, "w") as f:
        f["whatever"] = np.ones(3)

    @latteprov.step("copy", version="1", store=store)
    def copy(src: str, dst: str) -> None:
        with h5py.File(src) as fin, h5py.File(dst, "w") as fout:
            fout["copied"] = fin["whatever"][()]

    copy(str(src), str(tmp_path / "out.h5"))
    rows = store.run_text("MATCH (:DerivedDataset {step: 'copy'})-[:DERIVED_FROM {role: 'input'}]->(i) "
                          "RETURN i.step AS step, i.name AS name")
    assert rows == [{"step": "external", "name": "mine.h5"}]


def test_edited_code_records_a_new_version(store) -> None:
    def one() -> None:
        return None

    def two() -> None:
        return print()

    a = latteprov.step("x", version="1", store=store)(one)
    b = latteprov.step("x", version="1", store=store)(two)
    a(), b()
    versions = store.run_text("MATCH (r:Run {run_kind: 'x'}) RETURN collect(DISTINCT r.code_version) AS v")[0]["v"]
    assert len(versions) == 2
