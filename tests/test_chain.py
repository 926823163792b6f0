"""A real CalLat post-processing chain, per configuration: per-source 4D spectra and form factors,
their tslices, the source (and spin) averages, the FFTs and momentum projections.

The files follow CalLat's layouts exactly (nucleon_elastic_FF data/scripts/{tslice,average,fft}.py,
docs in shared/guide/domain.md). Every derive step is checked against a small numpy
re-implementation written here from CalLat's code, and the graph against the exact lineage each
dataset must have.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from latteprov import invalidate, lineage
from latteprov.ingest import conventions, derive
from latteprov.ingest.h5 import ingest_h5

# a15m310: 16^3 x 48 (l1648f211b580m013m065m838); valence parameters of the shared collected file.
PARAMS = "a15m310_a_300_gf1.0_w3.0_n30_M51.3_L512_a1.5_mq0.0158"
L, NT = 16, 48
SOURCES = [(3, 5, 7, 10), (9, 1, 12, 40)]  # the second wraps around the time boundary
TSEP = 6
FACT = TSEP / NT
CURRENTS = ("A3", "V4")
FLAV = "UU_up_up"


def src(s: tuple[int, int, int, int]) -> str:
    return "x%dy%dz%dt%d" % s


def src_path(s: tuple[int, int, int, int]) -> str:
    return "x%d_y%d_z%d_t%d" % s


def spec_4d(particle: str, spin: str, s) -> str:
    return f"pt/spec/{particle}/{spin}/4D_correlator/{src_path(s)}"


def ff_group(particle: str) -> str:
    tsep = -TSEP if particle.endswith("_np") else TSEP
    return f"pt/formfac/{particle}_{FLAV}_tsep_{tsep}_sink_mom_px0_py0_pz0"


def ff_4d(particle: str, current: str, s) -> str:
    tsep = -TSEP if particle.endswith("_np") else TSEP
    return (f"pt/formfac/{particle}_{FLAV}_t0_{s[3]}_tsep_{tsep}_sink_mom_px0_py0_pz0/{current}/"
            f"{src_path(s)}/4D_correlator/local_current")


# -- the reference: CalLat's operations, written again from its code --------------------------
def ref_tslice(data: np.ndarray, t0: int, tsep: int, s, flip: bool) -> np.ndarray:
    step = 1 if tsep > 0 else -1
    ts = list(range(t0, t0 + tsep + step, step))
    out = np.stack([data[t % NT] * (-1 if flip and not 0 <= t < NT else 1) for t in ts])
    x, y, z = s[:3]
    return np.roll(np.roll(np.roll(out, -z, axis=1), -y, axis=2), -x, axis=3)


def ref_fft(data: np.ndarray, k: int) -> np.ndarray:
    """sum_n exp(+2 pi i n.p / L) f(n) for |p_i| <= k, indexed [t, pz % (2k+1), py .., px ..]."""
    arr = data[..., 0] + 1j * data[..., 1]
    n = np.arange(L)
    out = np.zeros((arr.shape[0], 2 * k + 1, 2 * k + 1, 2 * k + 1), dtype=complex)
    for pz in range(-k, k + 1):
        for py in range(-k, k + 1):
            for px in range(-k, k + 1):
                phase = np.exp(2j * np.pi / L * (pz * n[:, None, None] + py * n[None, :, None] + px * n[None, None, :]))
                out[:, pz, py, px] = np.einsum("tzyx,zyx->t", arr, phase)
    return out


@pytest.fixture(scope="module")
def preset() -> conventions.Conventions:
    return conventions.load()


@pytest.fixture
def raw(tmp_path: Path) -> dict:
    """Per-source 4D files of configuration 300 (random data), and the arrays written."""
    rng = np.random.default_rng(7)
    folder = tmp_path / "raw"
    folder.mkdir()
    arrays: dict[tuple[str, str], np.ndarray] = {}
    spec_files, ff_files = [], []
    for s in SOURCES:
        path = folder / f"spec_4D_{PARAMS}_{src(s)}.h5"
        with h5py.File(path, "w") as f:
            for particle in ("proton", "proton_np"):
                for spin in ("spin_up", "spin_dn"):
                    data = rng.normal(size=(NT, L, L, L, 2))
                    ds = f.create_dataset(spec_4d(particle, spin, s), data=data)
                    ds.attrs["is_shifted"] = False
                    arrays[(path.name, ds.name.strip("/"))] = data
        spec_files.append(str(path))
        path = folder / f"formfac_4D_{PARAMS}_px0py0pz0_dt{TSEP}_Srcs0-1_{src(s)}_SS.h5"
        with h5py.File(path, "w") as f:
            for particle in ("proton", "proton_np"):
                for current in CURRENTS:
                    data = rng.normal(size=(NT, L, L, L, 2))
                    ds = f.create_dataset(ff_4d(particle, current, s), data=data)
                    arrays[(path.name, ds.name.strip("/"))] = data
        ff_files.append(str(path))
    return {"spec": spec_files, "formfac": ff_files, "arrays": arrays, "folder": folder}


def run_chain(store, preset, raw: dict) -> dict:
    """Every derive step of the chain, in CalLat's order; the files each wrote."""
    out = {}
    out["spec_tslice"] = derive.tslice(store, preset, raw["spec"], tslice_fact=FACT).outputs
    out["ff_tslice"] = derive.tslice(store, preset, raw["formfac"]).outputs
    out["spec_avg"] = derive.average(store, preset, out["spec_tslice"]).outputs
    out["ff_avg"] = derive.average(store, preset, out["ff_tslice"]).outputs
    out["spec_fft"] = derive.fft(store, preset, out["spec_avg"], max_momentum=2).outputs
    out["ff_fft"] = derive.fft(store, preset, out["ff_avg"], max_momentum=2).outputs
    out["spec_proj"] = derive.project(store, preset, out["spec_fft"], momentum=(1, 0, -1)).outputs
    out["ff_proj"] = derive.project(store, preset, out["ff_fft"], momentum=(0, 0, 1)).outputs
    return out


def uid_at(store, file: str, dataset: str) -> str:
    return lineage.resolve(store, f"{Path(file).name}:{dataset}")


def inputs_of(store, uid: str) -> set[str]:
    rows = store.run_text("MATCH (:Entity {uid: $u})-[:DERIVED_FROM {role: 'input'}]->(i) RETURN i.uid AS u", u=uid)
    return {r["u"] for r in rows}


# -- numbers -----------------------------------------------------------------------------------
def test_each_derive_step_agrees_with_callat_numerically(store, preset, raw) -> None:
    files = run_chain(store, preset, raw)
    arrays = raw["arrays"]
    # tslice: spectra with the boundary sign, form factors without; each checked
    for path in files["spec_tslice"]:
        s = next(s for s in SOURCES if src(s) in path)
        source_file = Path(path).name.replace("spec_4D_tslice", "spec_4D")
        with h5py.File(path) as f:
            for particle, tsep in (("proton", TSEP), ("proton_np", -TSEP)):
                ds = f[spec_4d(particle, "spin_up", s)]
                want = ref_tslice(arrays[(source_file, spec_4d(particle, "spin_up", s))], s[3], tsep, s, True)
                assert np.allclose(ds[()], want)
                assert ds.attrs["meta"] == f"t0=={s[3]}&nt=={NT}&tsep=={tsep}"
    for path in files["ff_tslice"]:
        s = next(s for s in SOURCES if src(s) in path)
        source_file = Path(path).name.replace("formfac_4D_tslice", "formfac_4D")
        with h5py.File(path) as f:
            ds = f[ff_4d("proton_np", "V4", s)]
            want = ref_tslice(arrays[(source_file, ff_4d("proton_np", "V4", s))], s[3], -TSEP, s, False)
            assert np.allclose(ds[()], want)
            assert ds.attrs["meta"] == f"t0=={s[3]}&tsep=={-TSEP}&nt=={NT}"
    # average: over both sources and both spins for spectra, over sources for form factors
    (spec_avg,) = files["spec_avg"]
    assert Path(spec_avg).name == f"spec_4D_tslice_avg_{PARAMS}_src_avg.h5"
    with h5py.File(spec_avg) as f:
        ds = f["pt/spec/proton/spin_avg/4D_correlator/src_avg"]
        parts = []
        for s in SOURCES:
            name = f"spec_4D_{PARAMS}_{src(s)}.h5"
            parts += [ref_tslice(arrays[(name, spec_4d("proton", spin, s))], s[3], TSEP, s, True)
                      for spin in ("spin_up", "spin_dn")]
        assert np.allclose(ds[()], np.mean(parts, axis=0))
        lines = ds.attrs["meta"].split("\n")
        assert len(lines) == 4  # one line per input: the two spins of a source give two equal lines
        assert f"t0=={SOURCES[0][3]}&nt=={NT}&tsep=={TSEP}&x==3&y==5&z==7&t==10" in lines
    (ff_avg,) = files["ff_avg"]
    assert Path(ff_avg).name == f"formfac_4D_tslice_src_avg_{PARAMS}_px0py0pz0_dt{TSEP}_Srcs0-1_src_avg_SS.h5"
    with h5py.File(ff_avg) as f:
        ds = f[f"{ff_group('proton')}/A3/src_avg/4D_correlator/local_current"]
        parts = [ref_tslice(arrays[(f"formfac_4D_{PARAMS}_px0py0pz0_dt{TSEP}_Srcs0-1_{src(s)}_SS.h5",
                                    ff_4d("proton", "A3", s))], s[3], TSEP, s, False) for s in SOURCES]
        assert np.allclose(ds[()], np.mean(parts, axis=0))
        assert ds.attrs["meta"].split("\n")[0] == f"t0==10&tsep=={TSEP}&nt=={NT}&x==3&y==5&z==7&t==10&t0==10"
    # FFT: sum_n exp(+2 pi i n.p/L) f(n), |p_i| <= 2, meta suffix on the last line only
    with h5py.File(spec_avg) as f_avg, h5py.File(files["spec_fft"][0]) as f_fft:
        name = "pt/spec/proton/spin_avg/4D_correlator/src_avg"
        assert np.allclose(f_fft[name][()], ref_fft(f_avg[name][()], 2))
        lines = f_fft[name].attrs["meta"].split("\n")
        assert lines[-1].endswith(f"&max_momentum==2&n1d_prev=={L}") and "max_momentum" not in lines[0]
    with h5py.File(files["ff_fft"][0]) as f_fft:
        assert f"{ff_group('proton')}/V4/src_avg/4D_correlator/momentum_current" in f_fft
    # projection: one momentum [t, pz, py, px] of the FFT
    with h5py.File(files["spec_fft"][0]) as f_fft, h5py.File(files["spec_proj"][0]) as f_proj:
        picked = f_proj["pt/spec/proton_np/spin_avg/px1_py0_pz-1/src_avg"][()]
        assert np.allclose(picked, f_fft["pt/spec/proton_np/spin_avg/4D_correlator/src_avg"][()][:, -1, 0, 1])


def test_time_reversal_is_callats(store, preset, raw) -> None:
    corr = np.arange(1.0, 9.0)
    assert list(derive.time_reverse(corr, -1)) == [1.0, -8.0, -7.0, -6.0, -5.0, -4.0, -3.0, -2.0]
    files = run_chain(store, preset, raw)
    out = derive.project(store, preset, files["spec_fft"], str(raw["folder"] / "reversed.h5"),
                         momentum=(0, 0, 0), time_reversal=True, truncate=3)
    with h5py.File(files["spec_fft"][0]) as f_fft, h5py.File(out.output) as f:
        fft_np = f_fft["pt/spec/proton_np/spin_avg/4D_correlator/src_avg"][()][:, 0, 0, 0]
        got = f["pt/spec/proton_np/spin_avg/px0_py0_pz0/src_avg"]
        assert np.allclose(got[()], derive.time_reverse(fft_np, -1)[:3])
        assert got.attrs["meta"].endswith("&px==0&py==0&pz==0&time_reversed==1")


# -- lineage -------------------------------------------------------------------------------------
def test_every_step_derives_from_the_step_before(store, preset, raw) -> None:
    files = run_chain(store, preset, raw)
    s0 = SOURCES[0]
    raw_spec = raw["spec"][0]
    tslice_file = files["spec_tslice"][0] if src(s0) in files["spec_tslice"][0] else files["spec_tslice"][1]
    four_d = uid_at(store, raw_spec, spec_4d("proton", "spin_up", s0))
    cut = uid_at(store, tslice_file, spec_4d("proton", "spin_up", s0))
    assert inputs_of(store, cut) == {four_d}
    props = store.run_text("MATCH (n {uid: $u}) RETURN n.step AS step, n.t0 AS t0, n.nt AS nt, n.tsep AS tsep, "
                           "n.spin AS spin, n.x AS x", u=cut)[0]
    assert props == {"step": "tslice", "t0": 10, "nt": NT, "tsep": TSEP, "spin": "spin_up", "x": 3}
    avg = uid_at(store, files["spec_avg"][0], "pt/spec/proton/spin_avg/4D_correlator/src_avg")
    tslices = {uid_at(store, f, spec_4d("proton", spin, s)) for f in files["spec_tslice"] for s in SOURCES
               if src(s) in f for spin in ("spin_up", "spin_dn")}
    assert len(tslices) == 4 and inputs_of(store, avg) == tslices
    row = store.run_text("MATCH (n {uid: $u}) RETURN n.spin AS spin, n.sources AS sources, n.x AS x, n.y AS y, "
                         "n.tsep AS tsep", u=avg)[0]
    assert row == {"spin": "spin_avg", "sources": "x3y5z7t10+x9y1z12t40", "x": None, "y": None, "tsep": TSEP}
    fft = uid_at(store, files["spec_fft"][0], "pt/spec/proton/spin_avg/4D_correlator/src_avg")
    assert inputs_of(store, fft) == {avg}
    proj = uid_at(store, files["spec_proj"][0], "pt/spec/proton/spin_avg/px1_py0_pz-1/src_avg")
    assert inputs_of(store, proj) == {fft}
    # form factors: the average of a current derives from that current's tslices only
    ff_avg = uid_at(store, files["ff_avg"][0], f"{ff_group('proton_np')}/V4/src_avg/4D_correlator/local_current")
    ff_cuts = {uid_at(store, f, ff_4d("proton_np", "V4", s)) for f in files["ff_tslice"] for s in SOURCES if src(s) in f}
    assert inputs_of(store, ff_avg) == ff_cuts
    row = store.run_text("MATCH (n {uid: $u}) RETURN n.current AS j, n.flav_spin AS fs, n.tsep AS tsep", u=ff_avg)[0]
    assert row == {"j": "V4", "fs": FLAV, "tsep": -TSEP}
    # the raw 3-pt correlator reaches its propagator and sequential propagator
    kinds = {n["kind"] for n in lineage.lineage(store, ff_avg)["nodes"]}
    assert {"Baryon3pt", "OneToAll", "Sequential", "GaugeConfig", "MobiusDW", "Ensemble"} <= kinds


def test_no_two_datasets_are_one_node_and_names_are_unique(store, preset, raw) -> None:
    run_chain(store, preset, raw)
    rows = store.run_text("MATCH (n:Entity)-[:STORED_AT]->(f:DataFile) WHERE f.dataset <> '' "
                          "RETURN n.uid AS uid, n.name AS name, count(f) AS files")
    datasets = store.run_text("MATCH (f:DataFile) WHERE f.dataset <> '' RETURN count(f) AS n")[0]["n"]
    assert len(rows) == datasets  # one product per dataset
    assert all(r["files"] == 1 for r in rows)
    assert len({r["name"] for r in rows}) == len(rows)


def test_invalidating_one_source_reaches_exactly_its_descendants(store, preset, raw) -> None:
    files = run_chain(store, preset, raw)
    s0 = SOURCES[0]
    four_d = uid_at(store, raw["spec"][0], spec_4d("proton", "spin_up", s0))
    assert invalidate.impact(store, four_d)["total"] == 5  # the dry run says so first
    invalidate.invalidate(store, four_d, reason="bad solve", by="test")
    bad = {r["u"] for r in store.run_text("MATCH (n:Entity {valid: false}) RETURN n.uid AS u")}
    tslice_file = next(f for f in files["spec_tslice"] if src(s0) in f)
    expected = {four_d, uid_at(store, tslice_file, spec_4d("proton", "spin_up", s0)),
                uid_at(store, files["spec_avg"][0], "pt/spec/proton/spin_avg/4D_correlator/src_avg"),
                uid_at(store, files["spec_fft"][0], "pt/spec/proton/spin_avg/4D_correlator/src_avg"),
                uid_at(store, files["spec_proj"][0], "pt/spec/proton/spin_avg/px1_py0_pz-1/src_avg")}
    assert bad == expected


def test_ingest_of_the_files_alone_recovers_the_same_graph(store, preset, raw) -> None:
    files = run_chain(store, preset, raw)
    def snapshot():
        nodes = {r["u"] for r in store.run_text("MATCH (n:Entity) RETURN n.uid AS u")}
        edges = {(r["a"], r["b"], r["r"]) for r in store.run_text(
            "MATCH (a:Entity)-[d:DERIVED_FROM]->(b) RETURN a.uid AS a, b.uid AS b, d.role AS r")}
        return nodes, edges
    recorded = snapshot()
    everything = raw["spec"] + raw["formfac"] + [f for group in files.values() for f in group]
    random.Random(3).shuffle(everything)
    store.clear()
    report = ingest_h5(store, preset, iter(everything))  # any iterable of paths, read once
    assert report.problems == [] and report.ingested == len(everything)
    assert snapshot() == recorded


def test_location_addresses_a_product(cli, store, preset, raw) -> None:
    files = run_chain(store, preset, raw)
    name = Path(files["spec_fft"][0]).name
    result = cli("lineage", f"{name}:/pt/spec/proton/spin_avg/4D_correlator/src_avg", "--format", "json")
    assert result.exit_code == 0, result.output
    result = cli("show", f"{files['spec_fft'][0]}:pt/spec/proton/spin_avg/4D_correlator/src_avg")
    assert result.exit_code == 0 and "fft" in result.output
    result = cli("lineage", f"{name}:pt/nothing/here")
    assert result.exit_code != 0 and "no node with uid, name or location" in result.output


def _avg_file(folder: Path, name: str, datasets: dict[str, str | None]) -> str:
    path = folder / name
    with h5py.File(path, "w") as f:
        for dataset, meta in datasets.items():
            ds = f.create_dataset(dataset, data=np.zeros((TSEP + 1, L, L, L, 2)))
            if meta is not None:
                ds.attrs["meta"] = meta
    return str(path)


def test_partial_averages_without_meta_are_distinct_products(store, preset, tmp_path: Path) -> None:
    paths = [_avg_file(tmp_path, f"spec_4D_tslice_avg_{PARAMS.replace('_300_', f'_{cfg}_')}_src_avg_0.h5",
                       {f"pt/spec/{p}/spin_avg/4D_correlator/src_avg": None for p in ("proton", "proton_np")})
             for cfg in (300, 305)]
    paths.append(_avg_file(tmp_path, "unnamed.h5", {"pt/spec/proton/spin_avg/4D_correlator/src_avg": None}))
    report = ingest_h5(store, preset, paths)
    assert report.problems == []
    rows = store.run_text("MATCH (n:DerivedDataset) RETURN n.step AS step, n.sources AS sources, n.config AS cfg, "
                          "EXISTS { (n)-[:DERIVED_FROM]->() } AS linked ORDER BY cfg, n.particle")
    assert len(rows) == 5
    assert {r["step"] for r in rows} == {"average"} and not any(r["linked"] for r in rows)
    assert [r["sources"] for r in rows if r["cfg"] == 300] == ["src_avg_0", "src_avg_0"]


def test_meta_naming_nothing_recorded_links_nothing(cli, store, preset, tmp_path: Path) -> None:
    meta = "\n".join(f"t0==10&nt=={NT}&tsep=={TSEP}&x==3&y==5&z==7&t==10" for _ in range(2))
    path = _avg_file(tmp_path, f"spec_4D_tslice_avg_{PARAMS}_src_avg.h5",
                     {f"pt/spec/{p}/spin_avg/4D_correlator/src_avg": meta for p in ("proton", "proton_np")})
    result = cli("ingest", "h5", path)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "4 input(s) named by meta are not recorded" in errors[0]
    assert len(errors[0]) < 1000
    assert store.run_text("MATCH (n:Entity) RETURN count(n) AS n")[0]["n"] == 0


def test_fft_of_another_lattice_is_refused(store, preset, tmp_path: Path) -> None:
    path = _avg_file(tmp_path, f"spec_4D_tslice_avg_{PARAMS}_src_avg_fft.h5",
                     {"pt/spec/proton/spin_avg/4D_correlator/src_avg": "t0==1&nt==48&tsep==6&x==1&y==1&z==1&t==1"
                                                                     "&max_momentum==2&n1d_prev==32"})
    report = ingest_h5(store, preset, [path])
    assert report.ingested == 0 and "FFT was over L=32, but a15m310 has L=16" in report.problems[0]


def test_many_bad_datasets_make_one_short_line(store, preset, tmp_path: Path) -> None:
    path = tmp_path / "stray.h5"
    with h5py.File(path, "w") as f:
        for i in range(200):
            f.create_dataset(f"some/other/thing{i}", data=np.zeros(2))
    report = ingest_h5(store, preset, [str(path)])
    assert len(report.problems) == 1
    assert "200 datasets (some/other/thing0" in report.problems[0] and "and 197 more" in report.problems[0]
    assert len(report.problems[0]) < 400


# -- the ensemble table ---------------------------------------------------------------------------
def test_every_ensemble_of_callats_table_resolves_both_ways(preset) -> None:
    assert len(preset.ensembles) == 42
    for short, long in preset.ensembles.items():
        fields = preset.enrich({"ensemble": short})
        assert fields["long_tag"] == long and fields["nx"] > 0 and fields["nt"] > 0
        back = preset.enrich({"long_tag": long})["ensemble"]
        # aliases (a15m310Lfaces ...) share a15m310L's long tag, which reads back as a15m310L
        assert back == short or preset.ensembles[back] == long


def test_neighbouring_ensembles_keep_their_own_sea_masses(preset) -> None:
    a09m135 = preset.enrich({"ensemble": "a09m135"})
    assert (a09m135["ml"], a09m135["ms"], a09m135["mc"]) == (0.001326, 0.03636, 0.4313)
    assert preset.enrich({"ensemble": "a09m130"})["ml"] == 0.0012
    assert preset.enrich({"ensemble": "a06m310L"})["beta"] == 6.72
    diff = preset.enrich({"ensemble": "a12m220diff"})  # 3+1 flavours: light = strange
    assert (diff["nf"], diff["ml"], diff["ms"], diff["mc"]) == ("3+1", 0.00507, 0.00507, 0.628)
    match = preset.match("l6496f211b630m001326m03636m4313a.1002")
    assert preset.enrich(match.fields)["ensemble"] == "a09m135"


def test_the_charm_sea_action_is_one_node_whichever_path_names_it(store, preset) -> None:
    from latteprov import synth
    from latteprov.ingest.names import ingest_names

    synth.write(store, "S")
    before = store.run_text("MATCH (h:Hisq {quark_tag: 'charm'}) RETURN count(h) AS n")[0]["n"]
    ingest_names(store, preset, ["l3296f211b630m0074m037m440e.300"])
    rows = store.run_text("MATCH (h:Hisq {quark_tag: 'charm'}) RETURN h.quark_mass AS m, h.naik AS naik ORDER BY m")
    assert len(rows) == before
    assert any(r["m"] == 0.44 and r["naik"] == -0.3 for r in rows)


def test_products_sharing_a_file_have_names_of_their_own(store) -> None:
    from latteprov import synth

    synth.write(store, "S")
    dup = store.run_text("MATCH (n:Entity) WITH n.name AS name, count(*) AS n WHERE n > 1 RETURN name LIMIT 3")
    assert dup == []
    row = store.run_text("MATCH (c:Baryon3pt {current: 'A3'}) RETURN c.name AS name LIMIT 1")[0]
    assert row["name"].endswith("_A3")


def test_search_suggestions_show_what_tells_products_of_one_file_apart(client, store, preset, raw) -> None:
    files = run_chain(store, preset, raw)
    rows = client.get(f"/api/search?q={Path(files['ff_avg'][0]).stem}&limit=100").json
    details = {tuple(r["details"]) for r in rows if r["kind"] == "DerivedDataset"}
    assert ("step=average", "config=300", "particle=proton_np", "flav_spin=UU_up_up", "current=V4", "tsep=-6",
            "sources=x3y5z7t10+x9y1z12t40") in details
    assert len(details) == len([r for r in rows if r["kind"] == "DerivedDataset"])  # each one tells itself apart


def test_position_space_products_and_ffts_claim_no_momentum(store, preset, raw) -> None:
    run_chain(store, preset, raw)
    rows = store.run_text("MATCH (n:DerivedDataset) WHERE n.particle = 'proton' AND n.spin IS NOT NULL "
                          "RETURN n.step AS step, [n.px, n.py, n.pz] AS p ORDER BY step")
    by_step = {r["step"]: r["p"] for r in rows}
    assert by_step["tslice"] == by_step["average"] == by_step["fft"] == [None, None, None]
    assert by_step["project"] == [1, 0, -1]
    # a form factor keeps its sink momentum at every step
    sink = store.run_text("MATCH (n:DerivedDataset) WHERE n.current IS NOT NULL RETURN DISTINCT [n.px, n.py, n.pz] AS p")
    assert sink == [{"p": [0, 0, 0]}]


# -- bad input: one line, nothing written, nothing left on disk ----------------------------------
def entity_count(store) -> int:
    return store.run_text("MATCH (n) RETURN count(n) AS n")[0]["n"]


def test_an_average_over_two_configurations_is_refused(store, preset, raw, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    for path in raw["spec"]:  # the same sources on configuration 305
        target = other / Path(path).name.replace("_300_", "_305_")
        target.write_bytes(Path(path).read_bytes())
    cuts = derive.tslice(store, preset, raw["spec"] + [str(p) for p in other.iterdir()], tslice_fact=FACT).outputs
    before = entity_count(store)
    with pytest.raises(derive.InputError, match="inputs differ in more than their source"):
        derive.average(store, preset, cuts)
    assert entity_count(store) == before
    assert not [p for p in raw["folder"].iterdir() if "src_avg" in p.name]


@pytest.mark.parametrize("fact", [float("nan"), float("inf"), 2.0, 0.0, -0.125, 1e30, 0.001])
def test_a_tslice_factor_that_keeps_no_sensible_window_is_refused(store, preset, raw, fact) -> None:
    with pytest.raises(derive.InputError, match="tslice-fact"):
        derive.tslice(store, preset, raw["spec"], tslice_fact=fact)
    assert entity_count(store) == 0  # refused before the inputs were even recorded
    assert not [p for p in raw["folder"].iterdir() if "tslice" in p.name]


def test_derive_refusals_come_before_anything_is_written(store, preset, raw, tmp_path: Path) -> None:
    files = run_chain(store, preset, raw)
    before = entity_count(store)
    cases = [
        (lambda: derive.tslice(store, preset, raw["spec"]), "needs --tslice-fact"),
        (lambda: derive.tslice(store, preset, files["spec_tslice"], tslice_fact=FACT), "a product of a step already"),
        (lambda: derive.fft(store, preset, files["spec_avg"], str(tmp_path), max_momentum=8), "more than L=16 has"),
        (lambda: derive.project(store, preset, files["spec_proj"]), "no FFT to project"),
        (lambda: derive.project(store, preset, files["spec_fft"], momentum=(3, 0, 0)), "beyond its max_momentum 2"),
        (lambda: derive.fft(store, preset, files["spec_avg"], str(tmp_path / "absent" / "x.h5")), "not a writable"),
        (lambda: derive.tslice(store, preset, [raw["spec"][0], raw["spec"][0]], tslice_fact=FACT), "two inputs"),
        (lambda: derive.average(store, preset, raw["spec"]), "fits no CalLat template"),
    ]
    for call, message in cases:
        with pytest.raises(derive.InputError, match=message):
            call()
    assert entity_count(store) == before
    assert not list(raw["folder"].glob("*.partial")) and not list(tmp_path.glob("*.h5"))


def test_a_4d_dataset_of_the_wrong_shape_is_refused(store, preset, tmp_path: Path) -> None:
    path = tmp_path / f"spec_4D_{PARAMS}_{src(SOURCES[0])}.h5"
    with h5py.File(path, "w") as f:
        f[spec_4d("proton", "spin_up", SOURCES[0])] = np.zeros(NT)
    with pytest.raises(derive.InputError, match=r"shape \(48,\) is not \(Nt, L, L, L, 2\)"):
        derive.tslice(store, preset, [str(path)], tslice_fact=FACT)
    assert entity_count(store) == 0 and len(list(tmp_path.iterdir())) == 1


def _tslice_file(folder: Path, meta: str, shape=(TSEP + 1, 2, 2, 2, 2), dataset=None) -> str:
    path = folder / f"spec_4D_tslice_{PARAMS}_{src(SOURCES[0])}.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(dataset or spec_4d("proton", "spin_up", SOURCES[0]), data=np.zeros(shape))
        ds.attrs["meta"] = meta
    return str(path)


@pytest.mark.parametrize("meta, shape, dataset, message", [
    (f"t0==10&nt=={NT}&tsep==99999999999999999999999", None, None, "beyond 64-bit integers"),
    (f"t0==10&nt=={NT}&tsep==nan", None, None, "tsep=='nan' is not an integer"),
    (f"t0==10&nt==7&tsep=={TSEP}", None, None, "meta says nt==7, but a15m310 has T=48"),
    (f"t0==10&nt=={NT}&tsep==500", None, None, "meta says tsep==500 .501 time slices., but the data hold 7"),
    (f"t0==33&nt=={NT}&tsep=={TSEP}", None, None, "meta says t0==33, but the source is at t=10"),
    ("", None, None, "meta attribute is empty"),
    (f"t0==1&nt=={NT}&tsep=={TSEP}", None, spec_4d("proton", "spin_up", (1, 1, 1, 1)),
     "file name and dataset path name different sources"),
])
def test_meta_that_contradicts_its_data_or_ensemble_is_refused(store, preset, tmp_path, meta, shape, dataset,
                                                               message) -> None:
    good = _avg_file(tmp_path, "unnamed.h5", {"pt/spec/proton/spin_avg/4D_correlator/src_avg": None})
    bad = _tslice_file(tmp_path, meta, shape or (TSEP + 1, 2, 2, 2, 2), dataset)
    report = ingest_h5(store, preset, [bad, good])
    assert report.ingested == 1 and len(report.problems) == 1, report.problems
    assert re.search(message, report.problems[0]), report.problems[0]
    assert "Traceback" not in report.problems[0]
    assert store.run_text("MATCH (n:DerivedDataset {step: 'tslice'}) RETURN count(n) AS n")[0]["n"] == 0


def test_an_fft_whose_momenta_do_not_fit_its_data_is_refused(store, preset, tmp_path: Path) -> None:
    path = tmp_path / f"spec_4D_tslice_avg_{PARAMS}_src_avg_fft.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("pt/spec/proton/spin_avg/4D_correlator/src_avg", data=np.zeros((7, 5, 5, 5), complex))
        ds.attrs["meta"] = f"t0==10&nt=={NT}&tsep=={TSEP}&x==3&y==5&z==7&t==10&max_momentum==40&n1d_prev=={L}"
    report = ingest_h5(store, preset, [str(path)])
    assert report.ingested == 0 and "max_momentum==40, but the data hold (5, 5, 5) momenta" in report.problems[0]


def test_the_fft_of_a_partial_average_derives_from_it(store, preset, tmp_path: Path) -> None:
    avg = tmp_path / f"spec_4D_tslice_avg_{PARAMS}_src_avg_0.h5"
    with h5py.File(avg, "w") as f:
        f["pt/spec/proton/spin_avg/4D_correlator/src_avg"] = np.random.default_rng(0).normal(size=(TSEP + 1, L, L, L, 2))
    assert ingest_h5(store, preset, [str(avg)]).ingested == 1
    fft = derive.fft(store, preset, [str(avg)], max_momentum=1)
    proj = derive.project(store, preset, fft.outputs, momentum=(1, 0, 0))
    average = uid_at(store, str(avg), "pt/spec/proton/spin_avg/4D_correlator/src_avg")
    transformed = uid_at(store, fft.output, "pt/spec/proton/spin_avg/4D_correlator/src_avg")
    assert inputs_of(store, transformed) == {average}
    assert inputs_of(store, uid_at(store, proj.output, "pt/spec/proton/spin_avg/px1_py0_pz0/src_avg")) == {transformed}


def test_many_causes_in_one_file_still_make_one_short_line(store, preset, tmp_path: Path) -> None:
    path = tmp_path / f"spec_4D_tslice_{PARAMS}_x1y1z1t1.h5"
    with h5py.File(path, "w") as f:
        for i in range(300):
            ds = f.create_dataset(f"pt/spec/proton/spin_up/4D_correlator/x1_y1_z1_t{i}", data=np.zeros(2))
            ds.attrs["meta"] = f"t0==bad{i}&nt==48&tsep==6"
    report = ingest_h5(store, preset, [str(path), str(path), f"{tmp_path}/./{path.name}"])
    assert report.files == 1 and len(report.problems) == 1  # the same file named thrice is one file
    assert len(report.problems[0]) < 1000 and "297 more datasets with 297 other problems" in report.problems[0]
