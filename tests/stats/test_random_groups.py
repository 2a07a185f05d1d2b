"""Random groups of units (stats.random_groups): the always-valid intervals they feed keep their
error rates, checked by fixed-seed simulation of clustered requests (docs/statistics.md)."""

from __future__ import annotations

import numpy as np

from rollout_cli.stats.random_groups import GroupTotals, grouped_difference, grouped_ratio_stats, linear_count
from rollout_cli.stats.sequential import exclusion_p_value, mean_sequence, ratio_stats, rho_squared

ALPHA = 0.05
LOOKS = np.linspace(250, 4000, 16).astype(int)


def _units(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per unit: requests (1 + Poisson(4)) and successes, with a unit-level rate ~ Beta(2, 6)
    (mean 0.25): requests of one unit are correlated, as a user's are."""
    requests = 1 + rng.poisson(4, n)
    return rng.binomial(requests, rng.beta(2, 6, n)), requests


def _totals(x: np.ndarray, y: np.ndarray, groups: np.ndarray, k: int) -> GroupTotals:
    return GroupTotals(x=np.bincount(groups, x, minlength=k), y=np.bincount(groups, y, minlength=k), units=len(x))


def test_the_interval_keeps_its_error_rate_over_repeated_looks() -> None:
    """A min guard whose limit is the true rate (0.25), looked at 16 times as units arrive: a wrong
    verdict needs the interval to exclude the truth at some look; it happens at most at alpha."""
    rng = np.random.default_rng(7)
    wrong = 0
    streams = 400
    for _ in range(streams):
        x, y = _units(rng, LOOKS[-1])
        groups = rng.integers(0, 64, LOOKS[-1])  # fewer groups than units: several units per group
        for n in LOOKS:
            stats = grouped_ratio_stats(_totals(x[:n], y[:n], groups[:n], 64), counts=True)
            interval = mean_sequence(stats, ALPHA, 2000)
            if not interval.low <= 0.25 <= interval.high:
                wrong += 1
                break
    assert wrong / streams <= ALPHA


def test_the_variance_matches_the_per_unit_delta_method() -> None:
    rng = np.random.default_rng(11)
    ratios = []
    for _ in range(200):
        x, y = _units(rng, 20000)
        per_unit = ratio_stats(len(x), x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())
        grouped = grouped_ratio_stats(_totals(x, y, rng.integers(0, 1024, len(x)), 1024))
        assert grouped.mean == per_unit.mean
        ratios.append(grouped.variance / per_unit.variance)
    # unbiased, and with 1,023 degrees of freedom the ratio varies by about sqrt(2 / 1023) = 4%
    assert abs(np.mean(ratios) - 1) < 0.01
    assert 0.03 < np.std(ratios) < 0.06


def test_a_segment_against_the_rest_sharing_units_keeps_its_error_rate() -> None:
    """Each request of a unit falls in segment A or B at random (units are in both), both with the
    same rate: the difference A - rest is 0, and its always-valid p-value stays above alpha."""
    rng = np.random.default_rng(13)
    wrong, streams = 0, 300
    for _ in range(streams):
        n_max = LOOKS[-1]
        requests = 1 + rng.poisson(4, n_max)
        rate = rng.beta(2, 6, n_max)
        in_a = rng.binomial(requests, 0.3)
        x_a, x_b = rng.binomial(in_a, rate), rng.binomial(requests - in_a, rate)
        groups = rng.integers(0, 64, n_max)
        for n in LOOKS:
            a = _totals(x_a[:n], in_a[:n], groups[:n], 64)
            whole = _totals(x_a[:n] + x_b[:n], requests[:n], groups[:n], 64)
            rest = GroupTotals(whole.x - a.x, whole.y - a.y, n)
            effect, variance = grouped_difference(a, rest, n) or (0.0, 0.0)
            if exclusion_p_value(abs(effect), variance, n, rho_squared(ALPHA, 2000)) <= ALPHA:
                wrong += 1
                break
    assert wrong / streams <= ALPHA


def test_linear_counting_counts_units_within_a_percent() -> None:
    rng = np.random.default_rng(17)
    slots = 1024 * 256  # as rollout_cli.shadow.scans counts them
    for units in (50, 5_000, 500_000, 1_000_000):
        occupied = len(np.unique(rng.integers(0, slots, units)))
        assert abs(linear_count(occupied, slots) - units) <= max(1, 0.01 * units)
    assert linear_count(0, slots) == 0
