"""Synthetic campaigns: deterministic, seeded, streamed, shaped like CalLat production.

A campaign (tiers S, M, L, XL of the domain primer) is produced one configuration at a time,
so memory does not grow with the tier: :func:`campaign` yields a first
:class:`~latteprov.graph.GraphBatch` with the ensembles and their actions, then one batch per
configuration (gauge configurations, sources, propagators, spectra, coherent sequential
sources and propagators per source-sink separation, form factors per current, runs, files).
:func:`names` yields the same campaign's CalLat file names, for the file-name entry points.

Every product exists whatever its state (planned products carry a planned run and a
``missing`` file), so node and edge counts depend on the tier only (:func:`counts`); the seed
chooses source positions, states and file statuses.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import parse

from latteprov import graph
from latteprov.errors import InputError
from latteprov.graph import GraphBatch
from latteprov.ingest.conventions import decode_long_tag, preset_ensembles
from latteprov.store import Store


@dataclass(frozen=True)
class Tier:
    """The size of a campaign."""

    ensembles: int
    configs: int
    sources: int
    tseps: int


TIERS: dict[str, Tier] = {
    "S": Tier(ensembles=2, configs=10, sources=2, tseps=2),
    "M": Tier(ensembles=20, configs=800, sources=8, tseps=0),
    "L": Tier(ensembles=1, configs=784, sources=8, tseps=13),
    "XL": Tier(ensembles=20, configs=800, sources=8, tseps=13),
}

# CalLat file-name templates (domain primer). Fields are filled with str() of the natural-key
# values; FIELD_TYPES turns a template into a ``parse`` format that reads them back typed.
COMMON = "{ens}_{stream}_{cfg}_gf{flow}_w{w}_n{n}"
ACTION = "M5{M5}_L5{L5}_a{alpha5}_mq{mq}"
SRC = "x{x}y{y}z{z}t{t}"
MOM = "px{px}py{py}pz{pz}"
TEMPLATES: dict[str, str] = {
    "milc": "{ens_long}{stream}.{cfg}",
    "flowed": "{ens_long}{stream}.{cfg}_wflow{flow}.lime",
    "prop": f"prop_{COMMON}_{ACTION}_{SRC}.lime",
    "spec": f"spec_{COMMON}_{ACTION}_{SRC}.h5",
    "seqsrc": f"seqsrc_{{ens}}_{{stream}}_{{cfg}}_{{particle}}_{{flav_spin}}_gf{{flow}}_w{{w}}_n{{n}}_{ACTION}_{MOM}"
              "_dt{tsep}_Nsnk{nsnk}_{snk}.lime",
    "seqprop": f"seqprop_{{ens}}_{{stream}}_{{cfg}}_{{particle}}_{{flav_spin}}_gf{{flow}}_w{{w}}_n{{n}}_{ACTION}_{MOM}"
               "_dt{tsep}_Srcs{src_set}_{snk}.lime",
    "formfac": f"formfac_{COMMON}_{ACTION}_{MOM}_dt{{tsep}}_Srcs{{src_set}}_{SRC}_{{snk}}.h5",
}
FIELD_TYPES = {"cfg": "d", "flow": "f", "w": "f", "n": "d", "M5": "f", "L5": "d", "alpha5": "f", "mq": "f",
               "x": "d", "y": "d", "z": "d", "t": "d", "px": "d", "py": "d", "pz": "d", "tsep": "d",
               "nsnk": "d", "stream": "l", "flav_spin": "FlavSpin"}
# ``proton_np_UU_up_up`` splits two ways unless the flavour-spin field has its own shape.
PARSE_TYPES = {"FlavSpin": parse.with_pattern(r"[A-Z]{2}_(?:up|dn)_(?:up|dn)")(lambda text: text)}


def parse_format(kind: str) -> str:
    """The ``parse`` library format of template ``kind`` (typed fields; see :data:`PARSE_TYPES`)."""
    return re.sub(r"\{(\w+)\}", lambda m: "{%s%s}" % (m.group(1), ":" + FIELD_TYPES[m.group(1)]
                                                      if m.group(1) in FIELD_TYPES else ""), TEMPLATES[kind])


def parser(kind: str) -> parse.Parser:
    """A compiled parser of file names of template ``kind``."""
    return parse.compile(parse_format(kind), extra_types=PARSE_TYPES)


# What a production campaign uses (domain primer); more ensembles are generated beyond these.
PARTICLES = (("proton", 1), ("proton_np", -1))   # negative parity: separation written negative
FLAV_SPIN = "UU_up_up"
SPINS = ("spin_up", "spin_dn")
CURRENTS = ("A3", "V4")
SNK = "SS"
FLOW_STEPS = 40
# a09m310 single precision (domain primer); other volumes scale with the number of sites.
PROP_BYTES_A09M310 = 3_623_882_000
SPEC_BYTES_A09M310 = 267_744
SITES_A09M310 = 32**3 * 96
HOSTS = ("lassen", "summit", "perlmutter")
EPOCH = datetime(2024, 1, 8, tzinfo=timezone.utc)


@dataclass(frozen=True)
class EnsembleSpec:
    """An ensemble and the valence set-up the campaign runs on it."""

    tag: str
    long_tag: str
    nx: int
    nt: int
    beta: float
    a_fm: float
    mpi_mev: float
    ml: float
    ms: float
    mc: float
    stream: str
    cfg_start: int
    cfg_step: int
    M5: float
    L5: int
    alpha5: float
    mq: float
    smear_width: float = 3.5
    smear_steps: int = 45
    flow_time: float = 1.0

    @property
    def sites(self) -> int:
        return self.nx**3 * self.nt


REAL_ENSEMBLES = (
    EnsembleSpec("a09m310", "l3296f211b630m0074m037m440", 32, 96, 6.30, 0.09, 310, 0.0074, 0.037, 0.440,
                 "e", 300, 5, 1.1, 6, 1.5, 0.00951),
    EnsembleSpec("a12m130", "l4864f211b600m00184m0507m628", 48, 64, 6.00, 0.12, 130, 0.00184, 0.0507, 0.628,
                 "a", 1000, 5, 1.2, 20, 3.0, 0.00195, smear_width=3.0, smear_steps=30),
    EnsembleSpec("a15m310L", "l2448f211b580m013m065m838", 24, 48, 5.80, 0.15, 310, 0.013, 0.065, 0.838,
                 "a", 500, 5, 1.3, 12, 2.0, 0.0158, smear_width=3.0, smear_steps=30),
    EnsembleSpec("a06m310L", "l7296f211b672m0048m024m286", 72, 96, 6.72, 0.06, 310, 0.0048, 0.024, 0.286,
                 "b", 1000, 6, 1.0, 6, 1.5, 0.00617),
    EnsembleSpec("a09m135", "l6496f211b630m001326m03636m4313", 64, 96, 6.30, 0.09, 135, 0.001326, 0.03636, 0.4313,
                 "a", 1000, 6, 1.1, 12, 2.0, 0.00152),
)
# Generated ensembles: lattice spacing -> (beta, T, strange and charm sea masses).
SPACINGS = {"15": (5.80, 48, 0.065, 0.838), "12": (6.00, 64, 0.0509, 0.635),
            "09": (6.30, 96, 0.037, 0.440), "06": (6.72, 144, 0.024, 0.286)}
PION_MASSES = (400, 350, 310, 220, 135)
VOLUME_SUFFIXES = ("", "S", "L", "XL")


def ensembles(count: int) -> list[EnsembleSpec]:
    """The first ``count`` ensembles: the real ones of the primer, then generated look-alikes."""
    found = list(REAL_ENSEMBLES[:count])
    taken = {e.tag for e in found}
    index = 0
    while len(found) < count:
        suffix = VOLUME_SUFFIXES[index // (len(SPACINGS) * len(PION_MASSES)) % len(VOLUME_SUFFIXES)]
        spacing = list(SPACINGS)[index % len(SPACINGS)]
        mpi = PION_MASSES[index // len(SPACINGS) % len(PION_MASSES)]
        index += 1
        tag = f"a{spacing}m{mpi}{suffix}"
        if tag in taken:
            continue
        taken.add(tag)
        beta, nt, ms, mc = SPACINGS[spacing]
        a = int(spacing) / 100
        ml = round(0.0074 * (mpi / 310) ** 2 * (0.09 / a), 5)
        nx = {"": 32, "S": 24, "L": 40, "XL": 48}[suffix] * 9 // int(spacing) // 4 * 4 or 16
        long_tag = f"l{nx}{nt}f211b{round(beta * 100)}m{_milc(ml)}m{_milc(ms)}m{_milc(mc)}"
        real = preset_ensembles().get(tag)
        if real:  # a tag of CalLat's table is that ensemble, whatever the pattern would make up
            d = decode_long_tag(real)
            long_tag, nx, nt, beta, ml, ms, mc = real, d["nx"], d["nt"], d["beta"], d["ml"], d["ms"], d["mc"]
        found.append(EnsembleSpec(tag, long_tag, nx, nt, beta, a, mpi, ml, ms, mc,
                                  "abce"[len(found) % 4], 1000, 5 + len(found) % 2,
                                  round(1.0 + 0.1 * (len(found) % 4), 1), (6, 8, 12, 20)[len(found) % 4],
                                  (1.5, 2.0)[len(found) % 2], round(ml * 1.28, 5)))
    return found


def _milc(mass: float) -> str:
    """A sea mass as MILC writes it in the long tag: the digits after the point (0.0074 -> 0074)."""
    return f"{mass:.5f}".split(".")[1].rstrip("0")


def tier_shape(tier: str) -> Tier:
    """The shape of ``tier``: a name of :data:`TIERS`, or ``NAME/k`` for its first 1/k of the
    configurations of every ensemble (a documented fraction when the full tier takes too long)."""
    name, _, part = tier.upper().partition("/")
    if name not in TIERS or (part and (not part.isdigit() or int(part) < 1)):
        raise InputError(f"unknown tier {tier!r}; known: {', '.join(TIERS)} (or NAME/k for a fraction)")
    shape = TIERS[name]
    if not part:
        return shape
    return Tier(shape.ensembles, max(1, shape.configs // int(part)), shape.sources, shape.tseps)


def _tseps(count: int) -> list[int]:
    return list(range(3, 3 + count))


# -- the campaign as graph batches ----------------------------------------------------------
def _ensemble_batch(specs: list[EnsembleSpec]) -> tuple[GraphBatch, dict[str, dict[str, str]]]:
    """Ensembles with their gauge and sea actions, and the shared smearings and valence actions."""
    b = GraphBatch()
    uids: dict[str, dict[str, str]] = {}
    seen: set[str] = set()

    def add(kind: str, **props: object) -> str:
        row = graph.entity(kind, **props)
        if row["uid"] not in seen:
            seen.add(row["uid"])
            b.entities.append(row)
        return row["uid"]

    for e in specs:
        ens = add("Ensemble", name=e.tag, tag=e.tag, long_tag=e.long_tag, nx=e.nx, nt=e.nt, nf="2+1+1",
                  beta=e.beta, a_fm=e.a_fm, mpi_mev=e.mpi_mev, ml=e.ml, ms=e.ms, mc=e.mc)
        gauge = add("GaugeAction", name=f"LuescherWeisz beta={e.beta}", beta=e.beta)
        b.link(ens, gauge, "gauge_action")
        for tag, mass, naik in (("light", e.ml, 0.0), ("strange", e.ms, 0.0), ("charm", e.mc, -0.3)):
            sea = add("Hisq", name=f"HISQ {tag} mq={mass}", quark_mass=mass, naik=naik, quark_tag=tag)
            b.link(ens, sea, "sea_action")
        uids[e.tag] = {
            "ensemble": ens,
            "flow": add("LinkSmearing", name=f"wflow{e.flow_time}", flow_time=e.flow_time, flow_steps=FLOW_STEPS),
            "smear": add("QuarkSmearing", name=f"gaussian w{e.smear_width} n{e.smear_steps}",
                         radius=e.smear_width, steps=e.smear_steps),
            "action": add("MobiusDW", name=f"MDWF M5={e.M5} L5={e.L5} a={e.alpha5} mq={e.mq}", quark_mass=e.mq,
                          M5=e.M5, L5=e.L5, alpha5=e.alpha5, b5=(e.alpha5 + 1) / 2, c5=(e.alpha5 - 1) / 2,
                          quark_tag="light"),
        }
    return b, uids


class _Config:
    """Builds the batch of one configuration; ``rng`` decides positions, states and statuses."""

    def __init__(self, e: EnsembleSpec, shared: dict[str, str], cfg: int, ordinal: int, tier: Tier,
                 rng: random.Random) -> None:
        self.e, self.shared, self.cfg, self.tier, self.rng = e, shared, cfg, tier, rng
        self.b = GraphBatch()
        self.host = HOSTS[ordinal % len(HOSTS)]
        self.when = EPOCH + timedelta(minutes=10 * ordinal)
        self.scale = e.sites / SITES_A09M310
        self.fields = dict(ens=e.tag, ens_long=e.long_tag, stream=e.stream, cfg=cfg, flow=e.flow_time,
                           w=e.smear_width, n=e.smear_steps, M5=e.M5, L5=e.L5, alpha5=e.alpha5, mq=e.mq,
                           px=0, py=0, pz=0, snk=SNK, flav_spin=FLAV_SPIN, nsnk=tier.sources,
                           src_set=f"0-{tier.sources - 1}")
        self.common = dict(ensemble=e.tag, stream=e.stream, config=cfg, flow_time=e.flow_time,
                           smear_width=e.smear_width, smear_steps=e.smear_steps)
        self.valence = dict(M5=e.M5, L5=e.L5, alpha5=e.alpha5, quark_mass=e.mq)
        self.names: list[str] = []  # files of this configuration that exist (on disk, tape, or half-written)

    def state(self, ready: bool, fail: float = 0.03) -> str:
        """A product's state: planned until its inputs are done, then done or (seeded) failed,
        with a share still planned (not yet run)."""
        if not ready or self.rng.random() < 0.02:
            return "planned"
        return "failed" if self.rng.random() < fail else "done"

    def name(self, kind: str, **fields: object) -> str:
        """The CalLat file name of a product of template ``kind``."""
        return TEMPLATES[kind].format(**{**self.fields, **fields})

    def product(self, kind: str, template: str, fields: dict, state: str, props: list[dict]) -> list[str]:
        """Entities of ``kind`` (one per props dict) stored in one file named by ``template``."""
        name = self.name(template, **fields)
        stem = re.sub(r"\.(lime|h5)$", "", name)
        # Products sharing a file (both spins, every current) are named apart by what tells them apart.
        differ = [k for k in props[0] if len({str(p.get(k)) for p in props}) > 1]
        ids = [self.b.add(kind, name="_".join([stem, *(str(p[k]) for k in differ)]), state=state, **p)
               for p in props]
        self.file(ids, template, name, state)
        return ids

    def file(self, products: list[str], template: str, name: str, state: str) -> None:
        """The products' file: on disk or tape when done, half-written when failed, missing when planned."""
        full = self.full_size(template)
        size: int | None = full
        if state == "planned":
            status, size = "missing", None
        elif state == "failed":
            status, size = "wrong_size", int(full * self.rng.uniform(0.1, 0.9))
        else:
            roll = self.rng.random()
            tape = 0.4 if template in ("milc", "prop", "seqprop") else 0.05
            status = "on_tape" if roll < tape else "missing" if roll < tape + 0.01 else "on_disk"
            size = None if status == "missing" else full
        host = "hpss" if status == "on_tape" else self.host
        root = f"/home/callat/{self.e.tag}" if status == "on_tape" else f"/p/gpfs1/callat/{self.e.tag}"
        uid = self.b.add_file(None, f"{root}/{template}/{name}", host=host, size=size, expected_size=full,
                              status=status, checked_at=self.when)
        for product in products:
            self.b.link(product, uid, type="STORED_AT")
        if status != "missing":
            self.names.append(name)

    def full_size(self, template: str) -> int:
        """Bytes of a complete file (domain primer sizes for a09m310, scaled by volume)."""
        if template in ("prop", "seqsrc", "seqprop"):
            return int(PROP_BYTES_A09M310 * self.scale)
        if template in ("milc", "flowed"):
            return int(PROP_BYTES_A09M310 * self.scale / 4)
        per_nt = SPEC_BYTES_A09M310 * self.e.nt / 96
        return int(per_nt * (len(CURRENTS) * len(PARTICLES) if template == "formfac" else 1))

    def run(self, kind: str, stem: str, state: str, products: list[str], inputs: list[str]) -> None:
        """The job that made ``products`` from ``inputs`` (a planned task while nothing ran)."""
        uid = f"run:{kind}:{stem}"
        ran = state != "planned"
        self.b.runs.append(graph.run_row(
            uid, kind=kind, name=f"{kind} {stem}", command=f"lalibe {stem}.ini.xml", code_version="lalibe-2.4.1",
            host=self.host, user="callat", job_id=f"{self.e.tag}.{self.cfg}.{kind}",
            started_at=self.when if ran else None, ended_at=self.when + timedelta(minutes=40) if ran else None,
            exit_state=state))
        for product in products:
            self.b.link(product, uid, type="GENERATED_BY")
        for used in inputs:
            self.b.link(uid, used, type="USED")

    def build(self) -> GraphBatch:
        """The configuration's whole batch."""
        e, b, s = self.e, self.b, self.shared
        milc = self.name("milc")
        (unflowed,) = self.product("GaugeConfig", "milc", {}, "done",
                                   [dict(ensemble=e.tag, stream=e.stream, config=self.cfg, flow_time=0.0)])
        b.link(unflowed, s["ensemble"], "ensemble")
        flow_state = self.state(True, fail=0.01)
        (flowed,) = self.product("GaugeConfig", "flowed", {}, flow_state,
                                 [dict(ensemble=e.tag, stream=e.stream, config=self.cfg, flow_time=e.flow_time)])
        b.link(flowed, unflowed, "parent")
        b.link(flowed, s["flow"], "smearing")
        self.run("flow", milc, flow_state, [flowed], [unflowed, s["flow"]])

        props, sources, states = [], [], []
        span = e.nt // self.tier.sources
        for i in range(self.tier.sources):
            pos = dict(x=self.rng.randrange(e.nx), y=self.rng.randrange(e.nx), z=self.rng.randrange(e.nx),
                       t=i * span + self.rng.randrange(span))
            src = b.add("Source", name=f"src_{COMMON.format(**self.fields)}_{SRC.format(**pos)}",
                        state="done" if flow_state == "done" else "planned", **self.common, **pos)
            b.link(src, flowed, "gauge")
            b.link(src, s["smear"], "smearing")
            state = self.state(flow_state == "done")
            (prop,) = self.product("OneToAll", "prop", pos, state, [{**self.common, **self.valence, **pos}])
            for to, role in ((flowed, "gauge"), (s["action"], "action"), (src, "source")):
                b.link(prop, to, role)
            self.run("solve", b.entities[-1]["props"]["name"], state, [prop], [flowed, s["action"], src])
            spec_state = self.state(state == "done")
            specs = self.product("Baryon2pt", "spec", pos, spec_state,
                                 [dict(particle="proton", spin=spin, parity=1, snk=SNK, **self.common,
                                       **self.valence, **pos) for spin in SPINS])
            for spec in specs:
                b.link(spec, prop, "light")
            self.run("spec", b.entities[-1]["props"]["name"], spec_state, specs, [prop])
            props.append(prop)
            sources.append(pos)
            states.append(state)

        for tsep in _tseps(self.tier.tseps):
            self.three_point(tsep, props, sources, all(st == "done" for st in states), flowed)
        return b

    def three_point(self, tsep: int, props: list[str], sources: list[dict], ready: bool, flowed: str) -> None:
        """Coherent sequential sources and propagators for one separation, and their form factors."""
        b, s = self.b, self.shared
        for particle, sign in PARTICLES:
            dt = sign * tsep
            key = dict(particle=particle, flav_spin=FLAV_SPIN, px=0, py=0, pz=0, tsep=dt, snk=SNK,
                       **self.common, **self.valence)
            state = self.state(ready)
            (seqsrc,) = self.product("SequentialSource", "seqsrc", dict(particle=particle, tsep=dt), state,
                                     [dict(nsnk=self.tier.sources, **key)])
            for prop in props:
                b.link(seqsrc, prop, "propagator")
            b.link(seqsrc, flowed, "gauge")
            self.run("seqsrc", b.entities[-1]["props"]["name"], state, [seqsrc], [*props, flowed])
            seq_state = self.state(state == "done")
            (seqprop,) = self.product("Sequential", "seqprop", dict(particle=particle, tsep=dt), seq_state,
                                      [dict(src_set=self.fields["src_set"], **key)])
            for to, role in ((seqsrc, "seqsource"), (s["action"], "action"), (flowed, "gauge")):
                b.link(seqprop, to, role)
            self.run("seqprop", b.entities[-1]["props"]["name"], seq_state, [seqprop], [seqsrc, s["action"], flowed])
            made, states = [], []
            for prop, pos in zip(props, sources):
                state = self.state(seq_state == "done")
                ids = self.product("Baryon3pt", "formfac", dict(tsep=dt, **pos), state,
                                   [dict(current=current, src_set=self.fields["src_set"], **key, **pos)
                                    for current in CURRENTS])
                for uid in ids:
                    b.link(uid, prop, "propagator")
                    b.link(uid, seqprop, "seqprop")
                made += ids
                states.append(state)
            run_state = "failed" if "failed" in states else "planned" if "planned" in states else "done"
            self.run("formfac", f"formfac_{COMMON.format(**self.fields)}_dt{dt}", run_state, made,
                     [*props, seqprop])


def _configs(tier: str, seed: int) -> Iterator[tuple[GraphBatch | None, "_Config | None"]]:
    shape = tier_shape(tier)
    specs = ensembles(shape.ensembles)
    first, shared = _ensemble_batch(specs)
    yield first, None
    ordinal = 0
    for e in specs:
        for i in range(shape.configs):
            cfg = e.cfg_start + i * e.cfg_step
            config = _Config(e, shared[e.tag], cfg, ordinal, shape, random.Random(f"{seed}:{e.tag}:{cfg}"))
            ordinal += 1
            yield config.build(), config


def campaign(tier: str = "S", seed: int = 0) -> Iterator[GraphBatch]:
    """The campaign of ``tier``: a batch of ensembles and actions, then one batch per configuration."""
    for batch, _ in _configs(tier, seed):
        yield batch


def names(tier: str = "S", seed: int = 0) -> Iterator[str]:
    """The campaign's CalLat file names (with extensions) of the files that exist (disk, tape, half-written)."""
    for _, config in _configs(tier, seed):
        if config is not None:
            yield from config.names


def counts(tier: str) -> dict:
    """Expected nodes and edges of the campaign (every configuration has the same shape)."""
    shape = tier_shape(tier)
    batches = _configs(tier, 0)
    first, _ = next(batches)
    one, _ = next(batches)
    configs = shape.ensembles * shape.configs

    def size(batch: GraphBatch) -> tuple[int, int]:
        nodes = len({r["uid"] for r in batch.entities}) + len({r["uid"] for r in batch.runs}) \
            + len({r["uid"] for r in batch.files})
        return nodes, len({(e["from"], e["to"], e["type"], e["role"]) for e in batch.edges})

    (n0, e0), (n1, e1) = size(first), size(one)
    return {"tier": tier.upper(), "configs": configs, "nodes": n0 + configs * n1, "edges": e0 + configs * e1,
            "nodes_per_config": n1, "edges_per_config": e1}


def write(store: Store, tier: str = "S", seed: int = 0, rows: int = 10_000,
          progress: Callable[[int], None] | None = None) -> graph.WriteResult:
    """Write the campaign through the bulk path, about ``rows`` rows a transaction;
    ``progress(n)`` hears how many of the campaign's batches each transaction completed.
    Sequential on purpose: building the next batch in a thread (graph.Writer) did not shorten
    the full tier-L load (196 s against 199 s) and cost 27 s more client CPU at tier M
    (docs/performance.md): Neo4j's one transaction at a time is the bound."""
    total = graph.WriteResult()
    current, pending = GraphBatch(), 0
    for batch in campaign(tier, seed):
        current.extend(batch)
        pending += 1
        if len(current) >= rows:
            total += graph.write(store, current)
            if progress:
                progress(pending)
            current, pending = GraphBatch(), 0
    total += graph.write(store, current)
    if progress:
        progress(pending)
    return total


def batch_count(tier: str) -> int:
    """How many batches :func:`campaign` yields (the ensembles' batch and one per configuration)."""
    shape = tier_shape(tier)
    return 1 + shape.ensembles * shape.configs
