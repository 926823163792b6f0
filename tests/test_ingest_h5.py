"""``ingest h5``: the shared collected file, per-source layouts, ``meta`` lineage, bad files."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from latteprov import lineage
from latteprov.ingest import conventions
from latteprov.ingest.h5 import ingest_h5
from latteprov.ingest.meta import MetaError, format_meta, parse_meta

ENS = "a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951"
SPEC = "pt/spec/proton/spin_up/x3_y3_z19_t62/px0_py0_pz0"


@pytest.fixture(scope="module")
def preset() -> conventions.Conventions:
    return conventions.load()


def one(store, query: str, **params):
    return store.run_text(query, **params)[0]


def write_h5(path: Path, datasets: dict[str, dict]) -> Path:
    """An HDF5 file with the given datasets: {path: {"meta": ..., "shape": ...}}."""
    with h5py.File(path, "w") as f:
        for name, opts in datasets.items():
            ds = f.create_dataset(name, data=np.ones(opts.get("shape", (8,)), dtype=np.complex64))
            if "meta" in opts:
                ds.attrs["meta"] = opts["meta"]
    return path


# -- the shared real file ---------------------------------------------------------------------
@pytest.fixture
def shared_ingested(store, preset, shared_data):
    report = ingest_h5(store, preset, [str(shared_data)])
    assert report.ingested == 1, report.problems
    return report


def test_shared_file_gives_the_ensemble_and_its_1000_configurations(store, shared_ingested) -> None:
    assert one(store, "MATCH (e:Ensemble) RETURN collect(e.tag) AS tags")["tags"] == ["a15m310"]
    row = one(store, "MATCH (c:GaugeConfig {ensemble: 'a15m310', flow_time: 0.0}) "
                     "RETURN count(c) AS n, min(c.config) AS lo, max(c.config) AS hi")
    assert row == {"n": 1000, "lo": 300, "hi": 5295}
    assert one(store, "MATCH (c:GaugeConfig {flow_time: 1.0})-[:DERIVED_FROM {role: 'parent'}]->(:GaugeConfig) "
                      "RETURN count(c) AS n")["n"] == 1000


def test_shared_file_gives_the_valence_action_flow_and_smearing(store, shared_ingested) -> None:
    action = one(store, "MATCH (a:MobiusDW) RETURN a.M5 AS M5, a.L5 AS L5, a.alpha5 AS alpha5, "
                        "a.quark_mass AS mq, a.b5 - a.c5 AS b5_c5, count(*) AS n")
    assert action == {"M5": 1.3, "L5": 12, "alpha5": 1.5, "mq": 0.0158, "b5_c5": 1.0, "n": 1}
    assert one(store, "MATCH (s:LinkSmearing) RETURN collect(s.flow_time) AS t")["t"] == [1.0]
    assert one(store, "MATCH (s:QuarkSmearing) RETURN collect([s.radius, s.steps]) AS s")["s"] == [[3.0, 30]]


def test_shared_file_gives_one_correlator_per_particle_spin_and_configuration(store, shared_ingested) -> None:
    rows = store.run_text("MATCH (c:Baryon2pt) RETURN c.particle AS p, c.spin AS s, count(DISTINCT c.config) AS n ORDER BY p, s")
    assert rows == [{"p": p, "s": s, "n": 1000} for p in ("proton", "proton_np") for s in ("spin_dn", "spin_up")]
    assert one(store, "MATCH (c:Baryon2pt) RETURN count(c) AS n")["n"] == 4000
    # every correlator reaches its configuration and the action
    assert one(store, "MATCH (c:Baryon2pt) WHERE EXISTS { (c)-[:DERIVED_FROM]->+(g:GaugeConfig {flow_time: 0.0}) "
                      "WHERE g.config = c.config } AND EXISTS { (c)-[:DERIVED_FROM {role: 'action'}]->(:MobiusDW) } "
                      "RETURN count(c) AS n")["n"] == 4000


def test_shared_file_correlator_lineage_and_datafile(store, shared_ingested) -> None:
    uid = one(store, "MATCH (c:Baryon2pt {config: 305, particle: 'proton_np', spin: 'spin_dn'}) RETURN c.uid AS u")["u"]
    graph = lineage.lineage(store, uid)
    kinds = {n["kind"] for n in graph["nodes"]}
    assert {"GaugeConfig", "MobiusDW", "Ensemble", "LinkSmearing", "QuarkSmearing"} <= kinds
    f = one(store, "MATCH (c {uid: $u})-[:STORED_AT]->(f:DataFile) RETURN f.dataset AS d, f.shape AS s, f.dtype AS t", u=uid)
    assert f == {"d": "gf1p0_w3p0_n30_M51p3_L512_a1p5/spec/ml0p0158/proton_np/px0_py0_pz0/spin_dn[1]",
                 "s": "(48, 2, 1)", "t": "complex64"}


def test_ensemble_option_overrides_the_file_name(store, preset, shared_data, tmp_path: Path) -> None:
    copy = tmp_path / "collected.h5"
    shutil.copy(shared_data, copy)
    assert "give --ensemble" in ingest_h5(store, preset, [str(copy)]).problems[0]
    assert ingest_h5(store, preset, [str(copy)], ensemble="a15m310L").ingested == 1
    assert one(store, "MATCH (e:Ensemble) RETURN e.tag AS t")["t"] == "a15m310L"


# -- per-source layouts and meta ------------------------------------------------------------------
def test_per_source_spectrum_dataset_derives_from_its_propagator(store, preset, tmp_path: Path) -> None:
    path = write_h5(tmp_path / f"spec_{ENS}_x3y3z19t62.h5", {SPEC: {}})
    assert ingest_h5(store, preset, [str(path)]).ingested == 1
    row = one(store, "MATCH (c:Baryon2pt)-[:DERIVED_FROM {role: 'light'}]->(p:OneToAll) "
                     "RETURN c.particle AS particle, c.spin AS spin, c.t AS t, p.name AS prop")
    assert row == {"particle": "proton", "spin": "spin_up", "t": 62, "prop": f"prop_{ENS}_x3y3z19t62"}


def test_formfac_layout(store, preset, tmp_path: Path) -> None:
    name = ("pt/formfac/proton_np_UU_up_up_t0_62_tsep_-10_sink_mom_px0_py0_pz0/A3/x3_y3_z19_t62/"
            "4D_correlator/local_current")
    path = write_h5(tmp_path / f"formfac_4D_{ENS}_px0py0pz0_dt-10_Srcs0-7_x3y3z19t62_SS.h5", {name: {}})
    assert ingest_h5(store, preset, [str(path)]).ingested == 1
    row = one(store, "MATCH (c:Baryon3pt) RETURN c.current AS j, c.tsep AS dt, c.flav_spin AS fs, c.particle AS p, "
                     "c.space AS space, c.name AS name")
    assert row == {"j": "A3", "dt": -10, "fs": "UU_up_up", "p": "proton_np", "space": "position",
                   "name": f"{path.name}:{name}"}


def test_meta_lines_name_the_per_source_products_of_both_spins(store, preset, tmp_path: Path) -> None:
    # the per-source momentum-space spectra, then their source (and spin) average
    sources = {"x3_y1_z2_t4": "x3y1z2t4", "x0_y1_z2_t2": "x0y1z2t2"}
    files = [write_h5(tmp_path / f"spec_{ENS}_{short}.h5",
                      {f"pt/spec/proton/{spin}/{src}/px0_py0_pz0": {} for spin in ("spin_up", "spin_dn")})
             for src, short in sources.items()]
    meta = "\n".join(["x==3&y==1&z==2&t==4"] * 2 + ["x==0&y==1&z==2&t==2"] * 2)
    avg = write_h5(tmp_path / f"spec_{ENS}_src_avg.h5", {"pt/spec/proton/spin_avg/src_avg/px0_py0_pz0": {"meta": meta}})
    report = ingest_h5(store, preset, [str(avg), *map(str, files)])  # taken in chain order
    assert report.ingested == 3, report.problems
    rows = store.run_text("MATCH (d:DerivedDataset {step: 'average'})-[:DERIVED_FROM {role: 'input'}]->(c:Baryon2pt) "
                          "RETURN c.x AS x, c.spin AS spin, c.config AS cfg ORDER BY x, spin")
    assert rows == [{"x": x, "spin": s, "cfg": 300} for x in (0, 3) for s in ("spin_dn", "spin_up")]
    row = one(store, "MATCH (d:DerivedDataset) RETURN d.sources AS sources, d.x AS x, d.spin AS spin")
    assert row == {"sources": "x0y1z2t2+x3y1z2t4", "x": None, "spin": "spin_avg"}


def test_meta_round_trip_and_bad_line() -> None:
    rows = [{"x": 3, "t": 4, "file": "a.h5"}, {"x": 0, "t": None}]
    assert parse_meta(format_meta(rows)) == [{"x": "3", "t": "4", "file": "a.h5"}, {"x": "0"}]
    assert parse_meta(np.array([b"x==1", b"x==2"])) == [{"x": "1"}, {"x": "2"}]
    with pytest.raises(MetaError, match="'t4' is not key==value"):
        parse_meta("x==3&t4")


def test_checksum_is_a_streamed_sha256(store, preset, tmp_path: Path) -> None:
    path = write_h5(tmp_path / f"spec_{ENS}_x3y3z19t62.h5", {SPEC: {}})
    assert ingest_h5(store, preset, [str(path)], checksum=True).ingested == 1
    row = one(store, "MATCH (f:DataFile {dataset: ''}) RETURN f.checksum AS c, f.size AS s")
    assert row == {"c": hashlib.sha256(path.read_bytes()).hexdigest(), "s": path.stat().st_size}


# -- bad input: one line per problem, other files still ingested, exit 1 --------------------------
def test_bad_files_are_reported_one_line_each_and_good_ones_ingested(cli, store, tmp_path: Path) -> None:
    good = write_h5(tmp_path / f"spec_{ENS}_x3y3z19t62.h5", {SPEC: {}})
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[:1000])
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not hdf5 at all" * 10)
    stray = write_h5(tmp_path / "stray.h5", {"some/other/thing": {}})
    bad_meta = write_h5(tmp_path / f"spec_4D_tslice_avg_{ENS}_src_avg0-1.h5",
                        {"pt/spec/proton/spin_up/src_avg/px0_py0_pz0": {"meta": "x==3&t4"}})
    unknown_meta = write_h5(tmp_path / f"spec_4D_tslice_avg_{ENS}_src_avg2-3.h5",
                            {"pt/spec/proton/spin_up/src_avg/px0_py0_pz0": {"meta": "colour==red"}})
    unknown_uid = write_h5(tmp_path / "a15m310-stacked.h5", {
        "gf1p0_w3p0_n30_M51p3_L512_a1p5/spec/ml0p0158/proton/px0_py0_pz0/spin_up": {"meta": "uid==Baryon2pt:nope", "shape": (1, 4)},
        "gf1p0_w3p0_n30_M51p3_L512_a1p5/spec/ml0p0158/proton/px0_py0_pz0/cfgs_srcs": {"shape": (1, 2)}})
    result = cli("ingest", "h5", good, truncated, garbage, stray, bad_meta, unknown_meta, unknown_uid, tmp_path / "absent.h5")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 7
    by_file = {Path(line.split(": ", 2)[1]).name: line for line in errors}
    assert "not a readable HDF5 file" in by_file["truncated.h5"]
    assert "not a readable HDF5 file" in by_file["garbage.h5"]
    assert "dataset some/other/thing: fits no layout" in by_file["stray.h5"]
    assert "'t4' is not key==value" in by_file[bad_meta.name]
    assert "meta line 1 names nothing known (keys colour" in by_file[unknown_meta.name]
    assert "unknown node(s): Baryon2pt:nope" in by_file["a15m310-stacked.h5"]
    assert "not a readable HDF5 file" in by_file["absent.h5"]
    assert "1 of 8 files ingested" in result.output
    # the bad files left nothing behind; the good one is complete
    assert one(store, "MATCH (n:DerivedDataset) RETURN count(n) AS n")["n"] == 0
    assert one(store, "MATCH (n:Baryon2pt) RETURN count(n) AS n")["n"] == 1
