"""``latteprov demo``: the whole experience on one command.

A database up (started locally when none answers), the schema installed, the tier-S synthetic
campaign and the shipped real a15m310 file loaded, one configuration invalidated so the story
is visible, then the web app served with its URL and three commands worth trying. Everything
it writes is MERGEd by uid and invalidating twice records one event, so a second run only
refreshes what is there.
"""
from __future__ import annotations

import click

from latteprov import data, find, invalidate, synth
from latteprov.cli.context import AppContext, pass_app
from latteprov.cli.web import build_app, run
from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store, StoreUnavailable

TIER = "S"
# The configuration the demo invalidates; the showcase is a 3-pt correlator derived from it.
BAD_CONFIG = "l3296f211b630m0074m037m440e.305"
REASON = "demo: plaquette outlier in the HMC history"
SHOWCASE_FILTERS = ["ensemble=a09m310", "config=305", "current=A3"]


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


def load_real_file(ctx: click.Context, app: AppContext) -> bool:
    """Ingest the shipped a15m310 HDF5 file through ``latteprov ingest h5`` when that command exists."""
    ingest = ctx.find_root().command.get_command(ctx, "ingest")
    h5 = ingest.get_command(ctx, "h5") if isinstance(ingest, click.Group) else None
    if h5 is None:
        click.echo("(this build has no 'latteprov ingest h5'; the real a15m310 file is left out)", err=True)
        return False
    h5.main([str(data.path("a15m310-devel.h5"))], prog_name="latteprov ingest h5", standalone_mode=False, obj=app)
    return True


def load(ctx: click.Context, app: AppContext, store: Store) -> dict:
    """Schema, campaign, real file and the invalidation: everything the demo shows."""
    store.install_schema()
    click.echo(f"loading the tier-{TIER} synthetic campaign ({synth.batch_count(TIER)} batches) ...", err=True)
    synth.write(store, TIER)
    real = load_real_file(ctx, app)
    story = invalidate.invalidate(store, BAD_CONFIG, REASON, "demo")
    showcase = find.find(store, "Baryon3pt", find.parse_filters(SHOWCASE_FILTERS), limit=1)[0]
    return {"real_file": real, "invalidated": story, "showcase": showcase}


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface the web app listens on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535), help="Port of the web app.")
@click.option("--no-serve", is_flag=True, help="Load the demo data and stop (do not serve the web app).")
@click.pass_context
@pass_app
def demo(app: AppContext, ctx: click.Context, host: str, port: int, no_serve: bool) -> None:
    """Start Neo4j if needed, load a synthetic campaign and a real file, invalidate one
    configuration, then serve the web app."""
    store = ensure_database(app)
    loaded = load(ctx, app, store)
    story, showcase = loaded["invalidated"], loaded["showcase"]
    click.echo(f"\ndatabase: {app.settings.uri}")
    click.echo(f"invalidated {BAD_CONFIG} and the {story['total'] - 1} products derived from it ({REASON!r})")
    click.echo(f"\nweb app: http://{host}:{port}/graph?node={showcase['uid']}")
    click.echo(f"         (a 3-pt correlator of that configuration: {showcase['name']})")
    click.echo("\ntry:")
    click.echo(f"  latteprov lineage {showcase['uid']}")
    click.echo("  latteprov status")
    click.echo(f"  latteprov invalidate {BAD_CONFIG.replace('.305', '.310')} --reason 'bad plaquette' --dry-run")
    if no_serve:
        return
    run(build_app(app, allow_writes=False, anonymous_read=True), host, port)


COMMANDS: list[click.Command] = [demo]
