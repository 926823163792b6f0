"""``latteprov demo``: a database up, a small chain recorded, its lineage shown."""
from __future__ import annotations

import click

from latteprov import graph, lineage
from latteprov.cli.context import AppContext, pass_app
from latteprov.cli.output import console, lineage_tree
from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store, StoreUnavailable


def ensure_database(app: AppContext) -> Store:
    """The configured database, starting the local server first if nothing answers."""
    try:
        app.store.check()
        return app.store
    except StoreUnavailable:
        pass
    click.echo("no database answers; starting the local Neo4j ...", err=True)
    info, _ = manager.start(app.settings.server_dir, app.settings.cache_dir)
    app.store.close()
    app.__dict__["settings"] = load_settings()
    app.__dict__["store"] = Store(app.settings)
    app.store.check()
    click.echo(f"Neo4j running at {info.uri}", err=True)
    return app.store


def small_chain() -> tuple[graph.GraphBatch, str]:
    """Configuration -> propagator -> correlator on a09m310, with their actions and a run."""
    b = graph.GraphBatch()
    ens = b.add("Ensemble", name="a09m310", tag="a09m310", long_tag="l3296f211b630m0074m037m440",
                nx=32, nt=96, nf="2+1+1", beta=6.30, a_fm=0.09, mpi_mev=310, ml=0.0074, ms=0.037, mc=0.440)
    cfg = b.add("GaugeConfig", name="l3296f211b630m0074m037m440e.300", ensemble="a09m310", stream="e", config=300)
    b.link(cfg, ens, "ensemble")
    flow = b.add("LinkSmearing", name="wflow1.0", flow_time=1.0, flow_steps=40)
    flowed = b.add("GaugeConfig", name="l3296f211b630m0074m037m440e.300_wflow1.0", ensemble="a09m310",
                   stream="e", config=300, flow_time=1.0)
    b.link(flowed, cfg, "parent")
    b.link(flowed, flow, "smearing")
    action = b.add("MobiusDW", name="MDWF M5=1.1 L5=6 a=1.5 mq=0.00951", quark_mass=0.00951, M5=1.1, L5=6,
                   b5=1.25, c5=0.25, alpha5=1.5, quark_tag="light")
    common = dict(ensemble="a09m310", stream="e", config=300, flow_time=1.0, smear_width=3.5, smear_steps=45)
    src = b.add("Source", name="src_a09m310_e_300_gf1.0_w3.5_n45_x3y3z19t62", x=3, y=3, z=19, t=62, **common)
    b.link(src, flowed, "gauge")
    prop = b.add("OneToAll", name="prop_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62",
                 M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951, x=3, y=3, z=19, t=62, **common)
    for to, role in ((flowed, "gauge"), (action, "action"), (src, "source")):
        b.link(prop, to, role)
    spec = b.add("Baryon2pt", name="spec_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62",
                 particle="proton", spin="spin_up", parity=1, M5=1.1, L5=6, alpha5=1.5, quark_mass=0.00951,
                 x=3, y=3, z=19, t=62, snk="SS", **common)
    b.link(spec, prop, "light")
    run = "run:demo-contract-300"
    b.runs.append(graph.run_row(run, kind="contract", command="lalibe spec.ini", code_version="lalibe-1.2",
                                host="demo", user="demo", job_id="300", exit_state="done"))
    b.link(spec, run, type="GENERATED_BY")
    b.link(run, prop, type="USED")
    return b, spec


@click.command()
@pass_app
def demo(app: AppContext) -> None:
    """Start Neo4j if needed, install the schema, record a small chain and show its lineage."""
    store = ensure_database(app)
    store.install_schema()
    batch, spec = small_chain()
    graph.write(store, batch)
    console().print(lineage_tree(lineage.lineage(store, spec)))
    click.echo(f"\ndatabase: {app.settings.uri}\ntry: latteprov lineage {spec} --format json")


COMMANDS: list[click.Command] = [demo]
