"""``latteprov demo``: the whole experience on one command.

A database up (started locally when none answers), the schema installed, the tier-S synthetic
campaign and the shipped real a15m310 file loaded, one configuration invalidated so the story
is visible, a small production campaign planned (``latteprov/data/demo_campaign.toml``) with
its first flows recorded done and a few sources written as METAQ tasks (so the dashboard shows
ready and queued work), then the web app served with its URL and commands worth trying.
Everything it writes is MERGEd by uid, invalidating twice records one event, and tasks are
written only into an empty demo METAQ directory, so a second run only refreshes what is there.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click

from latteprov import campaign, data, find, graph, invalidate, metaq, plan, record, synth
from latteprov.cli.context import AppContext, pass_app
from latteprov.cli.web import build_app, listen, options_from, run, serve_options
from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store, StoreUnavailable

TIER = "S"
# The configuration the demo invalidates; the showcase is a 3-pt correlator derived from it.
BAD_CONFIG = "l3296f211b630m0074m037m440e.305"
REASON = "demo: plaquette outlier in the HMC history"
SHOWCASE_FILTERS = ["ensemble=a09m310", "config=305", "current=A3"]
CAMPAIGN = "demo_campaign.toml"
FLOWS_DONE = 3      # configurations whose flow the demo records as done
SOURCE_TASKS = 6    # sources it writes as METAQ tasks


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
    """Configuration -> propagator -> correlator on a09m310, with their actions and a run
    (the example chain of docs/cli.md, see :mod:`latteprov.cli.docgen`)."""
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


def load_real_file(store: Store, directory: Path | None = None) -> str:
    """Ingest the shipped a15m310 HDF5 file (CalLat's conventions); one line saying what it gave.

    With ``directory`` the file is first copied there (once) and ingested from that copy, so
    its DataFile is the same whichever installation of latteprov runs the demo (the package's
    own path changes from one virtual environment to the next, and a second demo run would
    record the same data in a second file)."""
    from latteprov.ingest.conventions import preset
    from latteprov.ingest.h5 import ingest_h5

    source = data.path("a15m310-devel.h5")
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        copy = directory / source.name
        if not copy.exists() or copy.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, copy)
        source = copy
    report = ingest_h5(store, preset(), [str(source)])
    w = report.written
    return (f"{report.ingested} of {report.files} real files ingested ({source}): "
            f"{w.entities_created} nodes created, {w.entities_matched} already known, {w.edges_written} edges")


def load_campaign(store: Store) -> dict:
    """Schema, the synthetic campaign and the invalidated configuration; the invalidation's
    answer and the showcase 3-pt correlator (derived from that configuration)."""
    from latteprov import schema

    schema.install(store)
    click.echo(f"loading the tier-{TIER} synthetic campaign ({synth.batch_count(TIER)} batches) ...", err=True)
    synth.write(store, TIER)
    story = invalidate.invalidate(store, BAD_CONFIG, REASON, "demo")
    showcase = find.find(store, "Baryon3pt", find.parse_filters(SHOWCASE_FILTERS), limit=1)[0]
    return {"invalidated": story, "showcase": showcase}


def plan_campaign(store: Store, metaq_root: Path) -> dict:
    """Plan the demo campaign, record the flows of its first configurations done, and (into an
    empty METAQ directory only) write some of the sources they made ready as tasks."""
    camp = campaign.load(data.path(CAMPAIGN))
    click.echo(f"planning campaign {camp.name} ({CAMPAIGN}) ...", err=True)
    report = plan.plan(store, camp)
    first = list(camp.ensembles[0].configs[:FLOWS_DONE])
    flows = [r["uid"] for r in store.read("step_products", step=f"{camp.name}/flow", configs=first)]
    record.set_state(store, flows, "done")
    metaq_root.mkdir(parents=True, exist_ok=True)
    written = None
    if not store.read("tasks_of", metaq=str(metaq_root.absolute())):
        written = metaq.write_tasks(store, metaq_root, step=f"{camp.name}/source", limit=SOURCE_TASKS)
    return {"campaign": camp.name, "products": report.products, "metaq": metaq_root, "written": written}


@click.command()
@serve_options
@click.option("--no-serve", is_flag=True, help="Load the demo data and stop (do not serve the web app).")
@pass_app
def demo(app: AppContext, no_serve: bool, **kwargs: Any) -> None:
    """Start Neo4j if needed, load a synthetic campaign and a real file, invalidate one
    configuration, then serve the web app (the production server of 'latteprov serve';
    --dev for werkzeug's)."""
    host, port = kwargs["host"], kwargs["port"]
    options = options_from(kwargs)
    sock = None if no_serve else listen(options)  # a port in use fails before anything is loaded
    store = ensure_database(app)
    loaded = load_campaign(store)
    click.echo(load_real_file(store, app.settings.data_dir / "demo"), err=True)
    planned = plan_campaign(store, app.settings.data_dir / "demo-metaq")
    story, showcase = loaded["invalidated"], loaded["showcase"]
    click.echo(f"\ndatabase: {app.settings.uri} (a local server keeps running when the demo stops:"
               " 'latteprov db stop'; running the demo again adds nothing)")
    click.echo(f"invalidated {BAD_CONFIG} and the {story['total'] - 1} products derived from it ({REASON!r})")
    click.echo(f"\nweb app: http://{host}:{port}/graph?node={showcase['uid']}")
    click.echo(f"         (a 3-pt correlator of that configuration: {showcase['name']})")
    click.echo(f"planned campaign {planned['campaign']}: {planned['products']} products; METAQ tasks in {planned['metaq']}")
    click.echo("\ntry:")
    click.echo(f"  latteprov lineage {showcase['uid']}")
    click.echo("  latteprov status")
    click.echo("  latteprov ready --limit 10")
    click.echo(f"  latteprov tasks scan --metaq {planned['metaq']}")
    click.echo(f"  latteprov invalidate {BAD_CONFIG.replace('.305', '.310')} --reason 'bad plaquette' --dry-run")
    if sock is None:
        return
    app.close()  # the workers open their own connections
    app.__dict__.pop("store", None)
    run(build_app(app, allow_writes=False, anonymous_read=True), options, sock, dev=kwargs["dev"])


COMMANDS: list[click.Command] = [demo]
