"""Small and odd samples (docs/statistics.md section 11), side by side with the naive test.

    python benchmarks/bench_odd_samples.py [--runs 1000]

Every figure is a share of simulated rollouts (200 looks, each stopping at its first verdict)
judged by the real functions of rollout_cli.stats on the very same data as the alternative,
and `rollout plan simulate`'s wall time. Writes benchmarks/results/odd_samples.md.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from rollout_cli.stats import judge_relative, mean_stats, proportion_stats
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.srm import srm_p_value
from rollout_cli.stats.srm_sequential import anytime_srm_p_value

ROOT = Path(__file__).resolve().parents[1]
JUDGE = {"alpha": 0.05, "tuning_n": 5000, "min_units": 100}
Z = 1.959963984540054


def _first(verdicts: list[Outcome | None]) -> float:
    return sum(v is not None for v in verdicts) / len(verdicts)


def rare_rates(runs: int, rng: np.random.Generator) -> tuple[float, float]:
    """0.3% errors, max_increase 10%, the candidate exactly 10% worse, 100-unit looks: wrong verdicts
    of the guard and of a naive log-ratio z-interval re-run at every look."""
    guard, naive = [], []
    for _ in range(runs):
        base = np.cumsum(rng.binomial(100, 0.003, 200))
        cand = np.cumsum(rng.binomial(100, 0.0033, 200))
        g = z = None
        for look in range(200):
            n = 100 * (look + 1)
            if g is None:
                out = judge_relative(proportion_stats(n, int(base[look])), proportion_stats(n, int(cand[look])),
                                     max_drop=None, max_increase=0.10, **JUDGE).outcome
                g = out if out is not Outcome.INCONCLUSIVE else None
            if z is None and base[look] > 0 and cand[look] > 0:
                se = math.sqrt(1 / cand[look] + 1 / base[look])
                centre = math.log(cand[look] / base[look])
                if abs(centre - math.log(1.1)) > Z * se:
                    z = Outcome.FAIL
        guard.append(g)
        naive.append(z)
    return _first(guard), _first(naive)


def heavy_tails(runs: int, rng: np.random.Generator) -> tuple[float, float]:
    """Revenue with 95% zeros and lognormal(0, 2) values, max_drop 3%, the candidate exactly 3% lower,
    250-unit looks: wrong verdicts with the minimum-information rule, and without it (no Σx³)."""
    with_rule, without = [], []
    for _ in range(runs):
        sums = []
        for scale in (1.0, 0.97):
            v = np.where(rng.random((200, 250)) < 0.05, rng.lognormal(0.0, 2.0, (200, 250)), 0.0) * scale
            sums.append(np.cumsum(np.stack([v.sum(1), (v ** 2).sum(1), (v ** 3).sum(1)], axis=1), axis=0))
        a = b = None
        for look in range(200):
            n = 250 * (look + 1)
            base, cand = sums[0][look], sums[1][look]
            if a is None:
                out = judge_relative(mean_stats(n, *base), mean_stats(n, *cand), max_drop=0.03, max_increase=None,
                                     **JUDGE).outcome
                a = out if out is not Outcome.INCONCLUSIVE else None
            if b is None:
                out = judge_relative(mean_stats(n, *base[:2]), mean_stats(n, *cand[:2]), max_drop=0.03,
                                     max_increase=None, **JUDGE).outcome
                b = out if out is not Outcome.INCONCLUSIVE else None
            if a is not None and b is not None:
                break
        with_rule.append(a)
        without.append(b)
    return _first(with_rule), _first(without)


def srm(runs: int, rng: np.random.Generator) -> tuple[float, float]:
    """A correct 50/50 split, 200 looks of 50 units: alarms at 0.001, always-valid and chi-square."""
    counts = np.cumsum(rng.multinomial(50, [0.5, 0.5], size=(runs, 200)), axis=1)
    anytime = sum(any(anytime_srm_p_value(list(c), [0.5, 0.5]) < 0.001 for c in run) for run in counts)
    chi = sum(any(srm_p_value(list(c), [0.5, 0.5]) < 0.001 for c in run) for run in counts)
    return anytime / runs, chi / runs


def plan_simulate_seconds(runs: int) -> float:
    from rollout_cli.plan import load_plan
    from rollout_cli.planning import Scenario, parse_harm, simulate_plan

    plan = load_plan(ROOT / "plans" / "ranker-v42.yaml")
    start = time.perf_counter()
    simulate_plan(plan, Scenario(traffic_per_h=20_000, runs=runs, harms=(parse_harm("conversion=-20%", plan),)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    started = time.perf_counter()
    rare = rare_rates(args.runs, rng)
    heavy = heavy_tails(max(args.runs // 4, 50), rng)
    mismatch = srm(args.runs * 5, rng)
    seconds = plan_simulate_seconds(500)
    se = math.sqrt(0.05 * 0.95 / args.runs)
    lines = [
        "# Small and odd samples",
        "",
        f"`python benchmarks/bench_odd_samples.py --runs {args.runs}` ({time.perf_counter() - started:.0f} s, "
        "on a 2-core machine shared with other jobs; shares, not timings, are the point). 200 looks each.",
        "",
        "| regime | rollouts | the guards here | alternative on the same data |",
        "| --- | --- | --- | --- |",
        f"| rare rate at the limit (0.3% errors, +10%, 100-unit looks): wrong verdicts | {args.runs} | "
        f"score test {100 * rare[0]:.2f}% | naive log-ratio z re-run every look {100 * rare[1]:.2f}% |",
        f"| heavy tail at the limit (95% zeros, lognormal(0, 2), -3%, 250-unit looks): wrong verdicts | "
        f"{max(args.runs // 4, 50)} | with the 25·G1² rule {100 * heavy[0]:.2f}% | without it {100 * heavy[1]:.2f}% |",
        f"| correct 50/50 split, 50-unit looks: SRM alarms at 0.001 | {args.runs * 5} | "
        f"always-valid {100 * mismatch[0]:.3f}% | chi-square every look {100 * mismatch[1]:.3f}% |",
        "",
        f"Binomial standard error of a 5% share over {args.runs} rollouts: {100 * se:.2f} points.",
        "",
        f"`rollout plan simulate plans/ranker-v42.yaml --traffic 20000/h --harm conversion=-20% --runs 500`: "
        f"{seconds:.1f} s of simulation (5 traffic stages, 24 looks each at most).",
        "",
    ]
    out = ROOT / "benchmarks" / "results" / "odd_samples.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
