"""METAQ task files: the frontier written as tasks, and a METAQ directory read back.

The format is METAQ's (evanberkowitz/metaq, README "Task script structure" and "METAQ flags";
``x/launch.sh``, ``x/metaq_lib.sh``): a bash script in ``METAQ/todo/`` or ``priority/``
(any depth: METAQ runs ``find -type f`` there), flag lines ``#METAQ FLAG VALUE`` each on its own
line, capitalised, no space inside a flag or value, the first occurrence winning (``NODES``,
``GPUS``, ``MIN_WC_TIME [[HH:]MM:]SS`` or ``2hr`` or ``30min``, ``PROJECT``, ``LOG``,
``MACHINE``), optionally scheduler lines (``#SBATCH``, ``#BSUB``, ``#PBS``) so the task can be
submitted alone. METAQ executes the task itself (``$METAQ_WORKING/$METAQ_TASK``), so files
are executable. A running job moves a task to ``working/<job id>/``, then to ``finished/``;
``hold/`` parks it; ``x/reset`` moves abandoned work back to ``priority/``.

A task written here is what CalLat's generators (nucleon_elastic_FF ``scripts/scheduler.py``,
``make_task``: flags, scheduler lines, the run, a cleanup block) write, except that the
cleanup block calls no next generator: its last step records the outcome with ``latteprov
record`` (offline on a compute node: spooled, replayed by ``latteprov sync``), and the next
``latteprov ready`` / ``tasks write`` sees what became ready. Lines ``#LATTEPROV PRODUCT
<uid> <name>`` name the products a task computes, so ``tasks scan`` can read a directory back.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import string
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j

from latteprov import frontier, model, queries, record, tally
from latteprov.errors import InputError
from latteprov.identity import make_uid
from latteprov.ingest.conventions import decode_long_tag, preset_ensembles
from latteprov.store import Store

FOLDERS = ("todo", "priority", "hold", "working", "finished")
PRODUCT_LINE = re.compile(r"^#LATTEPROV PRODUCT (\S+)(?: (.*))?$")
SHELL_ESCAPE = str.maketrans({"\\": "\\\\", "$": "\\$", "`": "\\`"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]")


def metaq_dir(path: str | Path, write: bool = True) -> Path:
    """``path`` as an absolute METAQ directory; InputError when it does not exist, is not a
    directory, or (``write``) cannot be written."""
    root = Path(path).expanduser().absolute()
    if not root.exists():
        raise InputError(f"METAQ directory {root} does not exist")
    if not root.is_dir():
        raise InputError(f"METAQ directory {root} is not a directory")
    if not os.access(root, os.R_OK | os.X_OK | (os.W_OK if write else 0)):
        raise InputError(f"METAQ directory {root} is not {'writable' if write else 'readable'}")
    for folder in ("todo", "priority") if write else ():
        sub = root / folder
        if sub.exists() and not (sub.is_dir() and os.access(sub, os.W_OK | os.X_OK)):
            raise InputError(f"METAQ directory {root}: {folder}/ is not a writable directory")
    return root


def file_name(text: str) -> str:
    """A task file name for ``text`` (a product name): characters a shell or METAQ's unquoted
    ``find``/``mv`` could trip on become ``_``."""
    return _UNSAFE.sub("_", text) + ".sh"


class _Quoted(dict):
    """Template values shell-quoted (lists as separately quoted words); a missing one raises."""

    def __missing__(self, key: str) -> str:
        raise KeyError(key)


def _quote(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(shlex.quote(str(v)) for v in value)
    return shlex.quote(str(value))


def render_command(info: frontier.StepInfo, product: dict, task: str) -> str:
    """The step's command for one product: its properties, name, uid, kind, step, campaign,
    the ensemble's long tag and lattice size, the campaign's tseps/particles/flav_spins/
    currents, the task name and ``inputs[ROLE]`` (input names), each shell-quoted. A field
    without a value for this product is an InputError naming it."""
    props = product["props"]
    ens_doc = info.document["ensembles"].get(props.get("ensemble") or "", {})
    long_tag = ens_doc.get("long_tag") or preset_ensembles().get(props.get("ensemble") or "")
    geometry = decode_long_tag(long_tag) if long_tag else {}
    inputs: dict[str, list[str]] = defaultdict(list)
    for inp in product["inputs"]:
        inputs[inp["role"]].append(inp["name"] or inp["uid"])
    values = _Quoted({k: _quote(v) for k, v in props.items() if v is not None})
    values.update({k: _quote(v) for k, v in (
        ("name", product["name"]), ("uid", product["uid"]), ("kind", product["kind"]), ("step", info.step),
        ("campaign", info.campaign), ("task", task), ("long_tag", long_tag), ("nx", geometry.get("nx")),
        ("nt", geometry.get("nt")), ("tseps", ens_doc.get("tseps")), ("particles", ens_doc.get("particles")),
        ("flav_spins", ens_doc.get("flav_spins")), ("currents", ens_doc.get("currents"))) if v is not None})
    values["inputs"] = {role: _quote(names) for role, names in inputs.items()}
    try:
        return string.Formatter().vformat(info.command, (), values)
    except (KeyError, IndexError) as exc:
        raise InputError(f"campaign {info.campaign}: steps.{info.step}.command: {{{exc.args[0]}}} has no value "
                         f"for {product['name']}") from None


def _manifest_output(product: dict, state_var: str) -> dict:
    cls = model.kind_class(product["kind"])
    props = {k: product["props"][k] for k in cls.natural_key if product["props"].get(k) is not None}
    return {"kind": product["kind"], "name": product["name"], "props": props, "state": f"@@{state_var}@@"}


def render_task(info: frontier.StepInfo, products: list[dict], name: str) -> str:
    """The text of one task file computing ``products`` (a bundle when several) of step ``info``."""
    metaq = info.document.get("metaq", {})
    lines = ["#!/bin/bash"]
    lines += [f"#METAQ {flag} {info.resources[flag]}" for flag in ("NODES", "GPUS", "MIN_WC_TIME", "PROJECT",
                                                                   "LOG", "MACHINE") if flag in info.resources]
    lines += list(info.scheduler)
    lines += ["", f"# Written by 'latteprov tasks write': step {info.step} of campaign {info.campaign}.",
              "# Its last step records the outcome in latteprov (docs/planning.md)."]
    lines += [f"#LATTEPROV PRODUCT {p['uid']} {p['name']}" for p in products]
    # Microseconds (GNU date): a run is its host, job id and start instant, and one METAQ job
    # starts many tasks, often within a second.
    lines += ["", *metaq.get("setup", []), "", "started_at=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)"]
    commands = []
    for i, product in enumerate(products):
        command = render_command(info, product, name)
        commands.append(command)
        lines += ["", f"# {product['name']}", f"state_{i}=done", "(", "set -e", command, f") || state_{i}=failed"]
    lines += ["", "ended_at=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)", "run_state=done"]
    lines += [f'[ "$state_{i}" = done ] || run_state=failed' for i in range(len(products))]
    inputs = list(dict.fromkeys(inp["uid"] for p in products for inp in p["inputs"]))
    manifest = {
        "kind": info.step, "name": f"{info.step} {name}", "command": "\n".join(commands)[:1000],
        "job_id": "@@job_id@@", "started_at": "@@started_at@@", "ended_at": "@@ended_at@@",
        "exit_state": "@@run_state@@", "params": {"campaign": info.campaign, "step": info.step, "task": name},
        "inputs": inputs, "outputs": [_manifest_output(p, f"state_{i}") for i, p in enumerate(products)]}
    text = json.dumps(manifest, indent=1).translate(SHELL_ESCAPE)
    text = re.sub(r"@@(\w+)@@", lambda m: "${SLURM_JOB_ID:-${LSB_JOBID:-${PBS_JOBID:-}}}" if m.group(1) == "job_id"
                  else "$" + m.group(1), text)
    latteprov = metaq.get("latteprov", "latteprov")
    lines += ["", "# Last step: record the outcome (spooled when the database cannot be reached).",
              f"{shlex.quote(latteprov)} record - <<LATTEPROV_MANIFEST", text, "LATTEPROV_MANIFEST",
              "recorded=$?", '[ "$run_state" = done ] || exit 1', "exit $recorded", ""]
    return "\n".join(lines)


@dataclass
class _Claim:
    info: frontier.StepInfo
    products: list[dict]


def _claim(tx: neo4j.ManagedTransaction, chosen: list[frontier.StepInfo], ensemble: str | None,
           limit: int | None) -> tuple[list[_Claim], list[dict]]:
    """Inside the writing transaction (under the tasks lock): the ready products (at most
    ``limit``), set queued; the done or failed products of campaign steps downstream of those
    due for recomputation, planned again (what is made from a recomputed product is remade).
    Returns the claims per step and the (uid, state) of everything whose state changed."""
    queries.run(tx, "take_tasks_lock").consume()
    by_key = {info.key: info for info in chosen}
    left = 1_000_000_000 if limit is None else limit
    picked: list[tuple[frontier.StepInfo, list[str], set[str]]] = []
    rows = queries.run(tx, "frontier", steps=list(by_key), ensemble=ensemble, limit=left).data()
    order = list(by_key)
    for row in sorted(rows, key=lambda r: (order.index(r["step"]), r["ensemble"] or "")):
        take = row["products"][:left]
        left -= len(take)
        if take:
            picked.append((by_key[row["step"]], [p["uid"] for p in take],
                           {p["uid"] for p in take if p["why"] == "recompute"}))
    uids = [u for _, part, _ in picked for u in part]
    recompute = [u for _, _, due in picked for u in due]
    details = {r["uid"]: r for r in queries.run(tx, "task_products", uids=uids).data()}
    downstream = queries.run(tx, "downstream_step_products", uids=recompute).data() if recompute else []
    downstream = [d for d in downstream if d["uid"] not in details]
    changed = [{"uid": u, "state": details[u]["state"]} for u in uids] + downstream
    with tally.Tracker(tx, [c["uid"] for c in changed]):
        queries.run(tx, "set_state", uids=uids, state="queued").consume()
        if downstream:
            queries.run(tx, "set_state", uids=[d["uid"] for d in downstream], state="planned").consume()
    claims = []
    for info, part, _ in picked:
        products = [details[u] for u in part]
        size = max(int(info.bundle), 1)
        claims += [_Claim(info, products[i:i + size]) for i in range(0, len(products), size)]
    return claims, changed


def write_tasks(store: Store, directory: str | Path, step: str | None = None, ensemble: str | None = None,
                limit: int | None = None, priority: bool = False) -> dict:
    """Write one task file per ready product (per bundle where the step asks for bundles) into
    ``directory``'s ``todo/`` (``priority/`` with ``priority`` or the campaign's
    ``metaq.folder``), and set those products ``queued``; at most ``limit`` products. Returns
    ``{"metaq", "tasks": [{task, path, campaign, step, products}], "products", "replanned"}``.

    Claiming and writing are one transaction (under a lock, so no product is written twice,
    even by two runs at once): the files are written to a staging folder inside the METAQ
    directory first and moved into place after the commit. A directory that does not exist or
    cannot be written is refused before anything is written (InputError)."""
    root = metaq_dir(directory)
    if limit is not None and limit < 0:
        raise InputError(f"limit must be 0 or more, not {limit}")
    chosen = frontier.select(frontier.steps(store), step)
    try:  # one staging folder per call (two writers at once each have their own), on DIR's file system
        staging = Path(tempfile.mkdtemp(prefix=".latteprov-staging-", dir=root))
    except OSError as exc:
        raise InputError(f"METAQ directory {root}: cannot write the tasks: {exc.strerror or exc}") from None
    planned: list[tuple[_Claim, str, str]] = []

    def work(tx: neo4j.ManagedTransaction) -> list[dict]:
        planned.clear()
        for leftover in staging.iterdir():  # a retried transaction starts over
            leftover.unlink()
        claims, changed = _claim(tx, chosen, ensemble, limit)
        rows = []
        for claim in claims:
            first = claim.products[0]["name"]
            name = file_name(first if len(claim.products) == 1 else f"{first}+{len(claim.products) - 1}")
            folder = "priority" if priority else claim.info.document.get("metaq", {}).get("folder", "todo")
            (staging / name).write_text(render_task(claim.info, claim.products, name), encoding="utf-8")
            planned.append((claim, name, folder))
            rows.append({"uid": make_uid("Task", {"metaq": str(root), "name": name}), "name": name,
                         "metaq": str(root), "folder": folder, "campaign_step": claim.info.key,
                         "products": [p["uid"] for p in claim.products]})
        if rows:
            queries.run(tx, "tasks_record", rows=rows).consume()
        return changed

    changed: list[dict] | None = None  # set once the claim is committed
    try:
        changed = store.write_tx(work)
        written = []
        for claim, name, folder in planned:
            target = root / folder / name
            target.parent.mkdir(exist_ok=True)
            os.chmod(staging / name, 0o755)
            os.replace(staging / name, target)
            written.append({"task": name, "path": str(target), "campaign": claim.info.campaign,
                            "step": claim.info.step, "products": [p["name"] for p in claim.products]})
    except OSError as exc:
        if changed is not None:  # committed, but the files could not be put in place: undo the claim
            _undo(store, root, changed, [name for _, name, _ in planned])
        raise InputError(f"METAQ directory {root}: cannot write the tasks: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    queued = sum(len(t["products"]) for t in written)
    return {"metaq": str(root), "tasks": written, "products": queued, "replanned": len(changed) - queued}


def _undo(store: Store, root: Path, changed: list[dict], names: list[str]) -> None:
    """Put back the states a failed ``write_tasks`` changed, and forget its Task nodes."""
    by_state: dict[str, list[str]] = defaultdict(list)
    for c in changed:
        by_state[c["state"]].append(c["uid"])
    for state, uids in by_state.items():
        record.set_state(store, uids, state)
    store.write("tasks_delete", uids=[make_uid("Task", {"metaq": str(root), "name": n}) for n in names])
    for name in names:
        for folder in ("todo", "priority"):
            (root / folder / name).unlink(missing_ok=True)


# -- reading a METAQ directory back ------------------------------------------------------------
def read_products(path: Path) -> list[str]:
    """The uids of the ``#LATTEPROV PRODUCT`` lines of a task file (none for other files)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [m.group(1) for line in f if (m := PRODUCT_LINE.match(line.rstrip("\n")))]
    except OSError:
        return []


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def scan(store: Store, directory: str | Path, running_jobs: set[str] | None = None) -> dict:
    """Read ``directory``'s todo, priority, hold, working and finished folders and bring the
    graph up to date: products of tasks in ``working/<job>/`` become running (forward only);
    products whose Task file is nowhere any more (deleted by hand) and still queued go back to
    planned (through :func:`latteprov.record.set_state`, the explicit way back). Reported:
    tasks per folder, ``abandoned`` ones (working for a job not in ``running_jobs``; None: job
    states unknown, nothing is called abandoned), ``unrecorded`` ones (finished, but their
    products have no recorded outcome: a failed record step, or a spool not synced yet)."""
    root = metaq_dir(directory, write=False)
    where: dict[str, list[tuple[str, str, list[str]]]] = {f: [] for f in FOLDERS}  # folder -> (task, job, uids)
    for folder in FOLDERS:
        base = root / folder
        for path in _files(base):
            uids = read_products(path)
            if uids:
                job = path.relative_to(base).parts[0] if folder == "working" and len(path.relative_to(base).parts) > 1 else ""
                where[folder].append((path.name, job, uids))
    every = sorted({u for tasks in where.values() for _, _, uids in tasks for u in uids})
    seen_names = {name for tasks in where.values() for name, _, _ in tasks}
    known_tasks = store.read("tasks_of", metaq=str(root))
    gone = [t for t in known_tasks if t["name"] not in seen_names]
    gone_uids = sorted({u for t in gone for u in t["products"]} - set(every))
    states = {r["uid"]: r for r in store.read("entity_states", uids=every + gone_uids)}

    abandoned, started_uids = [], []
    for name, job, uids in where["working"]:
        if running_jobs is not None and job not in running_jobs:
            abandoned.append({"task": name, "job": job, "products": [states[u]["name"] for u in uids if u in states]})
        else:
            started_uids += uids
    waiting = [u for f in ("todo", "priority", "hold") for _, _, uids in where[f] for u in uids]
    started = _advance(store, started_uids, "running")
    requeued = _advance(store, waiting, "queued")
    unrecorded = [{"task": name, "products": [states[u]["name"] for u in uids
                                              if u in states and states[u]["state"] not in ("done", "failed")]}
                  for name, _, uids in where["finished"]]
    unrecorded = [u for u in unrecorded if u["products"]]
    back = [u for u in gone_uids if u in states and states[u]["state"] == "queued"]
    if back:
        record.set_state(store, back, "planned")
    if gone:
        store.write("tasks_delete", uids=[t["uid"] for t in gone])
    return {"metaq": str(root), "folders": {f: len(where[f]) for f in FOLDERS}, "running": len(started),
            "queued": len(requeued), "abandoned": abandoned, "unrecorded": unrecorded,
            "replanned": [states[u]["name"] for u in back], "jobs_known": running_jobs is not None}


def _advance(store: Store, uids: list[str], state: str) -> list[str]:
    """Move the entities ``uids`` forward to ``state`` where that is forward; those moved."""
    uids = list(dict.fromkeys(uids))
    if not uids:
        return []

    def work(tx: neo4j.ManagedTransaction) -> list[str]:
        with tally.Tracker(tx, uids):
            return queries.run(tx, "advance_states", uids=uids, state=state,
                          rank=model.STATE_RANK).single()["moved"]

    return store.write_tx(work)
