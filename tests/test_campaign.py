"""Issue 3's acceptance: a small realistic campaign (2 ensembles x 10 configurations, 2 sources,
2 source-sink separations) recorded through the job-script API, then lineage, downstream,
invalidation, status and revalidation answer exactly what the campaign built."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pytest

from latteprov import lineage, record, status
from latteprov.invalidate import invalidate, revalidate

ENSEMBLES = {
    "a09m310": dict(long_tag="l3296f211b630m0074m037m440", nx=32, nt=96, beta=6.30, ml=0.0074, ms=0.037, mc=0.440,
                    stream="e", M5=1.1, L5=6, alpha5=1.5, mq=0.00951, w=3.5, n=45, tseps=(8, 10)),
    "a15m310": dict(long_tag="l1648f211b580m013m065m838", nx=16, nt=48, beta=5.80, ml=0.013, ms=0.065, mc=0.838,
                    stream="a", M5=1.3, L5=12, alpha5=1.5, mq=0.0158, w=3.0, n=30, tseps=(4, 6)),
}
CONFIGS = range(300, 310)
FLOW = 1.0


@dataclass
class Campaign:
    """What was recorded, kept by the test to compare the answers with."""

    actions: dict[str, str] = field(default_factory=dict)        # ensemble -> MobiusDW uid
    shared: dict[str, set[str]] = field(default_factory=dict)    # ensemble -> ensemble-level uids
    configs: dict[tuple, str] = field(default_factory=dict)      # (ens, cfg) -> unflowed config
    below: dict[tuple, set[str]] = field(default_factory=lambda: defaultdict(set))  # (ens, cfg) -> products
    formfacs: dict[str, set[str]] = field(default_factory=dict)  # 3-pt uid -> the entities of its lineage
    runs_of: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # product -> runs making it
    on_action: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # ens -> descendants


def setup_ensemble(store, camp: Campaign, tag: str, p: dict) -> tuple[str, str, str, str]:
    with record.run("setup", store=store, job_id=f"setup-{tag}") as r:
        gauge_action = r.output("GaugeAction", name=f"LW beta={p['beta']}", beta=p["beta"], u0=1.0)
        sea = [r.output("Hisq", name=f"hisq {q} {m}", quark_mass=m, quark_tag=q, naik=0.0 if q != "charm" else -0.3)
               for q, m in (("light", p["ml"]), ("strange", p["ms"]), ("charm", p["mc"]))]
        ens = r.output("Ensemble", name=tag, inputs={"gauge_action": gauge_action, "sea_action": sea}, tag=tag,
                       long_tag=p["long_tag"], nx=p["nx"], nt=p["nt"], nf="2+1+1", beta=p["beta"],
                       ml=p["ml"], ms=p["ms"], mc=p["mc"])
        flow = r.output("LinkSmearing", name="wflow1.0", flow_time=FLOW, flow_steps=40)
        smear = r.output("QuarkSmearing", name=f"gauss w{p['w']} n{p['n']}", radius=p["w"], steps=p["n"])
        action = r.output("MobiusDW", name=f"MDWF M5={p['M5']} L5={p['L5']} a={p['alpha5']} mq={p['mq']}",
                          quark_mass=p["mq"], M5=p["M5"], L5=p["L5"], alpha5=p["alpha5"],
                          b5=(p["alpha5"] + 1) / 2, c5=(p["alpha5"] - 1) / 2, quark_tag="light")
    camp.actions[tag] = action
    camp.shared[tag] = {gauge_action, *sea, ens, flow, smear, action}
    for uid in camp.shared[tag]:  # wflow1.0 is shared: both setup runs generate it
        camp.runs_of[uid].add(r.uid)
    return ens, flow, smear, action


def record_config(store, camp: Campaign, tag: str, p: dict, cfg: int, ens: str, flow: str, smear: str, action: str) -> None:
    ens_s = f"{tag}_{p['stream']}"
    gf = f"gf{FLOW}_w{p['w']}_n{p['n']}"
    act = f"M5{p['M5']}_L5{p['L5']}_a{p['alpha5']}_mq{p['mq']}"
    base_key = dict(ensemble=tag, stream=p["stream"], config=cfg)
    key = dict(base_key, flow_time=FLOW, smear_width=p["w"], smear_steps=p["n"])
    valence = dict(M5=p["M5"], L5=p["L5"], alpha5=p["alpha5"], quark_mass=p["mq"])
    base = record.declare(store, "GaugeConfig", name=f"{p['long_tag']}{p['stream']}.{cfg}", state="done",
                          inputs={"ensemble": ens}, **base_key)
    camp.configs[(tag, cfg)] = base
    below = camp.below[(tag, cfg)]

    with record.run("flow", store=store, job_id=f"flow-{tag}-{cfg}", inputs=[base]) as r:
        flowed = r.output("GaugeConfig", name=f"{p['long_tag']}{p['stream']}.{cfg}_wflow{FLOW}",
                          inputs={"parent": base, "smearing": flow}, flow_time=FLOW, **base_key)
    camp.runs_of[flowed].add(r.uid)
    origins = [((cfg * 7) % p["nx"], (cfg * 3) % p["nx"], (cfg * 5) % p["nx"], t) for t in (0, p["nt"] // 2)]
    sources, props = [], []
    with record.run("solve", store=store, job_id=f"solve-{tag}-{cfg}", code_version="lalibe-1.2") as r:
        for x, y, z, t in origins:
            src = f"x{x}y{y}z{z}t{t}"
            source = r.output("Source", name=f"src_{ens_s}_{cfg}_{gf}_{src}", inputs={"gauge": flowed, "smearing": smear},
                              x=x, y=y, z=z, t=t, **key)
            prop = r.output("OneToAll", name=f"prop_{ens_s}_{cfg}_{gf}_{act}_{src}",
                            inputs={"gauge": flowed, "action": action, "source": source}, x=x, y=y, z=z, t=t,
                            **key, **valence)
            sources.append(source)
            props.append(prop)
    for uid in (*sources, *props):
        camp.runs_of[uid].add(r.uid)
    with record.run("spec", store=store, job_id=f"spec-{tag}-{cfg}", inputs=props) as r:
        specs = [r.output("Baryon2pt", name=f"spec_{ens_s}_{cfg}_{gf}_{act}_x{x}y{y}z{z}t{t}", inputs={"light": prop},
                          particle="proton", spin="spin_up", parity=1, spin_x2=1, spin_z_x2=1, x=x, y=y, z=z, t=t,
                          snk="SS", **key, **valence)
                 for prop, (x, y, z, t) in zip(props, origins)]
    for uid in specs:
        camp.runs_of[uid].add(r.uid)
    below.update({flowed, *sources, *props, *specs})
    camp.on_action[tag].update({*props, *specs})

    seq_key = dict(particle="proton", flav_spin="UU_up_up", px=0, py=0, pz=0, snk="SS")
    for tsep in p["tseps"]:
        mom = f"px0py0pz0_dt{tsep}"
        with record.run("seqprop", store=store, job_id=f"seq-{tag}-{cfg}-{tsep}") as r:
            seqsrc = r.output("SequentialSource", name=f"seqsrc_{ens_s}_{cfg}_proton_UU_up_up_{gf}_{act}_{mom}_Nsnk2_SS",
                              inputs={"propagator": props, "gauge": flowed}, tsep=tsep, nsnk=2, **key, **valence, **seq_key)
            seqprop = r.output("Sequential", name=f"seqprop_{ens_s}_{cfg}_proton_UU_up_up_{gf}_{act}_{mom}_Srcs0-1_SS",
                               inputs={"seqsource": seqsrc, "action": action, "gauge": flowed},
                               tsep=tsep, src_set="0-1", **key, **valence, **seq_key)
        camp.runs_of[seqsrc].add(r.uid)
        camp.runs_of[seqprop].add(r.uid)
        with record.run("formfac", store=store, job_id=f"ff-{tag}-{cfg}-{tsep}", inputs=[seqprop, *props]) as r:
            for prop, (x, y, z, t), source in zip(props, origins, sources):
                ff = r.output("Baryon3pt", name=f"formfac_{ens_s}_{cfg}_{gf}_{act}_{mom}_Srcs0-1_x{x}y{y}z{z}t{t}_SS",
                              inputs={"propagator": prop, "seqprop": seqprop}, current="A3", tsep=tsep,
                              src_set="0-1", x=x, y=y, z=z, t=t, **key, **valence, **seq_key)
                camp.runs_of[ff].add(r.uid)
                camp.formfacs[ff] = {ff, prop, seqprop, seqsrc, *props, *sources, flowed, base, *camp.shared[tag]}
                below.add(ff)
                camp.on_action[tag].add(ff)
        below.update({seqsrc, seqprop})
        camp.on_action[tag].update({seqsrc, seqprop})


@pytest.fixture
def built(store) -> Campaign:
    camp = Campaign()
    for tag, p in ENSEMBLES.items():
        ens, flow, smear, action = setup_ensemble(store, camp, tag, p)
        for cfg in CONFIGS:
            record_config(store, camp, tag, p, cfg, ens, flow, smear, action)
    return camp


def by_kind(store, ensemble: str) -> dict[str, dict]:
    return {row["kind"]: row for row in status.status(store, ensemble)}


def test_the_campaign_through_the_api_answers_lineage_downstream_invalidation_and_status(store, built) -> None:
    counts = store.run_text("MATCH (n:Entity) RETURN n.kind AS k, count(*) AS n ORDER BY k")
    per_ens = len(CONFIGS)
    assert {r["k"]: r["n"] for r in counts} == {
        "Baryon2pt": 2 * per_ens * 2, "Baryon3pt": 2 * per_ens * 2 * 2, "Ensemble": 2, "GaugeAction": 2,
        "GaugeConfig": 2 * per_ens * 2, "Hisq": 6, "LinkSmearing": 1, "MobiusDW": 2, "OneToAll": 2 * per_ens * 2,
        "QuarkSmearing": 2, "Sequential": 2 * per_ens * 2, "SequentialSource": 2 * per_ens * 2, "Source": 2 * per_ens * 2}
    assert store.run_text("MATCH (r:Run) WHERE r.exit_state <> 'done' RETURN count(r) AS n")[0]["n"] == 0

    # lineage of a 3-pt correlator: exactly its propagators, sequential source and propagator,
    # configurations, actions and the runs that made each
    ff, expected = next(iter(built.formfacs.items()))
    answer = lineage.lineage(store, ff)
    entities = {n["uid"] for n in answer["nodes"] if n["kind"] != "Run"}
    runs = {n["uid"] for n in answer["nodes"] if n["kind"] == "Run"}
    assert entities == expected
    assert runs == set().union(*(built.runs_of[u] for u in expected))
    kinds = sorted(n["kind"] for n in answer["nodes"] if n["uid"] in entities)
    assert kinds.count("OneToAll") == 2 and kinds.count("Sequential") == 1 and kinds.count("GaugeConfig") == 2

    # downstream of a configuration: all of its products, nothing of another configuration
    (tag, cfg), base = next(iter(built.configs.items()))
    down = lineage.downstream(store, base, all_nodes=True)
    assert {n["uid"] for n in down["nodes"]} - {base} == built.below[(tag, cfg)]

    # invalidating a fermion action marks exactly its descendants; status shows them invalid
    before = {tag: by_kind(store, tag) for tag in ENSEMBLES}
    action = built.actions["a09m310"]
    result = invalidate(store, action, reason="solver bug in lalibe-1.2", by="test")
    invalid = {r["u"] for r in store.run_text("MATCH (n:Entity) WHERE n.valid = false RETURN n.uid AS u")}
    assert invalid == built.on_action["a09m310"] | {action}
    assert result["total"] == len(invalid)
    after = by_kind(store, "a09m310")
    for kind in ("OneToAll", "Baryon2pt", "SequentialSource", "Sequential", "Baryon3pt"):
        assert after[kind]["invalid"] == after[kind]["total"] > 0
    assert after["Source"]["invalid"] == after["GaugeConfig"]["invalid"] == 0
    assert by_kind(store, "a15m310") == before["a15m310"]

    # revalidating restores the counts
    revalidate(store, action, reason="false alarm", by="test")
    assert {tag: by_kind(store, tag) for tag in ENSEMBLES} == before
