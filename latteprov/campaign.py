"""Campaign files: what a production campaign computes, on which configurations, in which steps.

A campaign file (TOML, validated against :data:`SCHEMA`) names ensembles (streams,
configuration ranges, sources per configuration, source-sink separations, particles,
flavour/spin projections, currents, valence parameters) and steps. Each step makes products of
one kind, named and identified by a node of the file-name conventions (the CalLat preset,
``latteprov/ingest/callat.toml``: ``flowed``, ``src``, ``prop``, ``spec``, ``seqsrc``,
``seqprop``, ``formfac``, the ``spec_4D_*`` post-processing nodes ...), is fed by other steps
through the conventions' input roles, and carries a command template and the METAQ resources
of its tasks. ``docs/planning.md`` documents the format with a worked example.

What a step loops over follows from its node's file-name template: a template with the source
origin (``x{x}y{y}z{z}t{t}``) has one product per source of a configuration, one with ``dt{tsep}``
one per separation (written negative for negative-parity particles, as CalLat does), one with
the particle and flavour/spin one per pair. Source positions are CalLat's
(nucleon_elastic_FF ``scripts/sources.py``, ``make`` with the ``oa`` generator): per
configuration a seeded random origin at each of ``sources/2`` time shifts, and its antipode.

Every problem is a :class:`CampaignError` of one line naming the file and the place in it.
"""
from __future__ import annotations

import graphlib
import random
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import product as cartesian
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

import jsonschema

from latteprov import model
from latteprov.errors import InputError
from latteprov.ingest import conventions as conv

# The convention node a step of each kind means unless it names one.
DEFAULT_NODES = {"GaugeConfig": "flowed", "Source": "src", "OneToAll": "prop", "Baryon2pt": "spec",
                 "SequentialSource": "seqsrc", "Sequential": "seqprop", "Baryon3pt": "formfac"}
# Fields of a file-name template that make a step loop, and the loop they stand for.
SOURCE_FIELDS = ("x", "y", "z", "t")
LOOP_FIELDS = {"x": "source", "y": "source", "z": "source", "t": "source", "tsep": "tsep",
               "particle": "particle", "flav_spin": "flav_spin", "current": "current"}
# Fields every product of an ensemble can be named with (besides its loops).
# What a command template may use besides the product's properties.
COMMAND_FIELDS = ("name", "uid", "kind", "step", "campaign", "long_tag", "nx", "nt", "tseps", "particles",
                  "flav_spins", "currents", "task")
METAQ_FLAGS = ("NODES", "GPUS", "MIN_WC_TIME", "PROJECT", "LOG", "MACHINE")
# METAQ's MIN_WC_TIME: [[HH:]MM:]SS, or HHhr, or MMmin (evanberkowitz/metaq README, x/seconds).
WC_TIME = r"^(?:\d+hr|\d+min|(?:(?:\d+:)?\d+:)?\d+)$"
NO_SPACE = r"^\S+$"

_TEXT = {"type": "string", "minLength": 1, "maxLength": 1000}
_LINE = {"type": "string", "maxLength": 2000, "pattern": r"^[^\n\r]*$"}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "latteprov campaign",
    "type": "object",
    "required": ["name", "ensembles", "steps"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
                 "description": "Campaign name: letters, digits, '.', '_', '-'."},
        "description": {"type": "string"},
        "conventions": {"type": "array", "items": _TEXT,
                        "description": "Convention files added to the CalLat preset (paths relative to the campaign file)."},
        "metaq": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "folder": {"enum": ["todo", "priority"], "description": "Where tasks go (default todo)."},
                "latteprov": {**_TEXT, "description": "The command a task runs to record its outcome (default latteprov)."},
                "setup": {"type": "array", "items": _LINE, "description": "Shell lines every task runs first."},
            },
        },
        "ensembles": {"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/$defs/ensemble"}},
        "steps": {"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/$defs/step"},
                  "propertyNames": {"pattern": r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"}},
    },
    "$defs": {
        "ensemble": {
            "type": "object", "additionalProperties": False,
            "required": ["streams", "configs"],
            "properties": {
                "long_tag": {**_TEXT, "description": "MILC long tag, when the tag is not in CalLat's table."},
                "streams": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[A-Za-z]$"}},
                "configs": {"type": "object", "additionalProperties": False, "required": ["first", "last"],
                            "properties": {"first": {"type": "integer", "minimum": 0},
                                           "last": {"type": "integer", "minimum": 0},
                                           "step": {"type": "integer", "minimum": 1}}},
                "sources": {"type": "integer", "minimum": 1, "maximum": 1024},
                "source_seed": _TEXT,
                "source_pattern": {"enum": ["oa", "o"]},
                "flow_time": {"type": "number", "minimum": 0},
                "smearing": {"type": "object", "additionalProperties": False, "required": ["width", "steps"],
                             "properties": {"width": {"type": "number", "minimum": 0},
                                            "steps": {"type": "integer", "minimum": 0}}},
                "valence": {"type": "object", "additionalProperties": False,
                            "required": ["M5", "L5", "alpha5", "quark_mass"],
                            "properties": {"M5": {"type": "number"}, "L5": {"type": "integer", "minimum": 1},
                                           "alpha5": {"type": "number"},
                                           "quark_mass": {"type": "number", "exclusiveMinimum": 0}}},
                "tseps": {"type": "array", "items": {"type": "integer", "minimum": 1}, "uniqueItems": True},
                "particles": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+(?:_np)?$"},
                              "uniqueItems": True},
                "flav_spins": {"type": "array", "items": {"type": "string",
                                                          "pattern": "^[A-Z]+_(?:up|dn)_(?:up|dn)$"},
                               "uniqueItems": True},
                "currents": {"type": "array", "items": {"enum": list(model.CURRENTS)}, "uniqueItems": True},
                "sink": {"enum": ["SS", "PS"]},
                "sink_momentum": {"type": "array", "items": {"type": "integer"}, "minItems": 3, "maxItems": 3},
            },
        },
        "step": {
            "type": "object", "additionalProperties": False, "required": ["kind", "command"],
            "properties": {
                "kind": {**_TEXT, "description": "Product kind (OneToAll, Baryon2pt ...: docs/model.md)."},
                "node": {**_TEXT, "description": "Convention node naming the products (default by kind)."},
                "inputs": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Input role -> the step that makes those inputs."},
                "command": {"type": "string", "minLength": 1, "maxLength": 10000},
                "resources": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"NODES": {"type": "integer", "minimum": 1},
                                   "GPUS": {"type": "integer", "minimum": 0},
                                   "MIN_WC_TIME": {"type": "string", "pattern": WC_TIME},
                                   "PROJECT": {"type": "string", "pattern": NO_SPACE},
                                   "LOG": {"type": "string", "pattern": r"^/\S*$"},
                                   "MACHINE": {"type": "string", "pattern": NO_SPACE}},
                },
                "scheduler": {"type": "array", "items": {"type": "string", "pattern": r"^#[A-Z]+ [^\n\r]*$"},
                              "description": "Scheduler header lines (#SBATCH, #PBS, #BSUB ...)."},
                "bundle": {"type": "integer", "minimum": 1, "description": "Products per task file (default 1)."},
            },
        },
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
_FIELD = re.compile(r"\{(\w+)(?::[^}]*)?\}")


class CampaignError(InputError):
    """A campaign file cannot be planned: one line naming the file and the place in it."""


@dataclass(frozen=True)
class Ensemble:
    """One ensemble of a campaign: what runs on each of its configurations."""

    tag: str
    streams: tuple[str, ...]
    configs: tuple[int, ...]
    fields: dict[str, Any]            # enriched ensemble-wide fields (long_tag, nx, nt, valence ...)
    sources: int = 1
    source_seed: str = "1"
    source_pattern: str = "oa"
    tseps: tuple[int, ...] = ()
    particles: tuple[str, ...] = ()
    flav_spins: tuple[str, ...] = ()
    currents: tuple[str, ...] = ()

    def signed_tseps(self, particle: str | None) -> list[int]:
        """Separations as file names write them: negative for negative-parity particles
        (``proton_np``); for a product of no particle, those of every particle."""
        if particle is not None:
            return [-t if particle.endswith("_np") else t for t in self.tseps]
        signs = sorted({-1 if p.endswith("_np") else 1 for p in self.particles} or {1}, reverse=True)
        return [s * t for s in signs for t in self.tseps]


@dataclass(frozen=True)
class Step:
    """One step: the products of a convention node, what feeds it, its command and resources."""

    name: str
    kind: str
    node: str
    inputs: dict[str, str]             # role -> step
    command: str
    resources: dict[str, Any]
    scheduler: tuple[str, ...] = ()
    bundle: int = 1
    loops: tuple[str, ...] = ()        # source, particle, flav_spin, tsep, current (in this order)
    averages: bool = False             # the node's name has an average's source set (src_avg{avg_set})
    fields: frozenset[str] = frozenset()  # the fields of the node's file-name template


@dataclass
class Campaign:
    """A validated campaign: its ensembles, steps in dependency order, and the conventions."""

    name: str
    source: str
    document: dict
    ensembles: list[Ensemble]
    steps: list[Step]
    conventions: conv.Conventions = field(repr=False)

    def step_key(self, step: Step) -> str:
        """The ``campaign_step`` a product of ``step`` carries: ``<campaign>/<step>``."""
        return f"{self.name}/{step.name}"

    def combinations(self, step: Step, ens: Ensemble, config: int, stream: str) -> Iterator[dict[str, Any]]:
        """The fields of each product of ``step`` on one configuration (not yet enriched): those of
        its file-name template only, so that the node is the one its file's name means (what
        ``ingest names`` makes of it, once it exists)."""
        base = {k: v for k, v in ens.fields.items() if k in step.fields}
        base.update(stream=stream, config=config)
        if step.averages:
            base["avg_set"] = ""  # CalLat's average of every source: ..._src_avg.h5
        sources = source_positions(config, ens.sources, ens.fields["nx"], ens.fields["nt"],
                                   f"{ens.source_seed}{stream}", ens.source_pattern) if "source" in step.loops else [{}]
        particles: list[str | None] = list(ens.particles) if "particle" in step.loops else [None]
        flav_spins: list[str | None] = list(ens.flav_spins) if "flav_spin" in step.loops else [None]
        currents: list[str | None] = list(ens.currents) if "current" in step.loops else [None]
        for particle, flav_spin in cartesian(particles, flav_spins):
            tseps: list[int | None] = ens.signed_tseps(particle) if "tsep" in step.loops else [None]
            for tsep, current, src in cartesian(tseps, currents, sources):
                fields = dict(base, **src)
                for key, value in (("particle", particle), ("flav_spin", flav_spin), ("tsep", tsep),
                                   ("current", current)):
                    if value is not None:
                        fields[key] = value
                yield fields

    def products_per_config(self, step: Step, ens: Ensemble) -> int:
        """How many products ``step`` has on each configuration of ``ens``."""
        return sum(1 for _ in self.combinations(step, ens, ens.configs[0], ens.streams[0]))


def _van_der_corput(count: int) -> list[float]:
    """0, 1/2, 1/4, 3/4, 1/8 ...: CalLat's time shifts [0, T/2, T/4, 3T/4] as fractions of T."""
    out = []
    for i in range(count):
        value, denominator, n = 0.0, 1.0, i
        while n:
            denominator *= 2
            value += (n % 2) / denominator
            n //= 2
        out.append(value)
    return out


def source_positions(config: int, count: int, nx: int, nt: int, seed: str, pattern: str = "oa") -> list[dict[str, int]]:
    """The ``count`` source origins of a configuration, as CalLat places them (nucleon_elastic_FF
    ``scripts/sources.py``, ``make``): seeded by ``seed.config``, a random spatial origin at each
    time shift (the first time random, the others shifted by 0, T/2, T/4, 3T/4 ...), and with
    pattern ``oa`` also its antipode (every coordinate + L/2). Lattice units, ``0 <= x,y,z < nx``,
    ``0 <= t < nt``."""
    rng = random.Random(f"{seed}.{config}")
    shifts = count // 2 if pattern == "oa" else count
    out: list[dict[str, int]] = []
    t0 = None
    for fraction in _van_der_corput(shifts):
        x, y, z = (rng.randrange(nx) for _ in range(3))
        if t0 is None:
            t0 = rng.randrange(nt)
        t = (t0 + int(fraction * nt)) % nt
        out.append({"x": x, "y": y, "z": z, "t": t})
        if pattern == "oa":
            half = nx // 2
            out.append({"x": (x + half) % nx, "y": (y + half) % nx, "z": (z + half) % nx, "t": t})
    return out


# -- loading ---------------------------------------------------------------------------------
def load(path: Path | str) -> Campaign:
    """Read, validate and resolve a campaign file. Raises :class:`CampaignError` (one line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read: {exc.strerror}") from None
    return loads(text, str(path), base=path.parent)


def loads(text: str, where: str = "<campaign>", base: Path | None = None) -> Campaign:
    """A campaign from TOML text; ``where`` names it in errors, ``base`` resolves convention paths."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"{where}: not valid TOML: {str(exc).splitlines()[0]}") from None
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(doc))
    if error is not None:
        place = ".".join(str(p) for p in error.absolute_path) or "(top)"
        raise CampaignError(f"{where}: {place}: {error.message}")
    try:
        conventions = conv.load([(base or Path(".")) / p for p in doc.get("conventions", [])])
    except InputError as exc:
        raise CampaignError(f"{where}: conventions: {exc}") from None
    ensembles = [_ensemble(tag, body, conventions, where) for tag, body in doc["ensembles"].items()]
    steps = _ordered_steps({name: _step(name, body, conventions, where) for name, body in doc["steps"].items()}, where)
    campaign = Campaign(doc["name"], where, doc, ensembles, steps, conventions)
    for step in steps:
        _check_fields(campaign, step, where)
    return campaign


def _ensemble(tag: str, body: dict, conventions: conv.Conventions, where: str) -> Ensemble:
    place = f"{where}: ensembles.{tag}"
    configs = body["configs"]
    if configs["last"] < configs["first"]:
        raise CampaignError(f"{place}.configs: last {configs['last']} is before first {configs['first']}")
    fields: dict[str, Any] = {"ensemble": tag, "flow_time": body.get("flow_time", 1.0), "snk": body.get("sink", "SS")}
    if body.get("long_tag"):
        fields["long_tag"] = body["long_tag"]
    elif tag not in conventions.ensembles:
        raise CampaignError(f"{place}: {tag!r} is not in the ensemble table; give its long_tag")
    if "smearing" in body:
        fields.update(smear_width=body["smearing"]["width"], smear_steps=body["smearing"]["steps"])
    if "valence" in body:
        fields.update(body["valence"])
    px, py, pz = body.get("sink_momentum", (0, 0, 0))
    sources = body.get("sources", 1)
    pattern = body.get("source_pattern", "oa")
    if pattern == "oa" and sources % 2:
        raise CampaignError(f"{place}.sources: {sources} is odd; the 'oa' pattern places each origin with its "
                            "antipode (give an even number, or source_pattern = 'o')")
    fields.update(px=px, py=py, pz=pz, src_set=f"0-{sources - 1}")
    fields = conventions.enrich(fields)
    if not fields.get("nx") or not fields.get("nt"):
        raise CampaignError(f"{place}: cannot tell the lattice size from long tag {fields.get('long_tag')!r}")
    return Ensemble(tag, tuple(body["streams"]), tuple(range(configs["first"], configs["last"] + 1, configs.get("step", 1))),
                    fields, sources, body.get("source_seed", "1"), pattern, tuple(body.get("tseps", ())),
                    tuple(body.get("particles", ())), tuple(body.get("flav_spins", ())), tuple(body.get("currents", ())))


def _step(name: str, body: dict, conventions: conv.Conventions, where: str) -> Step:
    place = f"{where}: steps.{name}"
    try:
        cls = model.kind_class(body["kind"])
    except InputError:
        known = ", ".join(c.__name__ for c in model.entity_classes() if c.natural_key)
        raise CampaignError(f"{place}.kind: unknown kind {body['kind']!r}; known: {known}") from None
    if not issubclass(cls, model.Entity) or not cls.natural_key or issubclass(cls, (model.Action, model.Ensemble)):
        raise CampaignError(f"{place}.kind: {cls.__name__} is not a data product a step can make")
    node = body.get("node") or DEFAULT_NODES.get(cls.__name__)
    if node is None:
        raise CampaignError(f"{place}: a {cls.__name__} step needs the convention node that names its products (node = ...)")
    spec = conventions.nodes.get(node)
    if spec is None:
        raise CampaignError(f"{place}.node: no convention node {node!r}")
    if spec.kind != cls.__name__:
        raise CampaignError(f"{place}.node: {node} names {spec.kind} products, not {cls.__name__}")
    if not spec.template:
        raise CampaignError(f"{place}.node: {node} has no file-name template to name products with")
    roles = {inp.role: inp.node for inp in spec.inputs}
    for role in body.get("inputs", {}):
        if role not in roles:
            raise CampaignError(f"{place}.inputs: unknown role {role!r} of node {node} (roles: {', '.join(roles) or 'none'})")
    used = set(_FIELD.findall(spec.template))
    loops = tuple(dict.fromkeys(LOOP_FIELDS[f] for f in ("x", "particle", "flav_spin", "tsep", "current") if f in used))
    return Step(name, cls.__name__, node, dict(body.get("inputs", {})), body["command"], dict(body.get("resources", {})),
                tuple(body.get("scheduler", ())), body.get("bundle", 1), loops, "avg_set" in used, frozenset(used))


def _ordered_steps(steps: dict[str, Step], where: str) -> list[Step]:
    """Steps with every feeding step before the steps it feeds, otherwise in the file's order;
    a cycle is an error."""
    sorter: graphlib.TopologicalSorter = graphlib.TopologicalSorter()
    for step in steps.values():
        sorter.add(step.name)
        for role, feeder in step.inputs.items():
            if feeder not in steps:
                raise CampaignError(f"{where}: steps.{step.name}.inputs.{role}: no step {feeder!r}")
            sorter.add(step.name, feeder)
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        raise CampaignError(f"{where}: steps form a cycle: {' -> '.join(cycle)}") from None
    order: list[Step] = []
    placed: set[str] = set()
    while len(order) < len(steps):  # the first step (in the file) whose feeders are placed
        step = next(s for s in steps.values() if s.name not in placed and set(s.inputs.values()) <= placed)
        order.append(step)
        placed.add(step.name)
    return order


def _check_fields(campaign: Campaign, step: Step, where: str) -> None:
    """Feeds agree with the conventions' inputs; the node's template and the command template
    name only fields the campaign gives."""
    place = f"{where}: steps.{step.name}"
    spec = campaign.conventions.nodes[step.node]
    by_name = {s.name: s for s in campaign.steps}
    makers = {s.node: s.name for s in campaign.steps}
    for inp in spec.inputs:
        feeder = step.inputs.get(inp.role)
        if feeder is not None and by_name[feeder].node != inp.node:
            raise CampaignError(f"{place}.inputs.{inp.role}: step {feeder} makes {by_name[feeder].node} products, "
                                f"but role {inp.role} of {step.node} is a {inp.node}")
        if feeder is None and inp.node in makers:
            raise CampaignError(f"{place}.inputs: role {inp.role} ({inp.node}) is made by step {makers[inp.node]}; "
                                f"say so: {inp.role} = \"{makers[inp.node]}\"")
    needed = set(_FIELD.findall(spec.template or ""))
    for ens in campaign.ensembles:
        known = {k for k, v in ens.fields.items() if v is not None} | {"stream", "config", "avg_set"}
        for loop_field, values in (("particle", ens.particles), ("flav_spin", ens.flav_spins),
                                   ("current", ens.currents), ("tsep", ens.tseps)):
            if values:
                known.add(loop_field)
        known |= set(SOURCE_FIELDS)
        missing = sorted(needed - known)
        if missing:
            raise CampaignError(f"{place}: node {step.node} names its products with {', '.join(missing)}, "
                                f"which ensembles.{ens.tag} does not give")
    allowed = set(model.properties(model.kind_class(step.kind))) | set(COMMAND_FIELDS) | {"inputs"}
    roles = {inp.role for inp in spec.inputs}
    try:
        parsed = list(string.Formatter().parse(step.command))
    except ValueError as exc:
        raise CampaignError(f"{place}.command: bad template: {exc}") from None
    for _, name, _, _ in parsed:
        if name is None:
            continue
        base, _, rest = name.partition("[")
        base = base.split(".")[0]
        if base not in allowed or (base == "inputs" and rest.rstrip("]") not in roles):
            what = f"input role {rest.rstrip(']')!r}" if base == "inputs" else f"field {{{name}}}"
            raise CampaignError(f"{place}.command: unknown {what}; known: {', '.join(sorted(allowed - {'inputs'}))}, "
                                f"inputs[ROLE] with ROLE one of {', '.join(sorted(roles)) or 'none'}")
