"""Always-valid quantile bounds (Howard & Ramdas 2022) and the relative quantile guard."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from stats_simulation import arm_quantile_bounds, relative_quantile_verdicts

from rollout_cli.stats import QuantileBounds, judge_relative_quantile, quantile_levels, quantile_rank_bounds
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.quantile import alpha_ladder, rank_bounds

ALPHA = 0.05
Q = 0.99


def test_bounds_need_enough_observations_on_each_side() -> None:
    assert quantile_rank_bounds(1, Q, ALPHA, 5000) == (None, None)
    low, high = quantile_rank_bounds(500, Q, ALPHA, 5000)
    assert low is not None and 0.9 < low < Q
    assert high is None  # 500 requests cannot bound a p99 from above yet
    low, high = quantile_rank_bounds(100_000, Q, ALPHA, 5000)
    assert low is not None and high is not None and low < Q < high
    assert high - low < 0.003


def test_the_levels_pick_the_order_statistics_under_linear_interpolation() -> None:
    n = 20_000
    values = np.arange(1, n + 1, dtype=float)  # the k-th smallest is k
    s_low, s_high = rank_bounds(n, Q, ALPHA, 5000)
    q_low, q_high = quantile_rank_bounds(n, Q, ALPHA, 5000)
    assert np.quantile(values, q_low, method="linear") == pytest.approx(s_low, abs=1e-6)
    assert np.quantile(values, q_high, method="linear") == pytest.approx(s_high + 1, abs=1e-6)
    assert np.quantile(values, q_low, method="linear") <= s_low
    assert np.quantile(values, q_high, method="linear") >= s_high + 1


def test_rank_bounds_cover_under_200_looks() -> None:
    # S_n, the count below the true quantile, is a cumulative Binomial(n, q) whatever the data.
    rng = np.random.default_rng(21)
    runs, looks, per_look = 4000, 200, 250
    counts = np.cumsum(rng.binomial(per_look, Q, size=(runs, looks)), axis=1)
    bounds = np.array([rank_bounds(per_look * (k + 1), Q, ALPHA, 5000) for k in range(looks)])
    outside = (counts < bounds[:, 0]) | (counts > bounds[:, 1])
    miscoverage = outside.any(axis=1).mean()
    print(f"\np99 rank bounds: miscovered at some look in {miscoverage:.4f} of {runs} runs")
    assert miscoverage <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / runs)


def lognormal_p99(mu: float, sigma: float) -> float:
    return math.exp(mu + sigma * norm.ppf(Q))


def test_raw_latencies_are_covered_through_the_database_levels() -> None:
    rng = np.random.default_rng(22)
    runs, looks, per_look = 300, 30, 500
    data = rng.lognormal(4.0, 0.5, size=(runs, looks * per_look))
    truth = lognormal_p99(4.0, 0.5)
    missed = np.zeros(runs, dtype=bool)
    for k in range(looks):
        # ALPHA * 2 for "both arms", so this one arm is bounded at ALPHA.
        for run, b in enumerate(arm_quantile_bounds(data, per_look * (k + 1), Q, ALPHA * 2, 10_000)):
            if (b.low is not None and b.low > truth) or (b.high is not None and b.high < truth):
                missed[run] = True
    print(f"\nraw p99 bounds missed the truth at some look in {missed.mean():.3f} of {runs} runs")
    assert missed.mean() <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / runs)


def test_the_relative_quantile_guard_at_its_limit_under_repeated_looks() -> None:
    # Candidate latencies are exactly 10% slower: its p99 is exactly 1.10 x the baseline's.
    first = relative_quantile_verdicts(1.10, seed=23)
    wrong = sum(o is not None for o in first) / len(first)
    assert wrong <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / len(first))


def test_the_relative_quantile_guard_catches_a_large_slowdown_and_passes_none() -> None:
    slow = relative_quantile_verdicts(1.30, seed=24, runs=100)
    assert sum(o is Outcome.FAIL for o in slow) / len(slow) >= 0.9
    same = relative_quantile_verdicts(1.0, seed=25, runs=100)
    assert sum(o is Outcome.PASS for o in same) / len(same) >= 0.9
    assert not any(o is Outcome.FAIL for o in same)


def test_p_fail_comes_from_the_ladder() -> None:
    def bounds(alpha: float, low: float, high: float, estimate: float) -> QuantileBounds:
        return QuantileBounds(alpha=alpha, n=10_000, estimate=estimate, low=low, high=high)

    ladder = alpha_ladder(ALPHA)
    assert ladder[0] == ALPHA and ladder[-1] == ALPHA / 128
    # The interval widens as the level shrinks; the fail holds down to alpha / 4.
    base = [bounds(a, 100 - i, 100 + i, 100) for i, a in enumerate(ladder)]
    cand = [bounds(a, 140 - 12 * i, 140 + i, 140) for i, a in enumerate(ladder)]
    result = judge_relative_quantile(base, cand, 0.10, alpha=ALPHA, min_units=100)
    assert result.outcome is Outcome.FAIL
    assert result.p_fail == ALPHA / 4
    assert result.effect == pytest.approx(0.4)


def test_missing_bounds_and_too_few_units_are_inconclusive() -> None:
    base = QuantileBounds(alpha=ALPHA, n=400, estimate=100.0, low=90.0, high=None)
    cand = QuantileBounds(alpha=ALPHA, n=400, estimate=100.0, low=90.0, high=None)
    result = judge_relative_quantile(base, cand, 0.10, alpha=ALPHA, min_units=100)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.interval is not None and result.interval.high == math.inf
    few = judge_relative_quantile(base, cand, 0.10, alpha=ALPHA, min_units=1000)
    assert few.reason == "too few units (baseline 400, candidate 400; need 1000 per arm)"
    zero = QuantileBounds(alpha=ALPHA, n=400, estimate=0.0, low=0.0, high=0.0)
    assert judge_relative_quantile(zero, cand, 0.10, alpha=ALPHA, min_units=1).reason == (
        "the baseline quantile is not positive, so a relative change is undefined")


def test_quantile_levels_cover_the_ladder() -> None:
    rows = quantile_levels(50_000, Q, ALPHA, 5000)
    assert [r[0] for r in rows] == alpha_ladder(ALPHA)
    lows = [r[1] for r in rows]
    assert lows == sorted(lows, reverse=True)  # smaller level, wider bounds
