"""A small campaign for the planning tests, and what a finished task's last step does.

Two configurations of a09m310 (300, 305), two sources each (an origin and its antipode), one
separation (4) of the proton with one flavour/spin projection and one current: per
configuration 1 flow, 2 sources, 2 propagators, 2 spectra, 1 coherent sequential source,
1 sequential propagator and 2 form-factor files (11 products, 22 in all).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from latteprov import frontier, manifest, model

CAMPAIGN = """
name = "ff"

[metaq]
setup = ["echo setting up"]

[ensembles.a09m310]
streams = ["e"]
configs = { first = 300, last = 305, step = 5 }
sources = 2
smearing = { width = 3.5, steps = 45 }
valence = { M5 = 1.1, L5 = 6, alpha5 = 1.5, quark_mass = 0.00951 }
tseps = [4]
particles = ["proton"]
flav_spins = ["UU_up_up"]
currents = ["A3"]

[steps.flow]
kind = "GaugeConfig"
command = "run-step flow {inputs[parent]} {name}"
resources = { NODES = 1, GPUS = 0, MIN_WC_TIME = "20min", PROJECT = "gflow_a09m310" }

[steps.source]
kind = "Source"
inputs = { gauge = "flow" }
command = "run-step source {name} {x} {y} {z} {t}"
resources = { NODES = 1, GPUS = 4, MIN_WC_TIME = "10min", PROJECT = "src_a09m310" }

[steps.prop]
kind = "OneToAll"
inputs = { gauge = "flow", source = "source" }
command = "run-step prop {name} {inputs[source]}"
resources = { NODES = 4, GPUS = 16, MIN_WC_TIME = "1:30:00", PROJECT = "prop_a09m310" }
scheduler = ["#SBATCH -N 4", "#SBATCH -t 01:30:00"]

[steps.spec]
kind = "Baryon2pt"
inputs = { light = "prop" }
command = "run-step spec {name}"
resources = { NODES = 1, GPUS = 4, MIN_WC_TIME = "2hr" }
bundle = 2

[steps.seqsrc]
kind = "SequentialSource"
inputs = { propagator = "prop", gauge = "flow" }
command = "run-step seqsrc {name} {particle} {tsep}"
resources = { NODES = 1, GPUS = 4, MIN_WC_TIME = "45" }

[steps.seqprop]
kind = "Sequential"
inputs = { seqsource = "seqsrc", gauge = "flow" }
command = "run-step seqprop {name}"
resources = { NODES = 4, GPUS = 16, MIN_WC_TIME = "30:00" }

[steps.formfac]
kind = "Baryon3pt"
inputs = { propagator = "prop", seqprop = "seqprop" }
command = "run-step formfac {name} {currents}"
resources = { NODES = 1, GPUS = 4, MIN_WC_TIME = "30min" }
"""
STEPS = ("flow", "source", "prop", "spec", "seqsrc", "seqprop", "formfac")
PER_CONFIG = {"flow": 1, "source": 2, "prop": 2, "spec": 2, "seqsrc": 1, "seqprop": 1, "formfac": 2}
RAW_CONFIG = "l3296f211b630m0074m037m440e.300"


def write_campaign(folder: Path, text: str = CAMPAIGN, name: str = "campaign.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def ready_names(store, step: str | None = None) -> dict[str, set[str]]:
    """The frontier as {step: names of its ready products}."""
    out: dict[str, set[str]] = {}
    for g in frontier.ready(store, step)["groups"]:
        if g["products"]:
            out.setdefault(g["step"], set()).update(p["name"] for p in g["products"])
    return out


def ready_uids(store) -> set[str]:
    return {p["uid"] for g in frontier.ready(store)["groups"] for p in g["products"]}


def step_products(store, step: str, configs: list[int] | None = None) -> list[dict]:
    return store.read("step_products", step=f"ff/{step}", configs=configs)


def record_outcome(store, uids: list[str], state: str = "done", started_at: datetime | None = None) -> None:
    """Record a run that made ``uids`` with ``state``, as a task's last step does: a manifest
    naming each product by kind and natural key (``latteprov record -``)."""
    products = store.read("task_products", uids=uids)
    started = (started_at or datetime.now(timezone.utc)).isoformat()
    run = {"kind": "test", "started_at": started, "ended_at": datetime.now(timezone.utc).isoformat(),
           "exit_state": "failed" if state == "failed" else "done",
           "inputs": sorted({i["uid"] for p in products for i in p["inputs"]}),
           "outputs": [{"kind": p["kind"], "name": p["name"], "state": state,
                        "props": {k: p["props"][k] for k in model.kind_class(p["kind"]).natural_key
                                  if p["props"].get(k) is not None}} for p in products]}
    manifest.record(store, ["-"], stdin=json.dumps(run))


def record_step(store, step: str, state: str = "done", configs: list[int] | None = None) -> list[str]:
    """Record every product of ``step`` (on ``configs``) with ``state``; their uids."""
    uids = [p["uid"] for p in step_products(store, step, configs)]
    record_outcome(store, uids, state)
    return uids
