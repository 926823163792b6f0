"""``latteprov plan``: every product of a campaign declared ``planned``, with its inputs.

Products are built one configuration at a time through the file-name conventions
(:class:`latteprov.ingest.builder.Builder`: the same names, uids, properties and DERIVED_FROM
edges as ``latteprov ingest names`` gives the files once they exist), marked ``planned`` with
their ``campaign_step``, and written through :class:`latteprov.graph.Writer` in batches of
about :data:`BATCH` rows, one transaction each, while the next batch is built. Nodes no step
makes (the ensemble, actions, smearings, the MILC configurations) are written as they are and
count as done unless they exist already.

Planning is idempotent: uids are the conventions', existing nodes are matched (a state only
moves forward, so nothing is ever demoted), and re-planning adds only what is new. The write
path adds what an existing node lacks, so a product recorded before it was planned (a file
ingested by name) is given its step; one that another campaign's step makes keeps it, and the
difference is reported as a conflict.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from latteprov import graph
from latteprov.campaign import Campaign
from latteprov.graph import GraphBatch, WriteResult
from latteprov.ingest.builder import Builder
from latteprov.store import Store, chunks

BATCH = 10_000


@dataclass
class PlanReport:
    """What planning a campaign did (or, in a dry run, would do)."""

    campaign: str
    dry_run: bool
    steps: list[dict] = field(default_factory=list)   # {step, kind, node, products, existing}
    configs: int = 0
    written: WriteResult = field(default_factory=WriteResult)
    seconds: float = 0.0

    @property
    def products(self) -> int:
        """Products of every step."""
        return sum(s["products"] for s in self.steps)

    @property
    def rate(self) -> float:
        """Products planned per second."""
        return self.products / self.seconds if self.seconds else 0.0


def batches(camp: Campaign, counts: Counter, owners: list[tuple[str, str]], batch_size: int,
             advance: Callable[[int], None] | None) -> Iterator[GraphBatch]:
    """The campaign's rows, a configuration at a time, in batches of about ``batch_size`` rows;
    counts products per step into ``counts`` and every (uid, campaign_step) into ``owners``."""
    builder = Builder(camp.conventions)
    specs = {step.name: camp.conventions.nodes[step.node] for step in camp.steps}
    keys = {step.name: camp.step_key(step) for step in camp.steps}
    step_of: dict[str, str] = {}

    def take() -> GraphBatch:
        batch = builder.take()
        for row in batch.entities:
            key = step_of.get(row["uid"])
            if key is not None:
                row["state"] = "planned"
                row["props"]["campaign_step"] = key
        step_of.clear()
        return batch

    for ens in camp.ensembles:
        for stream in ens.streams:
            for config in ens.configs:
                for step in camp.steps:
                    for fields in camp.combinations(step, ens, config, stream):
                        uid = builder.build(specs[step.name], camp.conventions.enrich(fields))
                        if uid not in step_of:
                            step_of[uid] = keys[step.name]
                            owners.append((uid, keys[step.name]))
                            counts[step.name] += 1
                builder.resolve_groups()  # group inputs (a coherent source's propagators) of this configuration
                if advance:
                    advance(1)
                if len(builder.batch) >= batch_size:
                    yield take()
    batch = take()
    if len(batch):
        yield batch


def plan(store: Store, camp: Campaign, dry_run: bool = False, batch_size: int = BATCH,
         advance: Callable[[int], None] | None = None) -> PlanReport:
    """Declare every product of ``camp`` planned (``dry_run``: only count them, and how many
    exist already). ``advance(n)`` hears of each configuration built."""
    started = time.perf_counter()
    report = PlanReport(camp.name, dry_run, configs=sum(len(e.configs) * len(e.streams) for e in camp.ensembles))
    counts: Counter = Counter()
    owners: list[tuple[str, str]] = []
    existing: Counter = Counter()
    if dry_run:
        for _ in batches(camp, counts, owners, batch_size, advance):
            pass
        by_step = {camp.step_key(s): s.name for s in camp.steps}
        for part in chunks(owners, 10_000):
            found = set(store.read("existing_entities", uids=[uid for uid, _ in part])[0]["uids"])
            existing.update(by_step[key] for uid, key in part if uid in found)
    else:
        # Steps in dependency order: 'ready' and the dashboard list them so.
        document = {**camp.document, "steps": {s.name: camp.document["steps"][s.name] for s in camp.steps}}
        store.write("campaign_save", campaign=camp.name, source=camp.source, document=json.dumps(document))
        with graph.Writer(store) as writer:
            for batch in batches(camp, counts, owners, batch_size, advance):
                writer.put(batch)
        report.written = writer.result
    report.steps = [{"step": s.name, "kind": s.kind, "node": s.node, "products": counts[s.name],
                     **({"existing": existing[s.name]} if dry_run else {})} for s in camp.steps]
    report.seconds = time.perf_counter() - started
    return report
