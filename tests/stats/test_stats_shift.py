"""The shift statistic: PSI, its interval, and the three-way decision, checked by fixed-seed simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from rollout_cli.stats.shift import PSEUDO_COUNT, ShiftDecision, judge_shift, psi

BINS = 10
UNIFORM = np.full(BINS, 1.0 / BINS)


def tilted(target: float) -> np.ndarray:
    """Shares over BINS bins whose PSI against the uniform is exactly `target`."""
    def shares(a: float) -> np.ndarray:
        w = np.exp(a * np.arange(BINS) / BINS)
        return w / w.sum()

    a = brentq(lambda a: float(((shares(a) - UNIFORM) * np.log(shares(a) / UNIFORM)).sum()) - target, 0.0, 50.0)
    return shares(a)


def decisions(true_psi: float, n: int, reps: int, seed: int, m: int = 1_000_000,
              threshold: float = 0.2) -> dict[ShiftDecision, float]:
    rng = np.random.default_rng(seed)
    p = UNIFORM if true_psi == 0 else tilted(true_psi)
    seen = {d: 0 for d in ShiftDecision}
    for _ in range(reps):
        result = judge_shift(rng.multinomial(m, UNIFORM).tolist(), rng.multinomial(n, p).tolist(), threshold, 0.95)
        seen[result.decision] += 1
    return {d: c / reps for d, c in seen.items()}


def test_psi_is_the_symmetric_divergence_with_half_counts() -> None:
    reference, window = [50, 30, 20], [20, 30, 50]
    q = [(c + PSEUDO_COUNT) / 101.5 for c in reference]
    p = [(c + PSEUDO_COUNT) / 101.5 for c in window]
    assert psi(reference, window) == pytest.approx(sum((a - b) * math.log(a / b) for a, b in zip(p, q)), rel=1e-12)
    assert psi(window, reference) == pytest.approx(psi(reference, window), rel=1e-12)


def test_identical_large_samples_are_not_drifted() -> None:
    result = judge_shift([100_000] * 10, [100_000] * 10, 0.1, 0.95)
    assert result.estimate == 0.0
    assert result.low == 0.0 and result.high < 0.001
    assert result.decision is ShiftDecision.NOT_DRIFTED


def test_an_unseen_category_is_where_the_mass_moved() -> None:
    # The last bin ("unseen") is empty in the reference; a third of the window lands there.
    result = judge_shift([5000, 5000, 0], [3000, 3000, 3000], 0.2, 0.95)
    assert result.decision is ShiftDecision.DRIFTED
    assert result.bins_moved_most() == (2, 0, 1)
    assert sum(result.contributions) == pytest.approx(result.estimate)
    assert result.low > 0.2 and result.high > result.low


def test_bins_empty_on_both_sides_add_nothing() -> None:
    with_empty = judge_shift([400, 0, 600], [300, 0, 700], 0.2, 0.95)
    without = judge_shift([400, 600], [300, 700], 0.2, 0.95)
    assert with_empty.estimate == pytest.approx(without.estimate)
    assert (with_empty.low, with_empty.high) == pytest.approx((without.low, without.high))
    assert with_empty.contributions[1] == 0.0


@pytest.mark.parametrize("reference,window", [([0, 0, 0], [5, 5, 5]), ([5, 5, 5], [0, 0, 0])])
def test_an_empty_side_is_not_enough_data_never_not_drifted(reference: list[int], window: list[int]) -> None:
    result = judge_shift(reference, window, 0.2, 0.95)
    assert result.decision is ShiftDecision.NOT_ENOUGH_DATA
    assert result.high == math.inf


def test_a_small_window_straddles_the_threshold() -> None:
    result = judge_shift([10_000] * 10, [4, 6, 5, 3, 7, 5, 6, 4, 5, 5], 0.1, 0.95)
    assert result.decision is ShiftDecision.NOT_ENOUGH_DATA
    assert result.low < 0.1 < result.high


@pytest.mark.parametrize("args,message", [
    (([1, 2], [1], 0.2, 0.95), "reference has 2 bins, window 1"),
    (([1, -2], [1, 2], 0.2, 0.95), "non-negative"),
    (([1, 2], [1, 2], 0.0, 0.95), "threshold must be above 0"),
    (([1, 2], [1, 2], 0.2, 1.0), "confidence between 0 and 1"),
])
def test_bad_arguments(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        judge_shift(*args)


def test_a_fixed_psi_cut_off_alarms_on_small_windows_with_no_drift() -> None:
    # The folklore rule the interval replaces: PSI > 0.1 at n = 100 over ten bins, no drift at all.
    rng = np.random.default_rng(3)
    reference = rng.multinomial(1_000_000, UNIFORM).tolist()
    fixed = ours = 0
    for _ in range(300):
        window = rng.multinomial(100, UNIFORM).tolist()
        fixed += psi(reference, window) > 0.1
        ours += judge_shift(reference, window, 0.1, 0.95).decision is ShiftDecision.DRIFTED
    assert fixed / 300 > 0.25  # about a third: 100 x PSI is roughly chi-square(9)
    assert ours == 0


@pytest.mark.parametrize("n", [100, 2_000, 200_000])
def test_false_alarms_at_the_threshold_stay_below_half_alpha(n: int) -> None:
    # The hardest case for "drifted": the true PSI equals the threshold. One-sided error <= 2.5%.
    rates = decisions(0.2, n, reps=300, seed=n)
    assert rates[ShiftDecision.DRIFTED] <= 0.025 + 0.02  # 0.02: ~2.2 standard errors of 300 draws
    assert rates[ShiftDecision.NOT_DRIFTED] <= 0.025 + 0.02


def test_no_drift_never_alarms_across_window_sizes() -> None:
    for n in (100, 10_000, 1_000_000):
        assert decisions(0.0, n, reps=100, seed=7 + n)[ShiftDecision.DRIFTED] == 0.0


def test_power_at_twice_the_threshold() -> None:
    # docs/statistics.md: at PSI = 2 x threshold (0.4 vs 0.2, ten bins) 80% power by 500 rows.
    assert decisions(0.4, 500, reps=200, seed=11)[ShiftDecision.DRIFTED] >= 0.8
