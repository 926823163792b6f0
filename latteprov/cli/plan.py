"""``latteprov plan``, ``latteprov ready``, ``latteprov tasks write|scan``: from a campaign file to
METAQ task files (docs/planning.md)."""
from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import click
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from latteprov.cli.context import AppContext, pass_app
from latteprov.cli.ingest import progress_bar
from latteprov.cli.output import DOCUMENT, emit_one, format_option, report_conflicts
from latteprov.errors import InputError


def plan_view(report: dict) -> RenderableType:
    """Products per step of a plan (or a dry run) and what was written."""
    dry = report["dry_run"]
    table = Table(title=f"campaign {report['campaign']}: {report['configs']} configurations"
                        + (" (dry run: nothing written)" if dry else ""), title_justify="left")
    for col in ("step", "kind", "node", "products", *(("already in the graph",) if dry else ())):
        table.add_column(col, justify="right" if col in ("products", "already in the graph") else "left")
    for s in report["steps"]:
        table.add_row(s["step"], s["kind"], s["node"], str(s["products"]), *((str(s["existing"]),) if dry else ()))
    lines = [f"{report['products']} products in {report['seconds']:.1f} s"]
    if not dry:
        w = report["written"]
        lines[0] += f" ({report['rate']:,.0f} products/s)"
        lines.append(f"{w['entities_created']} nodes created, {w['entities_matched']} already known "
                     f"(states kept), {w['edges_written']} edges")
    return Group(table, Text("\n".join(lines)))


@click.command("plan")
@click.argument("campaign_file", metavar="CAMPAIGN.toml", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only count the products per step (and those already in the graph).")
@format_option(DOCUMENT)
@pass_app
def plan(app: AppContext, campaign_file: Path, dry_run: bool, fmt: str) -> None:
    """Declare every product of a campaign planned, with its inputs (idempotent).

    The campaign file names ensembles, configurations, sources, separations, particles and
    currents, and the steps (product kind, the steps feeding it, a command template, METAQ
    resources); docs/planning.md has the format. Products are named by the CalLat conventions.
    Re-planning adds only what is new and never moves a state back; a product recorded with
    other values (another campaign's step) keeps them, one 'conflict:' line each, exit 3.
    """
    from dataclasses import asdict

    from latteprov import campaign, plan as planner

    camp = campaign.load(campaign_file)
    total = sum(len(e.configs) * len(e.streams) for e in camp.ensembles)
    with progress_bar("configurations", total) as advance:
        report = planner.plan(app.store, camp, dry_run=dry_run, advance=advance)
    out = {**asdict(report), "products": report.products, "rate": report.rate}
    if dry_run:
        out.pop("written")
    emit_one(out, fmt, plan_view)
    # A product another campaign's step (or an earlier record) gave other values keeps them.
    report_conflicts(report.written.conflicts)


def ready_view(answer: dict) -> RenderableType:
    """The frontier: one table row per step and ensemble, then the products listed."""
    if not answer["groups"]:
        return Text("nothing planned is ready, queued or running")
    queued = sum(g["queued"] for g in answer["groups"])
    running = sum(g["running"] for g in answer["groups"])
    table = Table(title=f"ready to run: {answer['total']} product{'' if answer['total'] == 1 else 's'}", title_justify="left",
                  caption=f"not counted as ready: {queued} queued (a task is written) and {running} running",
                  caption_justify="left")
    for col in ("campaign", "step", "kind", "ensemble", "ready", "queued", "running", "resources"):
        table.add_column(col, justify="right" if col in ("ready", "queued", "running") else "left")
    listed = Table(title="products", title_justify="left")
    for col in ("step", "why", "name", "uid"):
        listed.add_column(col)
    for g in answer["groups"]:
        resources = " ".join(f"{k}={v}" for k, v in g["resources"].items())
        table.add_row(g["campaign"], g["step"], g["kind"], g["ensemble"] or "", str(g["ready"]), str(g["queued"]),
                      str(g["running"]), resources)
        for p in g["products"]:
            listed.add_row(g["step"], p["why"], p["name"], p["uid"])
    if listed.row_count < answer["total"]:
        listed.title = f"products: {listed.row_count} of {answer['total']} listed (--limit)"
    return Group(table, listed) if listed.row_count else table


@click.command("ready")
@click.option("--step", default=None, metavar="STEP", help="Only this step (STEP or CAMPAIGN/STEP).")
@click.option("--ensemble", default=None, metavar="TAG", help="Only this ensemble.")
@click.option("--limit", type=click.IntRange(0), default=None, help="List at most this many products (counts stay complete).")
@format_option(DOCUMENT)
@pass_app
def ready(app: AppContext, step: str | None, ensemble: str | None, limit: int | None, fmt: str) -> None:
    """What can run now: planned, failed, or invalidated-and-due products whose inputs are all
    done and valid, grouped by step and ensemble with the step's resources (and how many are
    queued or running)."""
    from latteprov import frontier

    emit_one(frontier.ready(app.store, step, ensemble, limit), fmt, ready_view)


@click.group("tasks")
def tasks() -> None:
    """METAQ task files: write the frontier as tasks, read a METAQ directory back."""


def written_view(answer: dict) -> RenderableType:
    if not answer["tasks"]:
        return Text(f"nothing ready: no task written to {answer['metaq']}")
    table = Table(title=f"{len(answer['tasks'])} task files, {answer['products']} products queued, in {answer['metaq']}",
                  title_justify="left")
    for col in ("step", "task", "products"):
        table.add_column(col, justify="right" if col == "products" else "left")
    for t in answer["tasks"]:
        table.add_row(t["step"], str(Path(t["path"]).relative_to(answer["metaq"])), str(len(t["products"])))
    parts: list[RenderableType] = [table]
    if answer["replanned"]:
        parts.append(Text(f"{answer['replanned']} products made from recomputed ones planned again"))
    return Group(*parts)


@tasks.command("write")
@click.option("--metaq", "directory", required=True, type=click.Path(path_type=Path),
              help="The METAQ directory (tasks go to its todo/).")
@click.option("--step", default=None, metavar="STEP", help="Only this step (STEP or CAMPAIGN/STEP).")
@click.option("--ensemble", default=None, metavar="TAG", help="Only this ensemble.")
@click.option("--limit", type=click.IntRange(0), default=None, help="At most this many products.")
@click.option("--priority", is_flag=True, help="Write to priority/ instead of todo/.")
@format_option(DOCUMENT)
@pass_app
def tasks_write(app: AppContext, directory: Path, step: str | None, ensemble: str | None, limit: int | None,
                priority: bool, fmt: str) -> None:
    """One METAQ task file per ready product (or bundle), whose products become queued.

    Each task carries the #METAQ flags of its step, its scheduler lines, the command from the
    step's template, and a last step that records the outcome with 'latteprov record'. A
    product is never written twice; 'latteprov tasks scan' reads the directory back.
    """
    from latteprov import metaq

    emit_one(metaq.write_tasks(app.store, directory, step, ensemble, limit, priority), fmt, written_view)


def scan_view(report: dict) -> RenderableType:
    lines = [f"{report['metaq']}: " + ", ".join(f"{n} {f}" for f, n in report["folders"].items()),
             f"{report['running']} products now running, {report['queued']} queued again"]
    if not report["jobs_known"]:
        lines.append("job states unknown (--running-jobs or --jobs-command): no task called abandoned")
    for a in report["abandoned"]:
        lines.append(f"abandoned: working/{a['job']}/{a['task']} (job {a['job']} no longer runs; METAQ's x/reset "
                     "moves it back to priority/)")
    for u in report["unrecorded"]:
        lines.append(f"finished without a recorded outcome: {u['task']} ({len(u['products'])} products; "
                     "see its log, or run 'latteprov sync' for a spooled record)")
    for name in report["replanned"]:
        lines.append(f"task file gone, planned again: {name}")
    return Text("\n".join(lines))


def _running_jobs(ids: str | None, command: str | None) -> set[str] | None:
    if ids is not None:
        return {j.strip() for j in ids.split(",") if j.strip()}
    if command is None:
        return None
    try:
        out = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise InputError(f"--jobs-command {command!r} failed: {exc}") from None
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@tasks.command("scan")
@click.option("--metaq", "directory", required=True, type=click.Path(path_type=Path),
              help="The METAQ directory to read.")
@click.option("--running-jobs", default=None, metavar="ID,ID...", help="Job ids that still run (others' working tasks are abandoned).")
@click.option("--jobs-command", default=None, metavar="CMD",
              help="A command printing the running job ids, one per line (e.g. 'squeue -h -o %A').")
@format_option(DOCUMENT)
@pass_app
def tasks_scan(app: AppContext, directory: Path, running_jobs: str | None, jobs_command: str | None, fmt: str) -> None:
    """Read todo, priority, hold, working and finished: working tasks' products become running,
    queued products whose task file was deleted go back to planned; lists abandoned tasks and
    finished tasks without a recorded outcome."""
    from latteprov import metaq

    emit_one(metaq.scan(app.store, directory, _running_jobs(running_jobs, jobs_command)), fmt, scan_view)


COMMANDS: list[click.Command] = [plan, ready, tasks]
