"""``latteprov tasks write`` and ``tasks scan``: METAQ task files read back by a parser that
follows METAQ's README (evanberkowitz/metaq), products queued once and only once, a task that
runs records its outcome, and a METAQ tree built here read back."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from latteprov import campaign, frontier, metaq, plan, status
from planning_data import ready_uids, record_outcome, record_step, step_products, write_campaign

FLAG = re.compile(r"^#METAQ\s+(\S+)\s+(\S+)\s*$")


def seconds(value: str) -> int:
    """METAQ's x/seconds: ``[[HH:]MM:]SS``, ``Nhr``, ``Nmin`` (the README's MIN_WC_TIME forms)."""
    if value.endswith("hr"):
        return 3600 * int(value[:-2])
    if value.endswith("min"):
        return 60 * int(value[:-3])
    total = 0
    for part in value.split(":"):
        total = 60 * total + int(part)
    return total


def parse_task(text: str) -> dict[str, str]:
    """A task's flags as METAQ reads them (README, "METAQ flags"): each on its own line as
    ``#METAQ FLAG VALUE``, capitalised, no whitespace inside a flag or a value, the first
    occurrence winning. A #METAQ line of another shape is an error here (METAQ would misread it)."""
    flags: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#METAQ"):
            assert "#METAQ" not in line, f"a #METAQ mention METAQ's grep would pick up: {line!r}"
            continue
        found = FLAG.match(line)
        assert found, f"not a METAQ flag line: {line!r}"
        flag, value = found.groups()
        assert flag == flag.upper(), f"flags are capitalised: {flag}"
        flags.setdefault(flag, value)
    return flags


def test_the_parser_follows_the_readme() -> None:
    text = "#!/bin/bash\n#METAQ GPUS 2\n#METAQ NODES 2\n#METAQ MIN_WC_TIME 5:00\n#METAQ NODES 7\n#METAQ PROJECT metaq.example.1\n"
    assert parse_task(text) == {"GPUS": "2", "NODES": "2", "MIN_WC_TIME": "5:00", "PROJECT": "metaq.example.1"}
    assert [seconds(v) for v in ("45", "5:00", "1:30:00", "2hr", "30min")] == [45, 300, 5400, 7200, 1800]
    with pytest.raises(AssertionError):
        parse_task("#METAQ nodes 2\n")


@pytest.fixture
def ready_sources(store, tmp_path):
    """The campaign planned, its flows done: four sources ready. Returns the METAQ directory."""
    plan.plan(store, campaign.load(write_campaign(tmp_path)))
    record_step(store, "flow")
    root = tmp_path / "metaq"
    root.mkdir()
    return root


def tasks_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.sh"))


def test_written_tasks_carry_flags_commands_and_a_record_step(cli, store, ready_sources) -> None:
    result = cli("tasks", "write", "--metaq", ready_sources, "--format", "json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    files = tasks_in(ready_sources / "todo")
    sources = {p["uid"]: p["name"] for p in step_products(store, "source")}
    assert [Path(t["path"]) for t in answer["tasks"]] == files and len(files) == 4
    for path in files:
        text = path.read_text()
        assert text.startswith("#!/bin/bash\n") and os.access(path, os.X_OK)  # METAQ runs the task itself
        assert parse_task(text) == {"NODES": "1", "GPUS": "4", "MIN_WC_TIME": "10min", "PROJECT": "src_a09m310"}
        (uid,) = metaq.read_products(path)
        name = sources[uid]
        assert path.name == f"{name}.sh"
        assert re.search(rf"^run-step source {name} \d+ \d+ \d+ \d+$", text, re.M)
        assert "\nlatteprov record - <<LATTEPROV_MANIFEST\n" in text and text.index("run-step") < text.index("record -")
    assert {r["state"] for r in store.read("entity_states", uids=list(sources))} == {"queued"}
    (group,) = frontier.ready(store)["groups"]
    assert (group["step"], group["ready"], group["queued"]) == ("source", 0, 4)


def test_scheduler_lines_and_time_forms_of_other_steps(store, ready_sources) -> None:
    record_step(store, "source")
    metaq.write_tasks(store, ready_sources, step="prop", limit=1)
    (path,) = tasks_in(ready_sources / "todo")
    text = path.read_text()
    assert parse_task(text) == {"NODES": "4", "GPUS": "16", "MIN_WC_TIME": "1:30:00", "PROJECT": "prop_a09m310"}
    assert seconds(parse_task(text)["MIN_WC_TIME"]) == 5400
    assert "\n#SBATCH -N 4\n#SBATCH -t 01:30:00\n" in text


def test_a_product_is_never_written_twice(cli, store, ready_sources) -> None:
    first = metaq.write_tasks(store, ready_sources, limit=3)
    second = metaq.write_tasks(store, ready_sources)
    third = cli("tasks", "write", "--metaq", ready_sources)
    assert (first["products"], second["products"]) == (3, 1)
    assert third.exit_code == 0 and "nothing ready" in third.stdout
    uids = [u for p in tasks_in(ready_sources) for u in metaq.read_products(p)]
    assert len(uids) == len(set(uids)) == 4


def test_two_writers_at_once_split_the_frontier(store, ready_sources) -> None:
    results, errors = [], []

    def write() -> None:
        try:
            results.append(metaq.write_tasks(store, ready_sources))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r["products"] for r in results) == [0, 0, 4]
    uids = [u for p in tasks_in(ready_sources) for u in metaq.read_products(p)]
    assert len(uids) == len(set(uids)) == 4


def test_priority_limit_and_bundles(cli, store, ready_sources) -> None:
    one = cli("tasks", "write", "--metaq", ready_sources, "--limit", "1", "--priority")
    assert one.exit_code == 0 and len(tasks_in(ready_sources / "priority")) == 1 and not (ready_sources / "todo").exists()
    record_step(store, "source")
    record_step(store, "prop")
    metaq.write_tasks(store, ready_sources, step="spec")  # bundle = 2: two spectra a task
    bundles = tasks_in(ready_sources / "todo")
    assert len(bundles) == 2 and all(len(metaq.read_products(p)) == 2 for p in bundles)
    assert all(len(re.findall(r"^run-step spec ", p.read_text(), re.M)) == 2 for p in bundles)
    assert parse_task(bundles[0].read_text())["MIN_WC_TIME"] == "2hr"


def run_task(path: Path, env: dict, fail: bool = False) -> subprocess.CompletedProcess:
    """Run a task file as METAQ would (bash executes it), with a fake ``run-step`` on PATH."""
    bin_dir = path.parent.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "run-step"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {bin_dir}/calls\nexit {1 if fail else 0}\n")
    fake.chmod(0o755)
    latteprov = shutil.which("latteprov")
    assert latteprov, "the latteprov command is on PATH"
    full = {**os.environ, **env, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "4711"}
    return subprocess.run(["bash", str(path)], env=full, capture_output=True, text=True, timeout=120)


def test_a_task_that_runs_records_its_outcome(store, env, ready_sources) -> None:
    metaq.write_tasks(store, ready_sources, limit=2)
    good, bad = tasks_in(ready_sources / "todo")
    ok = run_task(good, env)
    assert ok.returncode == 0, ok.stderr
    failed = run_task(bad, env, fail=True)
    assert failed.returncode == 1
    states = {r["name"]: r["state"] for r in store.read("entity_states", uids=[
        *metaq.read_products(good), *metaq.read_products(bad)])}
    assert states == {good.name[:-3]: "done", bad.name[:-3]: "failed"}
    (run,) = store.run_text("MATCH (p:Source {state: 'done'})-[:GENERATED_BY]->(r:Run) RETURN r.job_id AS job, "
                            "r.run_kind AS kind, r.exit_state AS state, r.started_at IS NOT NULL AS started")
    assert run == {"job": "4711", "kind": "source", "state": "done", "started": True}
    assert store.run_text("MATCH (r:Run {run_kind: 'source'})-[:USED]->(g:GaugeConfig) RETURN count(*) AS n")[0]["n"] == 2
    # the failed source is ready again, the done one is not
    assert metaq.read_products(bad)[0] in ready_uids(store) and metaq.read_products(good)[0] not in ready_uids(store)


@pytest.mark.parametrize("layout, message", [
    ("missing", "does not exist"),
    ("file", "is not a directory"),
    ("todo_is_a_file", "todo/ is not a writable directory"),
])
def test_a_bad_metaq_directory_is_one_line_and_nothing_is_written(cli, store, ready_sources, layout, message) -> None:
    target = ready_sources
    if layout == "missing":
        target = ready_sources / "nope"
    elif layout == "file":
        target = ready_sources / "plain"
        target.write_text("")
    else:
        (ready_sources / "todo").write_text("")
    before = store.run_text("MATCH (n:Entity) RETURN n.uid AS uid, n.state AS state ORDER BY uid")
    result = cli("tasks", "write", "--metaq", target)
    assert result.exit_code != 0 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: METAQ directory ")
    assert message in result.stderr
    assert store.run_text("MATCH (n:Entity) RETURN n.uid AS uid, n.state AS state ORDER BY uid") == before
    assert store.run_text("MATCH (t:Task) RETURN count(t) AS n")[0]["n"] == 0


def test_an_unwritable_directory_found_while_writing_leaves_nothing_queued(store, ready_sources, monkeypatch) -> None:
    """The staging folder cannot be made (a read-only file system, say, where even root cannot
    write): nothing is claimed."""
    def refuse(*args, **kwargs):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(metaq.tempfile, "mkdtemp", refuse)
    with pytest.raises(metaq.InputError, match="cannot write the tasks: Read-only file system"):
        metaq.write_tasks(store, ready_sources)
    assert {r["state"] for r in store.read("entity_states", uids=[p["uid"] for p in step_products(store, "source")])} == {"planned"}


def test_scan_reads_a_metaq_tree_back(cli, store, ready_sources) -> None:
    metaq.write_tasks(store, ready_sources)
    todo = tasks_in(ready_sources / "todo")
    assert len(todo) == 4
    moves = {"working/J1": todo[0], "working/J2": todo[1], "finished": todo[2]}
    for folder, path in moves.items():
        (ready_sources / folder).mkdir(parents=True, exist_ok=True)
        path.rename(ready_sources / folder / path.name)
    todo[3].unlink()  # deleted by hand
    (ready_sources / "hold").mkdir()
    result = cli("tasks", "scan", "--metaq", ready_sources, "--running-jobs", "J1", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    name = {p: p.name[:-3] for p in todo}
    assert report["folders"] == {"todo": 0, "priority": 0, "hold": 0, "working": 2, "finished": 1}
    assert report["running"] == 1
    assert report["abandoned"] == [{"task": todo[1].name, "job": "J2", "products": [name[todo[1]]]}]
    assert report["unrecorded"] == [{"task": todo[2].name, "products": [name[todo[2]]]}]
    assert report["replanned"] == [name[todo[3]]]
    states = {r["name"]: r["state"] for r in store.read("entity_states", uids=[p["uid"] for p in step_products(store, "source")])}
    assert states == {name[todo[0]]: "running", name[todo[1]]: "queued", name[todo[2]]: "queued", name[todo[3]]: "planned"}
    # the finished task's outcome gets recorded; the deleted one is ready again and written anew
    record_outcome(store, metaq.read_products(ready_sources / "finished" / todo[2].name))
    again = json.loads(cli("tasks", "scan", "--metaq", ready_sources, "--running-jobs", "J1", "--format", "json").stdout)
    assert again["unrecorded"] == [] and again["replanned"] == [] and again["running"] == 0
    rewritten = metaq.write_tasks(store, ready_sources, step="source")
    assert [t["task"] for t in rewritten["tasks"]] == [todo[3].name]


def test_scan_without_job_states_calls_nothing_abandoned(cli, store, ready_sources) -> None:
    metaq.write_tasks(store, ready_sources, limit=1)
    (path,) = tasks_in(ready_sources / "todo")
    (ready_sources / "working" / "77").mkdir(parents=True)
    path.rename(ready_sources / "working" / "77" / path.name)
    result = cli("tasks", "scan", "--metaq", ready_sources)
    assert result.exit_code == 0
    assert "job states unknown" in result.stdout and "abandoned:" not in result.stdout
    listed = cli("tasks", "scan", "--metaq", ready_sources, "--jobs-command", "echo 12", "--format", "json")
    assert json.loads(listed.stdout)["abandoned"][0]["job"] == "77"
    missing = cli("tasks", "scan", "--metaq", ready_sources / "nope")
    assert missing.exit_code != 0 and missing.stderr.startswith("Error: METAQ directory ")


def test_tasks_that_cannot_be_put_in_place_after_the_commit_are_unclaimed(store, ready_sources, monkeypatch) -> None:
    """The claim committed, then the move into todo/ fails (a full disk, say): the products
    are ready again, no Task node and no file is left."""
    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(metaq.os, "replace", refuse)
    with pytest.raises(metaq.InputError, match="cannot write the tasks: No space left on device"):
        metaq.write_tasks(store, ready_sources)
    monkeypatch.undo()
    assert frontier.ready(store)["total"] == 4
    assert store.run_text("MATCH (t:Task) RETURN count(t) AS n")[0]["n"] == 0
    assert tasks_in(ready_sources) == []
    assert sum(r["queued"] for r in status.status(store)) == 0
