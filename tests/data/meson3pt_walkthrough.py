"""Adding a kind of correlator, as docs/architecture.md walks through it: a Meson3pt class and a
convention for its files, and nothing else changed. Run by tests/test_new_kind.py in a process
of its own (the class joins the model only there) against the test server; prints a JSON report.

    python tests/data/meson3pt_walkthrough.py CONVENTIONS.toml NAME...
"""
from __future__ import annotations

import json
import sys

from click.testing import CliRunner
from neomodel import IntegerProperty, StringProperty

from latteprov import model


# -- step 1: the model ------------------------------------------------------------------------
class Meson3pt(model.Correlator):
    """A three-point meson correlator for one current (a pion form factor)."""

    natural_key = ("ensemble", "stream", "config", "particle", "current", "flow_time", "smear_width",
                   "smear_steps", "M5", "L5", "alpha5", "quark_mass", "px", "py", "pz", "tsep",
                   "x", "y", "z", "t", "snk")
    current = StringProperty(help_text="Inserted current (A4, V4 ...).")
    tsep = IntegerProperty(help_text="Source-sink separation.")
    input_roles = {"propagator": "propagator", "gaugeconfig": "gauge"}


# -- step 2 is the conventions file given on the command line; then ask the usual questions -----
def main() -> None:
    from latteprov.cli import main as cli
    from latteprov.checks import CheckError
    from latteprov.graph import GraphBatch
    from latteprov.store import Store
    from latteprov.config import load_settings
    from latteprov import graph

    conventions, names = sys.argv[1], sys.argv[2:]
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        if result.exit_code:
            raise SystemExit(f"latteprov {' '.join(args)}: exit {result.exit_code}: {result.output}")
        return result.output

    run("ingest", "names", "--conventions", conventions, *names)
    found = json.loads(run("find", "Meson3pt", "current=A4", "--format", "json"))
    lineage = json.loads(run("lineage", found[0]["uid"], "--format", "json"))
    status = json.loads(run("status", "--format", "json"))
    # The correlator rule (its propagators on its configuration) holds for the new kind too.
    store = Store(load_settings())
    b = GraphBatch()
    other = b.add("OneToAll", name="prop_elsewhere", ensemble="a09m310", stream="e", config=999, flow_time=1.0,
                  smear_width=3.5, smear_steps=45, M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951, x=0, y=0, z=0, t=0)
    bad = b.add("Meson3pt", name="pionff_bad", ensemble="a09m310", stream="e", config=300, particle="pion",
                current="A4", flow_time=1.0, smear_width=3.5, smear_steps=45, M5=1.1, L5=6, alpha5=1.5,
                quark_mass=0.00951, px=0, py=0, pz=0, tsep=8, x=0, y=0, z=0, t=0, snk="SS")
    gauge = next(n["uid"] for n in lineage["nodes"] if n["kind"] == "GaugeConfig")
    b.link(bad, other, "propagator")
    b.link(bad, gauge, "gauge")
    try:
        graph.write(store, b)
        refused = None
    except CheckError as exc:
        refused = str(exc)
    finally:
        store.close()
    print(json.dumps({"found": found, "lineage_kinds": sorted({n["kind"] for n in lineage["nodes"]}),
                      "status_kinds": sorted({r["kind"] for r in status}), "refused": refused}))


if __name__ == "__main__":
    main()
