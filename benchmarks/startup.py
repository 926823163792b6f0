"""CLI start-up: ``latteprov --version`` and ``latteprov lineage NAME`` end to end, against the
bare interpreter start measured in the same run.

``python -m benchmarks.startup [--repeat 10]``: loads the demo's data (tier-S campaign and the
a15m310 file) into an empty server (``NEO4J_URI``, else a throwaway one), then times each
command as a fresh process (the installed ``latteprov`` script, no shell, no pyenv shim), the
median of ``--repeat`` runs after one warm-up. Targets (issue "a fast start"): ``--version``
<= 0.25 s, ``lineage`` <= 0.6 s on this 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.server import empty_store
from latteprov import synth
from latteprov.cli.demo import TIER, load_real_file

PROPAGATOR = "prop_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x21y9z5t13"


def script() -> str:
    """The ``latteprov`` console script next to this interpreter (not a shell shim)."""
    beside = Path(sys.executable).with_name("latteprov")
    return str(beside) if beside.exists() else shutil.which("latteprov") or "latteprov"


def median_s(argv: list[str], repeat: int) -> float:
    """Median wall time of ``argv`` as a fresh process, after one warm-up run."""
    subprocess.run(argv, check=True, capture_output=True)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with empty_store() as store:
        synth.write(store, TIER)
        load_real_file(store)
        env_uri = os.environ["NEO4J_URI"]
        cli = script()
        bare = median_s([sys.executable, "-c", "pass"], args.repeat)
        version = median_s([cli, "--version"], args.repeat)
        lineage = median_s([cli, "lineage", PROPAGATOR], args.repeat)
    print(f"server {env_uri}, median of {args.repeat}")
    print(f"python -c pass          {bare:6.3f} s")
    print(f"latteprov --version     {version:6.3f} s  ({version / bare:.1f}x the bare interpreter; target <= 0.25 s)")
    print(f"latteprov lineage NAME  {lineage:6.3f} s  ({lineage / bare:.1f}x the bare interpreter; target <= 0.6 s)")


if __name__ == "__main__":
    main()
