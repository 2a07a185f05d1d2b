"""The quantile rows of the calibration grid at scale (docs/statistics.md, section 14): the relative p99
guard (`max_increase: 10%`, candidate exactly 10% slower) and the absolute p99 guard (`max:` the
candidate's true p99) on the same data, 1 to 50 requests per unit, within-unit correlation 0 to 0.64,
50/50 and 5% candidates (tests/stats/quantile_grid.py; the suite runs one row,
tests/stats/test_stats_quantile_calibration.py).

    python benchmarks/bench_calibration_quantile.py [--runs 300] [--looks 200] [--rows 0,3]
        [--kinds absolute,relative] [--out FILE]

Two columns per guard, as benchmarks/bench_calibration.py: tuned at the default 5,000 units, and at a
quarter of the stage (a plan that declares its traffic and a min_duration of max_duration / 4).
Writes benchmarks/results/calibration_quantile.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stats"))

from quantile_grid import ALPHA, KINDS, QUANTILE_GRID, wrong_verdicts


def cell(rate: float, runs: int) -> str:
    """A share with its standard error (binomial, from the share itself), or a dash when not judged."""
    return "—" if math.isnan(rate) else f"{rate:.2%} ± {math.sqrt(rate * (1 - rate) / runs):.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--looks", type=int, default=200)
    parser.add_argument("--rows", type=str, default="", help="indices into the grid, comma-separated (default: all)")
    parser.add_argument("--kinds", type=str, default=",".join(KINDS), help="the guards to judge (default: both)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "calibration_quantile.md")
    args = parser.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if not kinds or set(kinds) - set(KINDS):
        parser.error(f"--kinds takes {','.join(KINDS)} or one of them")
    started = time.perf_counter()
    chosen = [int(i) for i in args.rows.split(",")] if args.rows else list(range(len(QUANTILE_GRID)))
    rows = []
    for index in chosen:
        regime = QUANTILE_GRID[index]
        default = wrong_verdicts(regime, args.runs, args.looks, seed=700 + index, kinds=kinds)
        declared = wrong_verdicts(regime, args.runs, args.looks, seed=700 + index, declared=True, kinds=kinds)  # same data
        rows.append((regime.name, default, declared))
        print(f"{regime.name}: {default} / {declared}", flush=True)
    elapsed = time.perf_counter() - started
    se = math.sqrt(ALPHA * (1 - ALPHA) / args.runs)
    lines = [
        "# Calibration of the quantile guards at the limit",
        "",
        (f"`python benchmarks/bench_calibration_quantile.py --runs {args.runs} --looks {args.looks}"
         f"{' --rows ' + args.rows if args.rows else ''}"
         f"{' --kinds ' + args.kinds if kinds != KINDS else ''}` ({elapsed:.0f} s on a 2-core machine shared with "
         "other work). Seeds fixed. Each row: the real guard functions at every look, the truth exactly at the "
         "limit, alpha spent within the stage (its units over all looks, declared); tuned at the default 5,000 "
         "units and (same data) at a quarter of the stage; goal: wrong verdicts within 2.5%–5%. One standard "
         f"error of 5%: {se:.1%}; each cell: its share ± its own standard error; — : not judged in this run."),
        "",
        "| regime | relative p99 `max_increase: 10%`, default | declared | absolute p99 `max`, default | declared |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {name} | {cell(d.relative, args.runs)} | {cell(t.relative, args.runs)} | {cell(d.absolute, args.runs)} "
              f"| {cell(t.absolute, args.runs)} |"
              for name, d, t in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
