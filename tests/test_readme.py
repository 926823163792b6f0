"""README's "A taste" works right after the main command and leaves the demo's data as it was:
every command of that block, in order, as a user runs it, against the demo's data."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from latteprov import status
from latteprov.cli import demo

README = Path(__file__).resolve().parent.parent / "README.md"


def taste_commands() -> list[list[str]]:
    """The commands of the fenced block under '## A taste', comments cut off."""
    section = README.read_text(encoding="utf-8").split("## A taste", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line.split("  #", 1)[0]) for line in block.splitlines() if line.strip()]


def counts(store) -> tuple[list[dict], int, int]:
    nodes = store.run_text("MATCH (n) WHERE NOT n:Lock AND NOT n:Tally RETURN count(n) AS n")[0]["n"]
    edges = store.run_text("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
    return status.status(store), nodes, edges


def test_every_taste_command_runs_and_leaves_the_demo_data_as_it_was(store, env, tmp_path) -> None:
    demo.load_campaign(store)
    demo.load_real_file(store)
    before = counts(store)
    commands = taste_commands()
    assert len(commands) >= 6 and all(c[0] == "latteprov" for c in commands)
    for argv in commands:
        done = subprocess.run([sys.executable, "-c", "from latteprov.cli import main; main()", *argv[1:]],
                              cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (argv, done.stdout[-500:], done.stderr[-500:])
        assert "Traceback" not in done.stderr
        assert counts(store) == before, argv
    assert (tmp_path / "files.txt").read_text().count("\n") > 100  # the synth line wrote its names
