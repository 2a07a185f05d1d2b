"""Units to catch a harm of twice the limit, and wrong verdicts at the limit, for the guards and
the well-known alternatives on the same simulated data (docs/statistics.md, section 2).

    python benchmarks/bench_speed.py [--runs 2000] [--looks 200]

Setting of bench_statistics.py (b): conversion 10%, `max_drop: 2%`, 95%, looks of 5,000 units per
arm, 200 looks (a horizon of 2,000,000 units). Rows: the guard as it was (tuned at the
default 5,000 only), with default settings (a normal mixture tuned at 5,000 and the point
alternative of a harm of twice the limit, no traffic declared), and when the plan declares its
traffic (tuned at the units of a min_duration of a quarter of max_duration, the same point
alternative, the horizon known), a fixed-horizon
test at its 80%-power sample size, O'Brien-Fleming and Pocock group-sequential boundaries over
the same 200 looks, and GrowthBook's confidence sequence. Writes
benchmarks/results/statistics_speed.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "stats"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sequential_designs import fixed_horizon, group_sequential, growthbook
from stats_simulation import cumulative_events, sequential_relative

from rollout_cli.stats import fixed_horizon_units
from rollout_cli.stats.outcome import Outcome

ALPHA, BASELINE, MAX_DROP, UNITS = 0.05, 0.10, 0.02, 5000


def guard(base: np.ndarray, cand: np.ndarray, horizon: float | None,
          tuning: float = 5000.0, at_limit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    verdicts = sequential_relative(base, cand, UNITS, max_drop=MAX_DROP, alpha=ALPHA, tuning_n=tuning,
                                   horizon_n=horizon, tune_at_limit=at_limit)
    code = {Outcome.PASS: 1, Outcome.FAIL: -1, None: 0}
    return np.array([code[o] for o in verdicts.outcomes]), verdicts.looks


def median_units(outcome: np.ndarray, look: np.ndarray, wanted: int) -> float:
    units = np.where(outcome == wanted, 2.0 * UNITS * (look + 1), math.inf)
    return float(np.median(units))


CANARY_LOOKS, CANARY_UNITS = 40, 250


def canary_rows(runs: int) -> list[tuple[str, float, float, float]]:
    """A short stage and a harm of 8x the limit: the share caught within its first half, by its end,
    and the median units to catch (both arms), with and without the limit's tuning size."""
    rng = np.random.default_rng(2032)
    base = cumulative_events(rng, runs, CANARY_LOOKS, CANARY_UNITS, BASELINE)
    harm = cumulative_events(rng, runs, CANARY_LOOKS, CANARY_UNITS, BASELINE * (1 - 8 * MAX_DROP))
    rows = []
    for name, at_limit in (("earlier: tuned at 5,000 only", False),
                           ("the guard: 5,000 and the point alternative", True)):
        verdicts = sequential_relative(base, harm, CANARY_UNITS, max_drop=MAX_DROP, alpha=ALPHA, tuning_n=5000.0,
                                       tune_at_limit=at_limit)
        fail = np.array([o is Outcome.FAIL for o in verdicts.outcomes])
        units = np.where(fail, 2.0 * CANARY_UNITS * (verdicts.looks + 1), math.inf)
        rows.append((name, float((units <= 5000).mean()), float(fail.mean()), float(np.median(units))))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--looks", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "statistics_speed.md")
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(2031)
    base = cumulative_events(rng, args.runs, args.looks, UNITS, BASELINE)
    limit = cumulative_events(rng, args.runs, args.looks, UNITS, BASELINE * (1 - MAX_DROP))
    harm = cumulative_events(rng, args.runs, args.looks, UNITS, BASELINE * (1 - 2 * MAX_DROP))
    fixed = fixed_horizon_units(BASELINE, BASELINE * (1 - BASELINE), MAX_DROP, ALPHA, 0.8)
    horizon = 2.0 * UNITS * args.looks
    designs = {
        "earlier: tuned at 5,000 only, alpha over an infinite horizon": lambda b, c: guard(b, c, math.inf,
                                                                                             at_limit=False),
        "earlier: tuned at 5,000 only, alpha spent within 3 tuning sizes": lambda b, c: guard(b, c, None,
                                                                                                at_limit=False),
        "the guard, default settings (tuned at 5,000, point alternative at the limit, no traffic declared)":
            lambda b, c: guard(b, c, None),
        ("the guard, traffic declared (tuned at min_duration 18h, point alternative at the limit, horizon "
         "max_duration 72h)"):
            lambda b, c: guard(b, c, horizon, horizon / 4),
        "fixed-horizon test, one look at its 80%-power n": lambda b, c: fixed_horizon(b, c, UNITS, MAX_DROP, ALPHA,
                                                                                       fixed),
        "group-sequential, O'Brien-Fleming (200 looks)": lambda b, c: group_sequential(b, c, UNITS, MAX_DROP, ALPHA,
                                                                                        "obrien-fleming"),
        "group-sequential, Pocock (200 looks)": lambda b, c: group_sequential(b, c, UNITS, MAX_DROP, ALPHA, "pocock"),
        "GrowthBook's sequence (ratio scale, tuned at 5,000)": lambda b, c: growthbook(b, c, UNITS, MAX_DROP, ALPHA),
    }
    rows = []
    for name, design in designs.items():
        at_limit, _ = design(base, limit)
        caught, look = design(base, harm)
        units = median_units(caught, look, -1)
        rows.append((name, float((at_limit == 1).mean()), float((at_limit == -1).mean()), float((caught == -1).mean()),
                     float((caught == 1).mean()), units))
    canary = canary_rows(args.runs)
    elapsed = time.perf_counter() - started
    se = math.sqrt(0.05 * 0.95 / args.runs)
    lines = [
        "# Units to catch a harm of twice the limit",
        "",
        (f"`python benchmarks/bench_speed.py --runs {args.runs} --looks {args.looks}` ({elapsed:.0f} s, on a "
         "2-core machine shared with other work: shares and ratios are the point, not the time). Seeds fixed."),
        "",
        (f"Conversion {BASELINE:.0%}, `max_drop: {MAX_DROP:.0%}`, 95%, {args.runs:,} rollouts per row, {args.looks} "
         f"looks of {UNITS:,} units per arm, each rollout stopped at its first verdict; the same simulated "
         f"data for every row. Fixed-horizon sample (80% power, a 4% drop against the 2% limit): "
         f"**{fixed:,} units**. One binomial standard error of a 5% share: {se:.1%}."),
        "",
        ("| design | at the limit: wrong pass | wrong fail | wrong in all | 4% drop: caught (power) "
         "| wrongly passed | median units to catch | vs fixed-horizon n |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, wp, wf, power, passed, units in rows:
        lines.append(f"| {name} | {wp:.2%} | {wf:.2%} | **{wp + wf:.2%}** | {power:.1%} | {passed:.2%} | "
                     f"{units:,.0f} | **{units / fixed:.2f}×** |")
    lines += [
        "",
        "## A short canary and a large harm",
        "",
        (f"Conversion {BASELINE:.0%}, `max_drop: {MAX_DROP:.0%}`, a harm of 8× the limit (a 16% drop), "
         f"{CANARY_LOOKS} looks of {CANARY_UNITS} units per arm (a stage of {2 * CANARY_UNITS * CANARY_LOOKS:,} "
         "units, no traffic declared); the mixture must not lose the quick catch the plan's size gives."),
        "",
        "| design | caught within the first half (5,000 units) | caught by the end | median units to catch |",
        "| --- | --- | --- | --- |",
    ]
    for name, half, caught, units in canary:
        lines.append(f"| {name} | {half:.1%} | {caught:.1%} | {units:,.0f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
