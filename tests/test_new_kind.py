"""A new kind of correlator takes a model class and a convention, nothing else: the walkthrough
of docs/architecture.md ("Adding a kind"), run for real in a process of its own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

WALKTHROUGH = Path(__file__).parent / "data" / "meson3pt_walkthrough.py"
CONVENTION = '''
[nodes.pion_ff]
kind = "Meson3pt"
template = "pionff_{ensemble:word}_{stream:word}_{config:d}_gf{flow_time:g}_w{smear_width:g}_n{smear_steps:d}_M5{M5:g}_L5{L5:d}_a{alpha5:g}_mq{quark_mass:g}_px{px:d}py{py:d}pz{pz:d}_dt{tsep:d}_{current:word}_x{x:d}y{y:d}z{z:d}t{t:d}_{snk:word}.h5"
set = { particle = "pion" }
inputs = [{ node = "prop", role = "propagator" }]
'''
NAME = "pionff_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_px0py0pz0_dt8_A4_x3y3z19t62_SS.h5"


def test_a_meson_three_point_kind_needs_a_class_and_a_convention(store, env, tmp_path) -> None:
    conventions = tmp_path / "pion.toml"
    conventions.write_text(CONVENTION)
    done = subprocess.run([sys.executable, str(WALKTHROUGH), str(conventions), NAME], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    report = json.loads(done.stdout.splitlines()[-1])
    (found,) = report["found"]
    assert found["name"] == NAME.removesuffix(".h5") and found["props"]["tsep"] == 8
    # Its lineage reaches the propagator, and through it the source, action and configurations.
    assert {"OneToAll", "Source", "MobiusDW", "GaugeConfig", "Ensemble"} <= set(report["lineage_kinds"])
    assert "Meson3pt" in report["status_kinds"]
    assert report["refused"] and "not on the same" in report["refused"]
    # In the graph: one Meson3pt node, a Correlator, derived from the propagator.
    (row,) = store.run_text("MATCH (m:Meson3pt)-[d:DERIVED_FROM]->(p:OneToAll) "
                            "RETURN labels(m) AS labels, d.role AS role, count(*) AS n")
    assert {"Entity", "Correlator", "Meson3pt"} <= set(row["labels"]) and row["role"] == "propagator"
