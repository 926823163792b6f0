"""The measurements: every figure of issue 7 against its baselines, answers checked to agree.

:func:`agreement` loads one campaign into Neo4j (through the bulk path), SQLite and
PostgreSQL, and asks each the same questions (lineage of correlators, downstream of
configurations, invalidation of a fermion action, status per ensemble and kind), plus the
file-name baseline where a listing can answer; it raises :class:`Disagreement` on any
difference. With ``timing`` it also records latencies. :func:`run` adds the ingest figures
(bulk path through the CLI, ``ingest names``, the naive neomodel way), the round-trip floor
and the CLI's peak memory, on a Neo4j server of its own.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from latteprov import graph, invalidate, lineage, model, status, synth
from latteprov.config import load_settings
from latteprov.server import manager
from latteprov.store import Store
from latteprov import schema

from benchmarks import names_sql, relational
from benchmarks.filenames import FileList

# Questions asked per figure: latency percentiles need many, the regex baseline scans the
# whole listing per question so it answers fewer (its p50 is still a median of those).
SAMPLES = {"S": 20, "M": 200, "L": 200, "XL": 200}
REGEX_SAMPLES = 20
WARM_UP = 5
NAMES_SAMPLE = 20_000
SMOKE_SAMPLES = 5
TARGETS = {
    "bulk ingest": ">= 50,000 rows/s and >= 100x naive (tier M)",
    "ingest names": ">= 20,000 names/s (tier M)",
    "lineage of a correlator p50": "<= 3x round trip (tier L)",
    "lineage of a correlator p99": "<= 25 ms (tier L)",
    "downstream of a configuration p50": "<= 10 ms (tier L)",
    "invalidate a fermion action": "<= 5 s and <= PostgreSQL (tier L)",
    "status aggregation": "<= 300 ms (tier M)",
    "CLI peak memory, bulk ingest": "<= 300 MB (tier M)",
}


class Disagreement(AssertionError):
    """Two systems gave different answers to the same question."""


@dataclass
class Figure:
    """One line of the results table."""

    figure: str
    system: str
    value: float | None
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline_value is None or not self.value:
            return None
        return self.baseline_value / self.value if self.unit in ("ms", "s", "MB") else self.value / self.baseline_value


@dataclass
class Results:
    """Everything one run measured."""

    tier: str
    seed: int
    figures: list[Figure] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)

    def add(self, *args: object, **kwargs: object) -> Figure:
        fig = Figure(*args, **kwargs)
        self.figures.append(fig)
        return fig

    def agree(self, what: str, a: object, b: object, names: tuple[str, str]) -> None:
        """Record that ``a`` and ``b`` are equal answers to ``what``; raise when they differ."""
        if a != b:
            detail = ""
            if isinstance(a, set) and isinstance(b, set):
                detail = f": only {names[0]} {sorted(a - b)[:3]}, only {names[1]} {sorted(b - a)[:3]}"
            raise Disagreement(f"{what}: {names[0]} and {names[1]} disagree{detail}")
        if what not in self.checks:
            self.checks.append(what)

    def to_json(self) -> dict:
        return {"tier": self.tier, "seed": self.seed, "commit": source_commit(), "load_average": os.getloadavg(),
                "facts": self.facts, "checks": self.checks,
                "figures": [{**asdict(f), "ratio": f.ratio} for f in self.figures]}


def source_commit() -> str | None:
    """The git commit of the tree measured (with '+' when it has uncommitted changes), or None
    outside a git checkout: stored with the results so a figure names the code it measured."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=10)
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode:
        return None
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Seconds one call took, and its answer."""
    start = time.perf_counter()
    answer = fn()
    return time.perf_counter() - start, answer


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values``, in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- the questions -------------------------------------------------------------------------
def _uids(entity_rows: list[dict]) -> set[str]:
    return {n["uid"] for n in entity_rows if n["kind"] not in ("Run", "DataFile")}


def ask_lineage(store: Store, uid: str) -> set[str]:
    """Ancestors of ``uid`` as the library's lineage answers them."""
    return _uids(lineage.lineage(store, uid)["nodes"]) - {uid}


def ask_downstream(store: Store, uid: str) -> set[str]:
    """Descendants of ``uid`` as the library's downstream answers them (all of them)."""
    return _uids(lineage.downstream(store, uid, all_nodes=True)["nodes"]) - {uid}


def query_set(store: Store, name: str, uid: str) -> set[str]:
    return set(store.read(name, uid=uid)[0]["uids"])


def existing_files(store: Store, uids: set[str]) -> set[str]:
    return set(store.read("bench_existing_files", uids=sorted(uids))[0]["names"])


def _latencies(res: Results, title: str, unit_questions: list[tuple[str, str]], systems: dict[str, Callable],
               regex: Callable[[str], set[str]] | None, regex_files: Callable[[set[str]], set[str]],
               timing: bool) -> None:
    """Ask every system the same questions; check the answers agree; record p50/p99."""
    times: dict[str, list[float]] = {name: [] for name in systems}
    regex_times: list[float] = []
    for uid, _ in unit_questions[:WARM_UP] if timing else []:  # warm plan caches and JIT, as in use
        for ask in systems.values():
            ask(uid)
    for i, (uid, name) in enumerate(unit_questions):
        answers = {}
        for system, ask in systems.items():
            seconds, answers[system] = timed(lambda: ask(uid))
            times[system].append(seconds)
        reference = answers["Neo4j (latteprov API)"]
        for system, answer in answers.items():
            res.agree(f"{title}: {system}", reference, answer, ("Neo4j (latteprov API)", system))
        if regex is not None and i < REGEX_SAMPLES:
            seconds, files = timed(lambda: regex(name))
            regex_times.append(seconds)
            res.agree(f"{title}: regex over file names", regex_files(reference), files,
                      ("Neo4j files", "regex"))
    if not timing:
        return
    for q, label in ((0.5, "p50"), (0.99, "p99")):
        api = pct(times["Neo4j (latteprov API)"], q)
        for system, values in times.items():
            if system == "Neo4j (latteprov API)":
                continue
            res.add(f"{title} {label}", "Neo4j (latteprov API)", api, "ms", system, pct(values, q))
        if regex_times:
            res.add(f"{title} {label}", "Neo4j (latteprov API)", api, "ms", "regex over file names",
                    pct(regex_times, q), note=f"regex on {len(regex_times)} questions")


def _sample(store: Store, kind: str, n: int, rng: random.Random, unflowed: bool = False) -> list[tuple[str, str]]:
    rows = store.read("bench_sample", kind=kind)
    if unflowed:
        rows = [r for r in rows if not r["flow_time"]]
    rows.sort(key=lambda r: r["uid"])
    return [(r["uid"], r["name"]) for r in rng.sample(rows, min(n, len(rows)))]


def agreement(store: Store, tier: str, seed: int, sql: list[relational.Relational], files: FileList,
              timing: bool = False, res: Results | None = None) -> Results:
    """Ask Neo4j (already holding the campaign), the relational databases and the file list the
    same questions; raise :class:`Disagreement` on any difference."""
    res = res or Results(tier, seed)
    rng = random.Random(seed)
    n = SAMPLES[tier.upper().partition("/")[0]] if timing else SMOKE_SAMPLES
    expected = synth.counts(tier)
    counts = store.read("bench_counts")[0]
    res.agree("campaign written whole: node and edge counts", (expected["nodes"], expected["edges"]),
              (counts["nodes"], counts["edges"]), ("synth.counts", "Neo4j"))

    def with_sql(api: Callable, query: str, method: str) -> dict[str, Callable]:
        systems = {"Neo4j (latteprov API)": lambda u: api(store, u),
                   "Neo4j (one Cypher query)": lambda u: query_set(store, query, u)}
        for db in sql:
            systems[db.name] = getattr(db, method)
        return systems

    correlator = "Baryon3pt" if synth.tier_shape(tier).tseps else "Baryon2pt"
    questions = _sample(store, correlator, n, rng)
    regex = files.lineage_3pt if correlator == "Baryon3pt" else None
    _latencies(res, "lineage of a correlator", questions, with_sql(ask_lineage, "bench_ancestors", "ancestors"),
               regex, lambda uids: existing_files(store, uids), timing)
    configs = _sample(store, "GaugeConfig", n, rng, unflowed=True)
    _latencies(res, "downstream of a configuration", configs,
               with_sql(ask_downstream, "bench_descendants", "descendants"), files.downstream_config,
               lambda uids: existing_files(store, uids), timing)

    reference = status.status(store)
    for db in sql:
        res.agree(f"status aggregation: {db.name}", _status_key(reference), _status_key(db.status()),
                  ("Neo4j", db.name))
    per_ensemble = {r["ensemble"]: r["files"] for r in store.read("bench_existing_files_per_ensemble")}
    res.agree("status aggregation: regex file counts per ensemble", per_ensemble, files.status(),
              ("Neo4j", "regex"))
    if timing:
        neo = [timed(lambda: status.status(store))[0] for _ in range(WARM_UP + 5)][WARM_UP:]
        for db in sql:
            res.add("status aggregation", "Neo4j (latteprov API)", 1000 * statistics.median(neo), "ms", db.name,
                    1000 * statistics.median(timed(db.status)[0] for _ in range(5)), note="median of 5")
        if not sql:
            res.add("status aggregation", "Neo4j (latteprov API)", 1000 * statistics.median(neo), "ms",
                    note="median of 5")

    e = synth.ensembles(1)[0]
    action = graph.entity("MobiusDW", quark_mass=e.mq, M5=e.M5, L5=e.L5, alpha5=e.alpha5,
                          b5=(e.alpha5 + 1) / 2, c5=(e.alpha5 - 1) / 2)["uid"]
    impact = invalidate.impact(store, action)
    subtree = set(impact["uids"])
    regex_seconds, regex_files = timed(lambda: files.action_files(e.M5, e.L5, e.alpha5, e.mq))
    res.agree("invalidate a fermion action: files a listing would chase", existing_files(store, subtree),
              regex_files, ("Neo4j", "regex"))
    seconds, done = timed(lambda: invalidate.invalidate(store, action, "benchmark: solver bug", "benchmark"))
    res.agree("invalidate a fermion action: entities marked", len(subtree), done["changed"], ("impact", "invalidate"))
    res.facts["invalidated entities"] = len(subtree)
    for db in sql:
        db_seconds, changed = timed(lambda: db.invalidate(action))
        res.agree(f"invalidate a fermion action: {db.name}", len(subtree), changed, ("Neo4j", db.name))
        if timing:
            res.add("invalidate a fermion action", "Neo4j (latteprov API)", seconds, "s", db.name, db_seconds,
                    note=f"{len(subtree):,} entities")
    if timing:
        res.add("invalidate a fermion action", "Neo4j (latteprov API)", seconds, "s",
                "regex over file names (finding the files only)", regex_seconds)
    after = status.status(store)
    for db in sql:
        res.agree(f"status after invalidation: {db.name}", _status_key(after), _status_key(db.status()),
                  ("Neo4j", db.name))
    return res


def _status_key(rows: list[dict]) -> dict:
    return {(r["ensemble"], r["kind"]): tuple(r[c] for c in status.COLUMNS[2:]) for r in rows}


# -- the loads -------------------------------------------------------------------------------
def naive_neomodel(store: Store, batches: list[graph.GraphBatch]) -> int:
    """The naive way: ``save()`` per node and ``connect()`` per edge through neomodel; rows written.
    (neomodel's own methods, called past latteprov's guards, which route saves through the
    checked write path and refuse connects.)"""
    from neomodel import StructuredNode, ZeroOrMore

    def save(node: object) -> object:
        return StructuredNode.save(node)

    def connect(manager: object, other: object, props: dict | None = None) -> None:
        ZeroOrMore.connect(manager, other, props)

    store.bind_neomodel()
    nodes: dict[str, object] = {}
    for batch in batches:
        for row in batch.entities:
            node = model.kind_class(row["props"]["kind"])(**row["props"], state=row["state"] or "done")
            nodes[row["uid"]] = save(node)
        for row in batch.runs:
            props = {**row["props"], **row["mutable"], "params": json.loads(row["props"]["params"])}
            nodes[row["uid"]] = save(model.Run(**props))
        for row in batch.files:
            nodes[row["uid"]] = save(model.DataFile(**{**row["props"], **row["mutable"]}))
        for e in batch.edges:
            a, b = nodes[e["from"]], nodes[e["to"]]
            if e["type"] == "DERIVED_FROM":
                connect(a.derived_from, b, {"role": e["role"]})
            elif e["type"] == "GENERATED_BY":
                connect(a.generated_by, b)
            elif e["type"] == "USED":
                connect(a.used, b)
            else:
                connect(a.stored_at, b)
    return len(nodes) + sum(len(b.edges) for b in batches)


def _cli(*args: str, env: dict[str, str]) -> tuple[float, int, float]:
    """Run ``latteprov ARGS`` as a child process; (seconds, peak RSS in bytes, CPU seconds)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # wait4 (not Popen.wait) gives this child's own peak RSS, whatever other children did.
        proc = subprocess.Popen([sys.executable, "-c", "from latteprov.cli import main; main()", *args],
                                env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, wait_status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(wait_status)
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"latteprov {' '.join(args)} failed: {err.read().decode(errors='replace').strip()[-400:]}")
    return seconds, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def _cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, idle: float = 0.05, quiet: int = 3, limit: float = 300.0) -> float:
    """Wait until process ``pid`` has used less than ``idle`` CPU seconds per second for
    ``quiet`` seconds in a row (Neo4j after a load: checkpointing, index updates, garbage
    collection; Community has no procedure to force a checkpoint), at most ``limit`` seconds.
    Returns the seconds waited."""
    start = time.monotonic()
    calm, before = 0, _cpu_seconds(pid)
    while calm < quiet and time.monotonic() - start < limit:
        time.sleep(1.0)
        now = _cpu_seconds(pid)
        calm = calm + 1 if now - before < idle else 0
        before = now
    return time.monotonic() - start


@contextmanager
def neo4j_server(heap: str = "2g", page_cache: str = "4g") -> Iterator[tuple[Store, Path]]:
    """A throwaway local Neo4j (temp home, free port, no auth): a store on it and its home. The
    page cache holds a whole tier-L or tier-M store (2.2 / 2.9 GB), as Neo4j's sizing advice
    asks (docs/scaling.md); PostgreSQL reads through the OS cache of the same 24 GiB machine."""
    home = Path(tempfile.mkdtemp(prefix="latteprov-bench-"))
    try:
        info, _ = manager.start(home, load_settings().cache_dir, port=manager.free_port(), auth=False,
                                heap=heap, page_cache=page_cache)
        settings = load_settings({"NEO4J_URI": info.uri, "LATTEPROV_DATA_DIR": str(home / "data"),
                                  "LATTEPROV_CONFIG": str(home / "none.toml")})
        with Store(settings) as store:
            schema.install(store)
            yield store, home
    finally:
        manager.stop(home)
        shutil.rmtree(home, ignore_errors=True)


def run(tier: str, seed: int = 0, say: Callable[[str], None] = print, baselines: bool = True) -> Results:
    """The whole suite on ``tier``: its own Neo4j and PostgreSQL, every figure and every check.
    Without ``baselines`` the relational databases are neither loaded nor asked (tier XL: their
    load alone would take ~30 min); the file-name listing and the naive load still are."""
    tier = tier.upper()
    res = Results(tier, seed)
    res.facts["relational baselines"] = baselines
    expected = synth.counts(tier)
    res.facts.update(expected=expected, neo4j=manager.NEO4J_VERSION, machine=_machine())
    with ExitStack() as stack:
        # Tier XL's store (~20 GB) cannot fit the 4 GB page cache: give it half the machine.
        store, home = stack.enter_context(neo4j_server(page_cache="12g" if tier == "XL" else "4g"))
        env = {**os.environ, "NEO4J_URI": store.settings.uri, "LATTEPROV_CONFIG": "/nonexistent.toml"}
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="latteprov-bench-")))

        say("round trip")
        for _ in range(50):
            store.read("bench_round_trip")
        floor = pct([timed(lambda: store.read("bench_round_trip"))[0] for _ in range(1000)], 0.5)
        res.add("round trip (RETURN 1) p50", "Neo4j", floor, "ms")

        say("naive neomodel sample")
        sample, rows = [], 0
        for batch in synth.campaign(tier, seed):
            sample.append(batch)
            rows += len(batch)
            if rows >= 1000:
                break
        naive_seconds, naive_rows = timed(lambda: naive_neomodel(store, sample))
        naive_rate = naive_rows / naive_seconds
        store.clear()

        names_file = work / "names.txt"
        count = 0
        with names_file.open("w") as out:
            for name in synth.names(tier, seed):
                out.write(name + "\n")
                count += 1
        res.facts["file names"] = count
        # The first NAMES_SAMPLE names (whole configurations, in campaign order): enough for
        # a steady rate, affordable on a shared machine.
        head = work / "names-head.txt"
        with names_file.open() as src, head.open("w") as out:
            taken = sum(1 for _, line in zip(range(NAMES_SAMPLE), src) if out.write(line))
        say(f"ingest names ({taken:,} of {count:,} names)")
        ensemble_map = work / "ensembles.txt"  # the group's table of short and MILC long tags
        ensemble_map.write_text("".join(f"{e.tag} {e.long_tag}\n"
                                        for e in synth.ensembles(synth.tier_shape(tier).ensembles)))
        seconds, rss, cpu = _cli("ingest", "names", "--from-list", str(head), "--ensemble-map",
                                 str(ensemble_map), env=env)
        rate = taken / seconds
        note = (f"first {taken:,} of {count:,} names in {seconds:.1f} s ({cpu:.0f} s client CPU), "
                f"peak RSS {rss / 2**20:.0f} MB")
        conninfo = None
        if baselines:  # the same names through a short regex script into SQLite and PostgreSQL (COPY)
            head_names = head.read_text().splitlines()
            long_to_short = {e.long_tag: e.tag for e in synth.ensembles(synth.tier_shape(tier).ensembles)}
            lite = names_sql.sqlite_rate(head_names, long_to_short, work / "names.sqlite")
            conninfo = stack.enter_context(relational.postgres_cluster())
            copy = names_sql.postgres_copy_rate(head_names, long_to_short, conninfo)
            res.facts["names baselines"] = {"SQLite script": lite, "PostgreSQL COPY": copy}
            res.add("ingest names", "latteprov ingest names", rate, "names/s", "SQLite script (regex, load, link)",
                    lite["names_per_s"], note=note)
            res.add("ingest names vs COPY", "latteprov ingest names", rate, "names/s",
                    "PostgreSQL COPY (same script)", copy["names_per_s"], note="same names, same run")
        else:
            res.add("ingest names", "latteprov ingest names", rate, "names/s", note=note)
        store.clear()

        say(f"bulk ingest ({expected['nodes']:,} nodes, {expected['edges']:,} edges)")
        server_pid = manager.running(home).pid
        server_cpu = _cpu_seconds(server_pid)
        seconds, rss, client_cpu = _cli("synth", "--tier", tier, "--seed", str(seed), "--write", env=env)
        server_cpu = _cpu_seconds(server_pid) - server_cpu
        rows = expected["nodes"] + expected["edges"]
        # On a shared machine wall time measures the neighbours too; CPU time is ours alone.
        res.facts["bulk ingest CPU seconds"] = {"client": round(client_cpu, 1), "server": round(server_cpu, 1),
                                                "wall": round(seconds, 1)}
        res.add("bulk ingest per CPU second", "client + server CPU", rows / (client_cpu + server_cpu), "rows/CPU-s",
                note=f"client {client_cpu:.0f} s, Neo4j {server_cpu:.0f} s of CPU for {rows:,} rows")
        res.add("bulk ingest", "latteprov synth --write (graph.write)", rows / seconds, "rows/s",
                "naive neomodel save()/connect()", naive_rate,
                note=f"{rows:,} nodes+edges in {seconds:.1f} s; naive: {naive_rows:,} rows in {naive_seconds:.1f} s")
        res.add("CLI peak memory, bulk ingest", "latteprov synth --write", rss / 2**20, "MB")
        res.facts["store MB"] = round(sum(f.stat().st_size for f in home.rglob("*") if f.is_file()) / 2**20)

        sql: list[relational.Relational] = []
        if baselines:
            say("relational baselines: SQLite and PostgreSQL")
            sql.append(stack.enter_context(relational.sqlite(work / "campaign.sqlite")))
            conninfo = conninfo or stack.enter_context(relational.postgres_cluster())
            sql.append(stack.enter_context(relational.postgres(conninfo)))
            seconds, _ = timed(lambda: relational.load(sql, synth.campaign(tier, seed)))
            res.facts["relational load seconds"] = round(seconds, 1)
        # Every system starts the questions settled (relational.load settles its databases):
        # no work of the load still running in the background while the questions are timed.
        res.facts["Neo4j settling seconds"] = round(wait_idle(server_pid), 1)

        files = FileList(names_file.read_text().splitlines(),
                         {e.tag: e.long_tag for e in synth.ensembles(synth.tier_shape(tier).ensembles)})
        say("questions")
        agreement(store, tier, seed, sql, files, timing=True, res=res)
        for fig in res.figures:
            if fig.unit == "ms" and fig.system.startswith("Neo4j") and fig.value and "round trip" not in fig.figure:
                fig.note = (fig.note + "; " if fig.note else "") + f"{fig.value / floor:.1f}x round trip"
    return res


def _machine() -> str:
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) // 2**20
    return f"{os.cpu_count()} cores, {mem + 1} GiB"

