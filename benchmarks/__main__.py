"""``python -m benchmarks --tier M``: run the suite, print the table, write the JSON."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks import suite
from latteprov import synth

RESULTS = Path(__file__).parent / "results"


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3f}"
    return f"{text} {unit}".strip()


def table(res: suite.Results) -> Table:
    """The results as a rich table: figure, latteprov, baseline, ratio (how many times better)."""
    t = Table(title=f"latteprov benchmarks, tier {res.tier} (seed {res.seed})")
    for col in ("figure", "latteprov", "value", "baseline", "baseline value", "x better", "target", "note"):
        t.add_column(col, overflow="fold")
    for f in res.figures:
        target = next((v for k, v in suite.TARGETS.items() if f.figure.startswith(k)), "")
        ratio = f.ratio
        t.add_row(f.figure, f.system, _num(f.value, f.unit), f.baseline, _num(f.baseline_value, f.unit),
                  "" if ratio is None else f"{ratio:,.1f}", target, f.note)
    return t


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--tier", default="M", help="S, M, L, XL, or NAME/k for the first 1/k of its configurations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/tier-<T>-<time>.json)")
    parser.add_argument("--no-sql", dest="baselines", action="store_false",
                        help="skip the SQLite and PostgreSQL baselines (their load takes ~30 min at tier XL)")
    args = parser.parse_args()
    synth.tier_shape(args.tier)
    console = Console(width=None if sys.stdout.isatty() else 220)
    started = time.time()
    res = suite.run(args.tier, args.seed, say=lambda msg: console.log(msg), baselines=args.baselines)
    res.facts["seconds"] = round(time.time() - started, 1)
    res.facts["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    console.print(table(res))
    console.print(f"{len(res.checks)} agreement checks passed: " + "; ".join(res.checks))
    out = args.out or RESULTS / f"tier-{res.tier.replace('/', 'of')}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(started))}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res.to_json(), indent=2, default=str))
    console.print(f"written {out}")


if __name__ == "__main__":
    main()
