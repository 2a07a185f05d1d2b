"""The relative quantile guard's standard error on the side its decision looks to (stats/quantile_ratio.py,
docs/statistics.md section 6): Woodruff's interval of a p99 is not symmetric around the estimate, and the
average of its halves left the truth above the interval's top nearly twice as often as it should at 50
answers beyond the quantile — what made a candidate with 5% of the traffic pass wrongly at its
max_increase. A pass now takes the candidate's half on its side, never below that average."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from rollout_cli.stats import QuantileArm, judge_relative, judge_relative_quantile
from rollout_cli.stats.quantile_ratio import WOODRUFF_Z, passing_side, woodruff_levels

Q = 0.99
N = 5000  # 50 answers beyond the p99: the first look the minimum-information rule lets through


def test_the_interval_facing_a_decision_misses_the_p99_on_that_side_at_most_two_and_a_half_percent() -> None:
    rng = np.random.default_rng(41)
    low, high = woodruff_levels(N, Q) or (0.0, 0.0)
    logs = rng.normal(0.0, 1.0, (4000, N))  # log-latency: the latencies are lognormal
    estimate, bottom, top = np.quantile(logs, [Q, low, high], axis=1)
    arms = [QuantileArm(N, N, math.exp(e), math.exp(b), math.exp(t)) for e, b, t in zip(estimate, bottom, top)]
    truth = float(norm.ppf(Q))

    def miss(side: str | None, sign: float) -> float:
        se = np.array([math.sqrt(arm.stats(side).variance / N) / arm.estimate for arm in arms])  # type: ignore[operator]
        return float(np.mean(sign * (truth - (estimate + sign * WOODRUFF_Z * se)) > 0))

    above, below, average = miss("up", 1.0), miss("down", -1.0), miss(None, 1.0)
    print(f"\ntruth above the top {above:.2%} (the halves' average: {average:.2%}), below the bottom {below:.2%}")
    # one standard error of 2.5% in 4,000 samples: 0.25 points
    assert average > 0.035  # the defect: the average of the halves is too narrow above
    assert 0.018 <= above <= 0.032  # the upper half: what it should be
    assert below <= 0.032  # below, the average (never narrower than it): on the safe side


def test_a_pass_takes_the_candidates_upper_half_below_a_max_increase_and_a_fail_the_average() -> None:
    base = QuantileArm(units=20_000, answers=20_000, estimate=100.0, low=97.0, high=104.0)
    cand = QuantileArm(units=1_000, answers=6_000, estimate=105.0, low=100.0, high=113.0)
    result = judge_relative_quantile(base, cand, Q, max_drop=None, max_increase=0.10, alpha=0.05, tuning_n=5000,
                                     min_units=100)
    same = judge_relative(base.stats(), cand.stats("up"), max_drop=None, max_increase=0.10, alpha=0.05,
                          tuning_n=5000, min_units=100)
    assert result == same
    assert cand.stats("up").variance > cand.stats().variance > cand.stats("down").variance * 0.999
    assert cand.stats("down").variance == pytest.approx(cand.stats().variance)  # never below the average
    assert passing_side(0.05, None, 0.10) == "up" and passing_side(0.15, None, 0.10) is None
    assert passing_side(-0.01, 0.02, None) == "down" and passing_side(-0.03, 0.02, None) is None
    assert passing_side(0.0, 0.02, 0.10) == "both" and passing_side(0.12, 0.02, 0.10) is None
    assert cand.stats("both").variance == pytest.approx(cand.stats("up").variance)
