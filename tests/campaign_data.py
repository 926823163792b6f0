"""A small realistic campaign written through graph.write, shared by the question tests.

Per ensemble: ensemble, gauge action, HISQ sea, one valence MobiusDW action, a link smearing;
per configuration: unflowed and flowed config, sources, one-to-all propagators, 2-pt
correlators, sequential sources / propagators per tsep, and 3-pt correlators; files on the
2-pt correlators and propagators; a run per solve and per contraction.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from latteprov import graph
from latteprov.graph import GraphBatch


@dataclass
class Campaign:
    """uids of interest, by what they are."""

    ensembles: dict[str, str] = field(default_factory=dict)
    configs: dict[tuple[str, int], str] = field(default_factory=dict)
    flowed: dict[tuple[str, int], str] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)
    props: list[str] = field(default_factory=list)
    seqprops: list[str] = field(default_factory=list)
    spec: list[str] = field(default_factory=list)
    formfac: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)


def build(ensembles: tuple[str, ...] = ("a09m310", "a12m310"), configs: tuple[int, ...] = (300, 306),
          sources: tuple[tuple[int, int, int, int], ...] = ((3, 3, 19, 62), (10, 0, 1, 14)),
          tseps: tuple[int, ...] = (8, 10)) -> tuple[GraphBatch, Campaign]:
    """The batch and the uids of a campaign of the given size."""
    b, c = GraphBatch(), Campaign()
    smear = b.add("LinkSmearing", name="wflow1.0", flow_time=1.0, flow_steps=40)
    for ens in ensembles:
        e = c.ensembles[ens] = b.add("Ensemble", name=ens, tag=ens, nx=32, nt=96, beta=6.3)
        gauge = b.add("GaugeAction", name=f"LW beta {ens}", beta=6.3 + len(c.ensembles) / 100)
        b.link(e, gauge, "gauge_action")
        for tag, mass in (("light", 0.0074), ("strange", 0.037)):
            sea = b.add("Hisq", name=f"hisq {tag} {ens}", quark_mass=mass + len(c.ensembles) / 1000, quark_tag=tag)
            b.link(e, sea, "sea_action")
        mq = 0.00951 + len(c.ensembles) / 1000
        act = c.actions[ens] = b.add("MobiusDW", name=f"MDWF {ens}", quark_mass=mq, M5=1.1, L5=6, b5=1.25,
                                     c5=0.25, alpha5=1.5, quark_tag="light")
        for cfg in configs:
            base = c.configs[(ens, cfg)] = b.add("GaugeConfig", name=f"{ens}e.{cfg}", ensemble=ens, stream="e",
                                                 config=cfg)
            b.link(base, e, "ensemble")
            flowed = c.flowed[(ens, cfg)] = b.add("GaugeConfig", name=f"{ens}e.{cfg}_wflow1.0", ensemble=ens,
                                                  stream="e", config=cfg, flow_time=1.0)
            b.link(flowed, base, "parent")
            b.link(flowed, smear, "smearing")
            common = dict(ensemble=ens, stream="e", config=cfg, flow_time=1.0, smear_width=3.5, smear_steps=45)
            valence = dict(M5=1.1, L5=6, alpha5=1.5, quark_mass=mq)
            props = []
            for x, y, z, t in sources:
                at = f"x{x}y{y}z{z}t{t}"
                src = b.add("Source", name=f"src_{ens}_e_{cfg}_{at}", x=x, y=y, z=z, t=t, **common)
                b.link(src, flowed, "gauge")
                prop = b.add("OneToAll", name=f"prop_{ens}_e_{cfg}_{at}", x=x, y=y, z=z, t=t, **common, **valence)
                for to, role in ((flowed, "gauge"), (act, "action"), (src, "source")):
                    b.link(prop, to, role)
                solve = f"run:solve-{ens}-{cfg}-{at}"
                b.runs.append(graph.run_row(solve, kind="solve", job_id=f"s-{ens}-{cfg}-{at}", exit_state="done"))
                b.link(prop, solve, type="GENERATED_BY")
                b.link(solve, src, type="USED")
                c.runs.append(solve)
                b.add_file(prop, f"/scratch/{ens}/prop/prop_{ens}_e_{cfg}_{at}.lime", host="frontier",
                           status="on_tape" if x == 3 else "on_disk")
                spec = b.add("Baryon2pt", name=f"spec_{ens}_e_{cfg}_{at}", particle="proton", spin="spin_up",
                             parity=1, x=x, y=y, z=z, t=t, snk="SS", **common, **valence)
                b.link(spec, prop, "light")
                b.add_file(spec, f"/scratch/{ens}/spec/spec_{ens}_e_{cfg}_{at}.h5", host="frontier", status="on_disk")
                run = f"run:contract-{ens}-{cfg}-{at}"
                b.runs.append(graph.run_row(run, kind="contract", job_id=f"c-{ens}-{cfg}-{at}", exit_state="done"))
                b.link(spec, run, type="GENERATED_BY")
                b.link(run, prop, type="USED")
                props.append(prop)
                c.props.append(prop)
                c.spec.append(spec)
                c.runs.append(run)
            for tsep in tseps:
                seq_key = dict(particle="proton", flav_spin="UU_up_up", px=0, py=0, pz=0, tsep=tsep, snk="SS")
                seqsrc = b.add("SequentialSource", name=f"seqsrc_{ens}_e_{cfg}_dt{tsep}", nsnk=len(props),
                               **seq_key, **common, **valence)
                for p in props:
                    b.link(seqsrc, p, "propagator")
                b.link(seqsrc, flowed, "gauge")
                seqprop = b.add("Sequential", name=f"seqprop_{ens}_e_{cfg}_dt{tsep}", src_set=f"0-{len(props) - 1}",
                                state="planned", **seq_key, **common, **valence)
                for to, role in ((seqsrc, "seqsource"), (act, "action"), (flowed, "gauge")):
                    b.link(seqprop, to, role)
                c.seqprops.append(seqprop)
                for p, (x, y, z, t) in zip(props, sources):
                    ff = b.add("Baryon3pt", name=f"formfac_{ens}_e_{cfg}_dt{tsep}_x{x}y{y}z{z}t{t}_A3",
                               particle="proton", flav_spin="UU_up_up", current="A3", tsep=tsep,
                               src_set=f"0-{len(props) - 1}", x=x, y=y, z=z, t=t, snk="SS", state="planned",
                               **common, **valence)
                    b.link(ff, p, "propagator")
                    b.link(ff, seqprop, "seqprop")
                    c.formfac.append(ff)
    return b, c
