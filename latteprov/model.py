"""The provenance graph's schema, as neomodel classes (W3C PROV in lattice-QCD words).

Every data product and parameter set is an :class:`Entity` (so one uniqueness constraint on
``Entity.uid`` covers them all): ensembles, gauge configurations, actions, sources,
propagators, correlators (:class:`Correlator` and its subclasses; every subclass is checked as a
correlator) and post-processed :class:`DerivedDataset`. Properties several kinds share come
from mixins (:class:`ValenceAction`, :class:`SinkMomentum`) or a common base, so each is
declared once. Job runs are :class:`Run` (PROV activities); files are :class:`DataFile`;
invalidation events are :class:`Invalidation`; production campaigns and their METAQ task files
are :class:`Campaign` and :class:`Task`; web accounts :class:`WebUser`; :class:`Lock` nodes
serialise writers. (The status counters, ``(:Tally {ensemble, kind})``, are kept by
:mod:`latteprov.tally`; their columns are :data:`STATES` and :data:`FILE_STATUSES`.)

All derivations are one relationship type, ``DERIVED_FROM {role}``, so lineage is a single
pattern however the schema grows; the typed accessors (``gaugeconfig``, ``action``,
``propagators`` ...) are views of it. The relationships and what they join are
:data:`latteprov.rows.LINK_RULES`.

The vocabulary of states (:data:`STATES`, and the order they move in, :data:`STATE_RANK`) and of
file statuses (:data:`FILE_STATUSES`) is defined here and nowhere else: the checks, the
manifest schema, the tallies, the status table and the dashboard take it from this module.

Each class names its ``natural_key``: the properties that make an object what it is. The uid
is a hash of the class name and those values (:mod:`latteprov.identity`).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, ClassVar

from neomodel import (
    ZeroOrMore,
    ArrayProperty,
    BooleanProperty,
    DateTimeNeo4jFormatProperty,
    FloatProperty,
    IntegerProperty,
    JSONProperty,
    RelationshipFrom,
    RelationshipTo,
    StringProperty,
    StructuredNode,
    StructuredRel,
)

from latteprov.errors import InputError
from latteprov.identity import make_uid

STATES = ("planned", "queued", "running", "done", "failed")
# States only move forward: a late event never moves a run or product back (a re-run that
# succeeds lifts a failed product to done; nothing leaves done). ``queued``: written as a task
# for a job manager (``latteprov tasks write``), not started yet.
STATE_RANK = {"planned": 0, "queued": 1, "running": 2, "failed": 3, "done": 4}
NOT_STARTED = tuple(s for s in STATES if STATE_RANK[s] < STATE_RANK["running"])  # no file is expected yet
ENDED_STATES = ("failed", "done")  # the states a run with an end time is in
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what Neo4j stores as an integer
FILE_STATUSES = ("on_disk", "on_tape", "missing", "wrong_size", "unknown")
QUARK_TAGS = ("light", "strange", "charm")
CURRENTS = ("A1", "A2", "A3", "A4", "V1", "V2", "V3", "V4", "P", "S", "T12", "T34", "CHROMO_MAG")


# -- the ORM's writes ---------------------------------------------------------------------------
ORM_WRITES = ("the model classes read the graph; record through latteprov.declare(...), latteprov.run(...) "
              "or 'latteprov record', which check every write (docs/python.md)")
# Set by latteprov.orm.connect(): saves an Entity through the checked write path.
save_hook: Any = None


class CheckedRelationship(ZeroOrMore):
    """A relationship read through the ORM (``prop.derived_from.all()``, ``.filter()``); writing
    it (connect, disconnect ...) raises InputError: edges go through the checked write path,
    where cycles, link rules and validity are kept."""

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        raise InputError(f"{type(self.source).__name__}.{self.definition['relation_type']}: {ORM_WRITES}")

    disconnect = reconnect = replace = disconnect_all = connect


# -- relationships -------------------------------------------------------------------------
class Derivation(StructuredRel):
    """``(derived)-[:DERIVED_FROM {role}]->(input)``: PROV wasDerivedFrom."""

    role = StringProperty(required=True, help_text="What the input is to the derived product: gauge, action, source, light, strange, seqprop, seqsource, propagator, parent, smearing, input ...")


# -- entities ------------------------------------------------------------------------------
class Entity(StructuredNode):
    """A data product or parameter set (PROV entity). Concrete: carries the shared uid constraint."""

    natural_key: ClassVar[tuple[str, ...]] = ()
    # Roles through which a product's typed inputs are reached (attribute name -> role).
    input_roles: ClassVar[dict[str, str]] = {}

    uid = StringProperty(unique_index=True, required=True, help_text="Deterministic id: '<Kind>:' + 20 hex digits of sha256 over the natural key.")
    name = StringProperty(index=True, help_text="Readable name: the CalLat file stem where there is one.")
    kind = StringProperty(index=True, help_text="The most specific class name (Propagator, Baryon2pt ...).")
    state = StringProperty(choices={s: s for s in STATES}, default="done", index=True, help_text="Completion state: planned -> queued -> running -> done | failed (queued: written as a job-manager task).")
    # Not indexed: invalidating a subtree rewrites valid on every entity of it, and an index on
    # a two-valued property made that a third slower (docs/performance.md) and served no query.
    valid = BooleanProperty(default=True, help_text="False once this entity or anything it derives from is invalidated.")
    ensemble = StringProperty(index=True, help_text="Ensemble tag (a09m310 ...), carried by every per-ensemble entity for filtering and status.")
    file_statuses = ArrayProperty(StringProperty(), help_text="Status of each DataFile the entity is stored at, kept by the write path and 'latteprov scan' so the status report needs no relationship walk.")
    created_at = DateTimeNeo4jFormatProperty(help_text="When the node was first written.")
    campaign_step = StringProperty(index=True, help_text="The campaign step that computes this product, '<campaign>/<step>' (set by 'latteprov plan'; absent for products no campaign plans).")
    search_name = StringProperty(help_text="The name in lower case, kept by the write path: the search box matches a fragment anywhere in it, whatever its case (text index entity_search_name).")

    derived_from = RelationshipTo("Entity", "DERIVED_FROM", model=Derivation, cardinality=CheckedRelationship)
    derivatives = RelationshipFrom("Entity", "DERIVED_FROM", model=Derivation, cardinality=CheckedRelationship)
    generated_by = RelationshipTo("Run", "GENERATED_BY", cardinality=CheckedRelationship)
    used_by = RelationshipFrom("Run", "USED", cardinality=CheckedRelationship)
    stored_at = RelationshipTo("DataFile", "STORED_AT", cardinality=CheckedRelationship)
    invalidations = RelationshipTo("Invalidation", "INVALIDATED_BY", cardinality=CheckedRelationship)

    @classmethod
    def uid_for(cls, props: dict[str, Any]) -> str:
        """The uid of the object of this class with these natural-key values."""
        key = natural_key_values(cls, props)
        if all(value is None for value in key.values()):
            raise InputError(f"{cls.__name__} needs {', '.join(cls.natural_key)} to be identified")
        return make_uid(cls.__name__, key)

    def save(self) -> "Entity":
        """Write this entity through the checked write path (latteprov.orm.connect() first): its
        uid from the natural key, the consistency checks, merging with what exists (states
        only forward, conflicts kept); then this object is the stored node. InputError when
        a check refuses it."""
        if save_hook is None:
            raise InputError(f"{type(self).__name__}.save(): call latteprov.connect() first")
        return save_hook(self)

    def delete(self) -> None:
        """Nothing is deleted from provenance: invalidate instead (InputError)."""
        raise InputError(f"{type(self).__name__}.delete(): nothing is deleted; invalidate it (latteprov invalidate)")

    def inputs(self, role: str | None = None) -> list["Entity"]:
        """Direct inputs of this entity, optionally only those of one role."""
        if role is None:
            return list(self.derived_from.all())
        return [node for node in self.derived_from.all()
                if self.derived_from.relationship(node).role == role]

    def __getattr__(self, attr: str) -> Any:
        roles = type(self).input_roles
        if attr in roles:
            found = self.inputs(roles[attr])
            return found if attr.endswith("s") else (found[0] if found else None)
        raise AttributeError(attr)


class Ensemble(Entity):
    """A gauge ensemble: one lattice action, volume and sea-quark masses."""

    natural_key = ("tag",)
    tag = StringProperty(required=True, unique_index=True, help_text="Short tag: a<spacing>m<pion mass>[L] (a09m310, a06m310L).")
    long_tag = StringProperty(index=True, help_text="MILC long tag encoding L, T, flavours, beta and sea masses (l3296f211b630m0074m037m440).")
    nx = IntegerProperty(help_text="Spatial extent L in lattice units.")
    nt = IntegerProperty(help_text="Temporal extent T in lattice units.")
    nf = StringProperty(help_text="Sea flavours, e.g. '2+1+1'.")
    beta = FloatProperty(help_text="Gauge coupling beta.")
    a_fm = FloatProperty(help_text="Approximate lattice spacing in fm.")
    mpi_mev = FloatProperty(help_text="Approximate pion mass in MeV.")
    ml = FloatProperty(help_text="Light sea-quark mass.")
    ms = FloatProperty(help_text="Strange sea-quark mass.")
    mc = FloatProperty(help_text="Charm sea-quark mass.")
    markov_chain_uri = StringProperty(help_text="ILDG markovChainURI of the ensemble (mc://ldg/<collaboration>/<project>/<ensemble>), from QCDml.")
    input_roles = {"gauge_action": "gauge_action", "sea_actions": "sea_action"}


class GaugeConfig(Entity):
    """A gauge configuration of a Markov chain, or one derived from it by link smearing (flow)."""

    natural_key = ("ensemble", "stream", "config", "flow_time")
    stream = StringProperty(required=True, help_text="Markov-chain stream, a single letter (a, b, c, e ...).")
    config = IntegerProperty(required=True, index=True, help_text="Trajectory (configuration) number.")
    flow_time = FloatProperty(default=0.0, help_text="Gradient-flow time; 0 for the unsmeared configuration.")
    plaquette = FloatProperty(help_text="Average plaquette of the configuration (QCDml avePlaquette).")
    input_roles = {"ensemble_node": "ensemble", "parent": "parent", "smearing": "smearing"}


class Action(Entity):
    """A shared parameter set (gauge action, smearing, fermion action)."""


class GaugeAction(Action):
    """The gauge action of an ensemble (Luescher-Weisz)."""

    natural_key = ("action_type", "beta", "u0")
    action_type = StringProperty(default="LuescherWeisz", help_text="Gauge action type.")
    beta = FloatProperty(required=True, help_text="Gauge coupling beta.")
    u0 = FloatProperty(default=1.0, help_text="Tadpole improvement factor u0.")


class LinkSmearing(Action):
    """Link smearing of a gauge configuration (Wilson/gradient flow)."""

    natural_key = ("smearing_type", "flow_time", "flow_steps")
    smearing_type = StringProperty(default="WilsonFlow", help_text="Link smearing type.")
    flow_time = FloatProperty(required=True, help_text="Flow time.")
    flow_steps = IntegerProperty(default=40, help_text="Integration steps.")


class QuarkSmearing(Action):
    """Quark source or sink smearing: point, or gauge-covariant Gaussian."""

    natural_key = ("smearing_type", "radius", "steps")
    smearing_type = StringProperty(default="gaussian", help_text="'point' or 'gaussian'.")
    radius = FloatProperty(default=0.0, help_text="Gaussian smearing width (w in file names).")
    steps = IntegerProperty(default=0, help_text="Gaussian smearing iterations (n in file names).")


class FermionAction(Action):
    """A fermion (quark) action with its mass."""

    quark_mass = FloatProperty(required=True, help_text="Bare quark mass in lattice units.")
    quark_tag = StringProperty(choices={t: t for t in QUARK_TAGS}, help_text="light, strange or charm.")


class Hisq(FermionAction):
    """Highly improved staggered quarks: the sea action of the MILC ensembles."""

    # The Naik epsilon is a function of the quark mass (MILC's tree-level formula), not a free
    # parameter, and the long tag does not write it: keying on it made the charm sea action two
    # nodes, one per path that named it first.
    natural_key = ("quark_mass", "quark_tag")
    naik = FloatProperty(help_text="Naik term epsilon (non-zero for charm), where known.")


class MobiusDW(FermionAction):
    """Mobius domain-wall fermions: the valence action."""

    natural_key = ("quark_mass", "M5", "L5", "b5", "c5")
    M5 = FloatProperty(required=True, help_text="Domain-wall height M5.")
    L5 = IntegerProperty(required=True, help_text="Fifth-dimension extent L5.")
    b5 = FloatProperty(required=True, help_text="Mobius parameter b5.")
    c5 = FloatProperty(required=True, help_text="Mobius parameter c5.")
    alpha5 = FloatProperty(help_text="Mobius scale alpha5 = b5 + c5 (the 'a' of file names).")


class ValenceAction:
    """The valence (Mobius domain-wall) action a propagator, sequential source or correlator was
    computed with, carried on it so its name and uid say so."""

    M5 = FloatProperty(help_text="Valence action M5.")
    L5 = IntegerProperty(help_text="Valence action L5.")
    alpha5 = FloatProperty(help_text="Valence action alpha5.")
    quark_mass = FloatProperty(help_text="Valence quark mass.")


class SinkMomentum:
    """The momentum projected at the sink (or the current's, for form factors): p = 2 pi n / L."""

    px = IntegerProperty(default=0, help_text="Momentum x (integer units of 2 pi / L).")
    py = IntegerProperty(default=0, help_text="Momentum y (integer units of 2 pi / L).")
    pz = IntegerProperty(default=0, help_text="Momentum z (integer units of 2 pi / L).")


class Source(Entity):
    """A quark source on a (flowed) configuration: its origin and smearing."""

    natural_key = ("ensemble", "stream", "config", "flow_time", "x", "y", "z", "t", "smear_width", "smear_steps")
    stream = StringProperty(help_text="Stream of the configuration.")
    config = IntegerProperty(index=True, help_text="Configuration number.")
    flow_time = FloatProperty(default=0.0, help_text="Flow time of the configuration it lives on.")
    x = IntegerProperty(required=True, help_text="Origin x.")
    y = IntegerProperty(required=True, help_text="Origin y.")
    z = IntegerProperty(required=True, help_text="Origin z.")
    t = IntegerProperty(required=True, help_text="Origin t.")
    smear_width = FloatProperty(default=0.0, help_text="Source smearing width (w).")
    smear_steps = IntegerProperty(default=0, help_text="Source smearing steps (n).")
    input_roles = {"gaugeconfig": "gauge", "smearing": "smearing"}


class Propagator(ValenceAction, Entity):
    """A quark propagator: the solution of the Dirac equation for one source."""

    stream = StringProperty(help_text="Stream of the configuration.")
    config = IntegerProperty(index=True, help_text="Configuration number.")
    flow_time = FloatProperty(default=0.0, help_text="Flow time of the configuration.")
    smear_width = FloatProperty(default=0.0, help_text="Source smearing width (w).")
    smear_steps = IntegerProperty(default=0, help_text="Source smearing steps (n).")
    input_roles = {"gaugeconfig": "gauge", "action": "action", "source": "source"}


class OneToAll(Propagator):
    """A forward propagator from one source point to all sites."""

    natural_key = ("ensemble", "stream", "config", "flow_time", "smear_width", "smear_steps",
                   "M5", "L5", "alpha5", "quark_mass", "x", "y", "z", "t")
    x = IntegerProperty(help_text="Source origin x.")
    y = IntegerProperty(help_text="Source origin y.")
    z = IntegerProperty(help_text="Source origin z.")
    t = IntegerProperty(help_text="Source origin t.")


class SequentialSource(ValenceAction, SinkMomentum, Entity):
    """A coherent sequential source built from forward propagators at a sink time."""

    natural_key = ("ensemble", "stream", "config", "particle", "flav_spin", "flow_time", "smear_width",
                   "smear_steps", "M5", "L5", "alpha5", "quark_mass", "px", "py", "pz", "tsep", "nsnk", "snk")
    stream = StringProperty(help_text="Stream of the configuration.")
    config = IntegerProperty(index=True, help_text="Configuration number.")
    particle = StringProperty(help_text="Particle (proton, proton_np = negative parity).")
    flav_spin = StringProperty(help_text="Flavour and spin projection, e.g. UU_up_up.")
    flow_time = FloatProperty(default=0.0, help_text="Flow time.")
    smear_width = FloatProperty(default=0.0, help_text="Smearing width (w).")
    smear_steps = IntegerProperty(default=0, help_text="Smearing steps (n).")
    tsep = IntegerProperty(help_text="Source-sink separation (negative for negative parity).")
    nsnk = IntegerProperty(help_text="Number of coherent sinks (Nsnk).")
    snk = StringProperty(default="SS", help_text="Sink smearing: SS (smeared) or PS (point).")
    input_roles = {"propagators": "propagator", "gaugeconfig": "gauge"}


class Sequential(SinkMomentum, Propagator):
    """A sequential propagator: solve on a sequential source."""

    natural_key = ("ensemble", "stream", "config", "particle", "flav_spin", "flow_time", "smear_width",
                   "smear_steps", "M5", "L5", "alpha5", "quark_mass", "px", "py", "pz", "tsep", "src_set", "snk")
    particle = StringProperty(help_text="Particle.")
    flav_spin = StringProperty(help_text="Flavour and spin projection.")
    tsep = IntegerProperty(help_text="Source-sink separation.")
    src_set = StringProperty(help_text="Range of source indices combined (Srcs<a>-<b>).")
    snk = StringProperty(default="SS", help_text="Sink smearing SS or PS.")
    input_roles = {"seqsource": "seqsource", "action": "action", "gaugeconfig": "gauge"}


class Correlator(ValenceAction, SinkMomentum, Entity):
    """A correlation function contracted from propagators (or derived from other correlators)."""

    stream = StringProperty(help_text="Stream of the configuration.")
    config = IntegerProperty(index=True, help_text="Configuration number (absent for concatenations).")
    particle = StringProperty(help_text="Hadron (proton, pion ...).")
    x = IntegerProperty(help_text="Source origin x (absent for averages).")
    y = IntegerProperty(help_text="Source origin y.")
    z = IntegerProperty(help_text="Source origin z.")
    t = IntegerProperty(help_text="Source origin t.")
    flow_time = FloatProperty(help_text="Flow time.")
    smear_width = FloatProperty(help_text="Smearing width (w).")
    smear_steps = IntegerProperty(help_text="Smearing steps (n).")
    snk = StringProperty(help_text="Sink smearing SS or PS.")
    space = StringProperty(choices={"position": "position"}, help_text="'position' for a 4D correlator (every sink site kept, CalLat's 4D_correlator datasets); absent for momentum-projected ones.")
    spin_x2 = IntegerProperty(help_text="Twice the hadron's spin (1 for a nucleon), where known.")
    spin_z_x2 = IntegerProperty(help_text="Twice the spin projection; |spin_z_x2| <= spin_x2.")
    input_roles = {"propagators": "light", "gaugeconfig": "gauge", "action": "action"}


class Meson2pt(Correlator):
    """A two-point meson correlator."""

    natural_key = ("ensemble", "stream", "config", "particle", "flow_time", "smear_width", "smear_steps",
                   "M5", "L5", "alpha5", "quark_mass", "px", "py", "pz", "x", "y", "z", "t", "snk")


class Baryon2pt(Correlator):
    """A two-point baryon correlator (spectrum)."""

    natural_key = ("ensemble", "stream", "config", "particle", "spin", "flow_time", "smear_width", "smear_steps",
                   "M5", "L5", "alpha5", "quark_mass", "px", "py", "pz", "x", "y", "z", "t", "snk", "space")
    spin = StringProperty(help_text="spin_up or spin_dn.")
    parity = IntegerProperty(help_text="Parity +1 or -1.")


class Baryon3pt(Correlator):
    """A three-point (form factor) correlator for one current."""

    natural_key = ("ensemble", "stream", "config", "particle", "flav_spin", "current", "flow_time", "smear_width",
                   "smear_steps", "M5", "L5", "alpha5", "quark_mass", "px", "py", "pz", "tsep", "src_set",
                   "x", "y", "z", "t", "snk", "space")
    flav_spin = StringProperty(help_text="Flavour and spin projection.")
    current = StringProperty(help_text="Inserted current (A3, V4 ...).")
    tsep = IntegerProperty(help_text="Source-sink separation.")
    src_set = StringProperty(help_text="Source set of the sequential propagator.")
    input_roles = {"propagator": "propagator", "seqprop": "seqprop", "gaugeconfig": "gauge"}


class DerivedDataset(Correlator):
    """A post-processing product: time-slice cut, source average, FFT, momentum projection,
    concatenation, or the output of a user's step.

    Identity is the physics object at its step (docs/model.md, "Identity of derived data"):
    the step, the correlator's fields (ensemble, configuration, particle, spin or spin_avg,
    flavour/spin, current, tsep, momentum, source or averaged source set) and the step's
    parameters (t0, nt, max_momentum). Products that carry no such fields (a user step's
    outputs, a concatenation) are told apart by ``inputs_key`` instead.
    """

    natural_key = ("step", "inputs_key", "ensemble", "stream", "config", "particle", "spin", "flav_spin",
                   "current", "tsep", "t0", "nt", "px", "py", "pz", "qx", "qy", "qz", "x", "y", "z", "t", "sources",
                   "max_momentum", "time_reversed", "flow_time", "smear_width", "smear_steps", "M5", "L5",
                   "alpha5", "quark_mass", "snk", "src_set", "space")
    step = StringProperty(required=True, index=True, help_text="Processing step: tslice, average, fft, project, concatenate, or a user step name.")
    inputs_key = StringProperty(help_text="Digest of the sorted uids of the inputs (with the step's parameters), for products without physics fields.")
    params = JSONProperty(help_text="Parameters of the step.")
    spin = StringProperty(help_text="spin_up, spin_dn, or spin_avg (the mean over both spins).")
    # No default momentum: a 4D product (tslice, average) is in position space and an FFT holds
    # every momentum; only a projection, or a form factor's sink, has one.
    px = IntegerProperty(help_text="Momentum x (a spectrum's projection; a form factor's sink momentum).")
    py = IntegerProperty(help_text="Momentum y.")
    pz = IntegerProperty(help_text="Momentum z.")
    flav_spin = StringProperty(help_text="Flavour and spin projection of a form factor, e.g. DD_dn_dn.")
    current = StringProperty(help_text="Inserted current of a form factor (A3, V4 ...).")
    tsep = IntegerProperty(help_text="Source-sink separation (negative for negative parity); a tslice keeps |tsep|+1 time slices.")
    src_set = StringProperty(help_text="Source set of the sequential propagator (Srcs<a>-<b>).")
    t0 = IntegerProperty(help_text="First time slice kept by the tslice step (the source time).")
    nt = IntegerProperty(help_text="Time extent of the lattice the tslice step cut from.")
    sources = StringProperty(help_text="The sources an average is over: their origins 'x3y3z19t62+x10y20z1t51' in order, or the file's subset label ('src_avg_0') when the file does not say.")
    qx = IntegerProperty(help_text="Momentum inserted by the current, x (a form factor's projection; units of 2 pi / L).")
    qy = IntegerProperty(help_text="Momentum inserted by the current, y.")
    qz = IntegerProperty(help_text="Momentum inserted by the current, z.")
    max_momentum = IntegerProperty(help_text="Largest |p_i| an FFT keeps (lattice units of 2 pi / L).")
    time_reversed = BooleanProperty(help_text="True when a projection reversed time (negative parity).")
    input_roles = {"inputs": "input"}


# -- activities, files, events -------------------------------------------------------------
class Run(StructuredNode):
    """A job run (PROV activity): what was run, where, by whom, and how it ended."""

    uid = StringProperty(unique_index=True, required=True, help_text="Run id: given by the job, else its natural key hashed (host, job id and start instant in UTC; see docs/recording.md), else random.")
    name = StringProperty(index=True, help_text="Readable name (kind and job id).")
    run_kind = StringProperty(index=True, help_text="What the job does: solve, contract, average, ingest ...")
    command = StringProperty(help_text="Command line that ran.")
    code_version = StringProperty(index=True, help_text="Version of the code (git describe, container tag).")
    host = StringProperty(help_text="Machine it ran on.")
    user = StringProperty(help_text="Who ran it (PROV agent).")
    job_id = StringProperty(index=True, help_text="Batch-system or task-manager job id.")
    params = JSONProperty(help_text="Parameters of the run.")
    started_at = DateTimeNeo4jFormatProperty(help_text="Start time (UTC).")
    ended_at = DateTimeNeo4jFormatProperty(help_text="End time (UTC).")
    exit_state = StringProperty(choices={s: s for s in STATES}, default="running", index=True, help_text=f"{', '.join(STATES[:-1])} or {STATES[-1]}.")

    used = RelationshipTo("Entity", "USED", cardinality=CheckedRelationship)
    generated = RelationshipFrom("Entity", "GENERATED_BY", cardinality=CheckedRelationship)

    def save(self) -> "Run":
        """Refused (InputError): record runs with latteprov.run(...) or 'latteprov record', through the checked write path."""
        raise InputError(f"Run.save(): {ORM_WRITES}")

    def delete(self) -> None:
        """Refused (InputError): nothing is deleted from provenance."""
        raise InputError("Run.delete(): nothing is deleted from provenance")


class DataFile(StructuredNode):
    """Where a product is stored: a file (or dataset inside an HDF5 file) on one machine."""

    natural_key: ClassVar[tuple[str, ...]] = ("host", "path", "dataset")
    uid = StringProperty(unique_index=True, required=True, help_text="Hash of host, path and dataset.")
    name = StringProperty(index=True, help_text="File name (basename).")
    path = StringProperty(required=True, index=True, help_text="Absolute path (or tape path).")
    host = StringProperty(default="", help_text="Machine or file system the path refers to.")
    dataset = StringProperty(default="", help_text="Dataset path inside an HDF5 file, empty for whole files.")
    size = IntegerProperty(help_text="Size in bytes when last seen.")
    expected_size = IntegerProperty(help_text="Size a complete file has; smaller means half-written.")
    mtime = DateTimeNeo4jFormatProperty(help_text="Modification time when last seen.")
    checksum = StringProperty(help_text="sha256 of the contents, when computed.")
    crc32 = StringProperty(help_text="CRC-32 checksum of the contents as ILDG records it (QCDml crcCheckSum, text as given).")
    shape = StringProperty(help_text="Dataset shape, e.g. '(1000, 48, 2, 1)'.")
    dtype = StringProperty(help_text="Dataset element type.")
    status = StringProperty(choices={s: s for s in FILE_STATUSES}, default="unknown", index=True, help_text=f"{', '.join(FILE_STATUSES[:-1])} or {FILE_STATUSES[-1]}.")
    checked_at = DateTimeNeo4jFormatProperty(help_text="When the status was last checked.")

    products = RelationshipFrom("Entity", "STORED_AT", cardinality=CheckedRelationship)

    @classmethod
    def uid_for(cls, props: dict[str, Any]) -> str:
        return make_uid("DataFile", {k: props.get(k) or "" for k in cls.natural_key})

    def save(self) -> "DataFile":
        """Refused (InputError): files are recorded with their products (Recorder.file, manifests, ingest), through the checked write path."""
        raise InputError(f"DataFile.save(): {ORM_WRITES}")

    def delete(self) -> None:
        """Refused (InputError): nothing is deleted from provenance."""
        raise InputError("DataFile.delete(): nothing is deleted from provenance")


class Invalidation(StructuredNode):
    """An invalidation or revalidation event (PROV wasInvalidatedBy): why, by whom, when."""

    uid = StringProperty(unique_index=True, required=True, help_text="Event id.")
    action = StringProperty(choices={"invalidate": "invalidate", "revalidate": "revalidate"}, default="invalidate", help_text="invalidate or revalidate.")
    reason = StringProperty(required=True, help_text="Why.")
    by = StringProperty(help_text="Who.")
    at = DateTimeNeo4jFormatProperty(help_text="When (UTC).")
    root = StringProperty(index=True, help_text="uid of the entity the event was applied to.")
    count = IntegerProperty(help_text="How many entities it marked.")


class Campaign(StructuredNode):
    """A production campaign ('latteprov plan'): ensembles, configurations and the steps that
    compute its products, with their command templates and resources (docs/planning.md)."""

    name = StringProperty(unique_index=True, required=True, help_text="Campaign name (the campaign file's name).")
    source = StringProperty(help_text="Path of the campaign file it was last planned from.")
    document = JSONProperty(help_text="The campaign file as validated: ensembles, steps, command templates, resources, METAQ settings.")
    planned_at = DateTimeNeo4jFormatProperty(help_text="When it was last planned (UTC).")


class Task(StructuredNode):
    """A METAQ task file written by 'latteprov tasks write': which products it computes, and where."""

    uid = StringProperty(unique_index=True, required=True, help_text="'Task:' + hash of the METAQ directory and the file name.")
    name = StringProperty(index=True, help_text="File name of the task (<product name>.sh, or a bundle's).")
    metaq = StringProperty(index=True, help_text="Absolute path of the METAQ directory it was written to.")
    folder = StringProperty(help_text="Where it was written: todo or priority.")
    campaign_step = StringProperty(help_text="The campaign step of its products, '<campaign>/<step>'.")
    products = ArrayProperty(StringProperty(), help_text="uids of the products it computes.")
    written_at = DateTimeNeo4jFormatProperty(help_text="When it was written (UTC).")


class WebUser(StructuredNode):
    """A user of the web app (Neo4j Community has no roles, so the app enforces them)."""

    username = StringProperty(unique_index=True, required=True, help_text="Login name.")
    password_hash = StringProperty(required=True, help_text="werkzeug password hash (never the password).")
    role = StringProperty(choices={"reader": "reader", "writer": "writer", "admin": "admin"}, default="reader", help_text="reader, writer or admin.")
    created_at = DateTimeNeo4jFormatProperty(help_text="When the user was added.")


class Lock(StructuredNode):
    """Serialises writers: 'dag' is taken by transactions that add DERIVED_FROM edges (so concurrent
    writers cannot close a cycle), 'tally' by those that change what the status counters count,
    'tasks' by 'latteprov tasks write' (so no product is queued twice)."""

    name = StringProperty(unique_index=True, required=True, help_text="Lock name: dag, tally or tasks.")
    tick = IntegerProperty(default=0, help_text="Times taken.")
    complete = BooleanProperty(help_text="On the tally lock: whether the status counters cover every entity (set by a recount).")


def natural_key_values(cls: type[StructuredNode], props: dict[str, Any]) -> dict[str, Any]:
    """The natural-key values of ``props``, with each absent key taking its declared default."""
    key: dict[str, Any] = {}
    for name, default in key_defaults(cls):
        value = props.get(name)
        if value is None and default is not None:
            value = default.default_value()
        key[name] = value
    return key


@lru_cache(maxsize=None)
def key_defaults(cls: type[StructuredNode]) -> tuple[tuple[str, Any], ...]:
    """Each natural-key property of ``cls`` with the property object when it declares a default."""
    defined = properties(cls)
    return tuple((name, defined[name] if defined[name].has_default else None) for name in cls.natural_key)


def entity_classes() -> list[type[Entity]]:
    """Every Entity class, base first, in definition order."""
    found: list[type[Entity]] = []

    def walk(cls: type[Entity]) -> None:
        found.append(cls)
        for sub in cls.__subclasses__():
            walk(sub)

    walk(Entity)
    return found


def all_classes() -> list[type[StructuredNode]]:
    """Every node class of the schema."""
    return [*entity_classes(), Run, DataFile, Invalidation, Campaign, Task, WebUser, Lock]


@lru_cache(maxsize=None)
def properties(cls: type[StructuredNode]) -> dict[str, Any]:
    """The declared properties of ``cls`` by name (cached: neomodel rebuilds them on every call,
    which dominated the bulk paths' Python time)."""
    return cls.defined_properties(aliases=False, rels=False)


@lru_cache(maxsize=None)
def property_names() -> frozenset[str]:
    """Every property name of any node class of the schema."""
    return frozenset(name for cls in all_classes() for name in properties(cls))


@lru_cache(maxsize=None)
def _classes_by_name() -> dict[str, type[StructuredNode]]:
    return {cls.__name__.lower(): cls for cls in all_classes()}


def kind_class(kind: str) -> type[StructuredNode]:
    """The class named ``kind`` (case-insensitive); unknown kinds list the known ones."""
    try:
        return _classes_by_name()[kind.lower()]
    except KeyError:
        raise InputError(f"unknown kind {kind!r}; known: {', '.join(c.__name__ for c in all_classes())}") from None


def labels_of(cls: type[StructuredNode]) -> list[str]:
    """The labels a node of ``cls`` carries (its class and every concrete ancestor); a new list
    each call (callers may keep it in a row)."""
    return list(_labels(cls))


@lru_cache(maxsize=None)
def _labels(cls: type[StructuredNode]) -> tuple[str, ...]:
    return tuple(cls.inherited_labels())


def coerce_props(cls: type[StructuredNode], props: dict[str, Any]) -> dict[str, Any]:
    """Props converted to the declared types of ``cls`` (so '1.0' and 1 give the same uid).

    Unknown property names raise; None values are dropped. Each property's conversion is
    compiled once per class (:func:`converters`).
    """
    table = converters(cls)
    out: dict[str, Any] = {}
    for key, value in props.items():
        if value is None:
            continue
        convert = table.get(key)
        if convert is None:
            raise InputError(f"{cls.__name__} has no property {key!r}")
        out[key] = convert(value)
    return out


@lru_cache(maxsize=None)
def converters(cls: type[StructuredNode]) -> dict[str, Any]:
    """Property name -> a function that types one (non-None) value as ``cls`` declares it and
    checks it (finite floats, 64-bit integers, declared choices), raising InputError naming the
    class and property. Built once per class: the isinstance chain over property types ran per
    value and dominated name ingest."""
    return {key: _converter(cls.__name__, key, prop) for key, prop in properties(cls).items()}


def _converter(owner: str, key: str, prop: Any) -> Any:
    where = f"{owner}.{key}"
    label = type(prop).__name__[:-8].lower()
    choices = getattr(prop, "choices", None)

    def bad(value: Any) -> InputError:
        return InputError(f"{where}: {value!r} is not a valid {label}")

    def checked(value: Any, out: Any) -> Any:
        if isinstance(out, float) and not math.isfinite(out):
            raise InputError(f"{where}: {value!r} is not a finite number")
        if isinstance(out, int) and not isinstance(out, bool) and not INT64_MIN <= out <= INT64_MAX:
            raise InputError(f"{where}: {value!r} is beyond 64-bit integers")
        if choices and out not in choices:
            raise InputError(f"{where}: {value!r} is not one of {', '.join(choices)}")
        return out

    if isinstance(prop, FloatProperty):
        def convert(value: Any) -> Any:
            try:
                out = float(value) + 0.0  # -0.0 is stored as 0.0: a sign no comparison should see
            except (TypeError, ValueError):
                raise bad(value) from None
            if out - out != 0.0:  # inf or nan
                raise InputError(f"{where}: {value!r} is not a finite number")
            return checked(value, out) if choices else out
    elif isinstance(prop, IntegerProperty):
        def convert(value: Any) -> Any:
            try:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                out = int(value)
            except (TypeError, ValueError):
                raise bad(value) from None
            if not INT64_MIN <= out <= INT64_MAX:
                raise InputError(f"{where}: {value!r} is beyond 64-bit integers")
            return checked(value, out) if choices else out
    elif isinstance(prop, BooleanProperty):
        def convert(value: Any) -> Any:
            return checked(value, value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes"))
    elif isinstance(prop, StringProperty):
        def convert(value: Any) -> Any:
            out = value if type(value) is str else str(value)
            return checked(value, out) if choices else out
    else:
        def convert(value: Any) -> Any:
            return checked(value, value)
    return convert
