"""The confidence sequence itself, per-arm statistics and the delta method."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rollout_cli.stats.sequential import (
    DEFAULT_TUNING_UNITS,
    ArmStats,
    arm_variances,
    exclusion_p_value,
    halfwidth,
    mean_sequence,
    mean_stats,
    proportion_stats,
    ratio_stats,
    relative_estimate,
    relative_sequence,
    rho_squared,
    tuning_units,
)


def test_rho_makes_the_sequence_tightest_at_the_tuning_sample_size() -> None:
    # For a fixed n, the half-width as a function of rho is smallest at the rho chosen for n* = n.
    alpha, n = 0.05, 20_000
    chosen = halfwidth(1.0, n, alpha, rho_squared(alpha, n))
    for other in (n / 8, n / 2, n * 2, n * 8):
        assert chosen < halfwidth(1.0, n, alpha, rho_squared(alpha, other))


def test_the_sequence_is_wider_than_the_fixed_interval_and_shrinks() -> None:
    alpha, rho2 = 0.05, rho_squared(0.05, 5000)
    widths = [halfwidth(1.0, n, alpha, rho2) for n in (100, 1000, 5000, 50_000, 10**6)]
    assert widths == sorted(widths, reverse=True)
    # At the tuning size the sequence is about 1.5x the fixed-horizon 1.96 / sqrt(n).
    ratio = halfwidth(1.0, 5000, alpha, rho2) / (1.959964 / math.sqrt(5000))
    assert 1.4 < ratio < 1.7


def test_the_halfwidth_matches_the_published_formula() -> None:
    # Waudby-Smith et al. (2021), Theorem 2.2, written out independently.
    sigma2, n, alpha, n_star = 2.5, 12_345, 0.01, 4000
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / n_star
    expected = math.sqrt(sigma2) * math.sqrt(2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha))
    assert halfwidth(sigma2, n, alpha, rho2) == pytest.approx(expected, rel=1e-12)


def test_the_exclusion_p_value_inverts_the_halfwidth() -> None:
    rho2 = rho_squared(0.05, 5000)
    for alpha in (0.2, 0.05, 0.01, 0.001):
        d = halfwidth(3.0, 8000, alpha, rho2)
        assert exclusion_p_value(d, 3.0, 8000, rho2) == pytest.approx(alpha, rel=1e-9)
    assert exclusion_p_value(0.0, 3.0, 8000, rho2) == 1.0
    assert exclusion_p_value(0.5, 0.0, 8000, rho2) == 0.0


def test_tuning_units_default_and_from_the_stage() -> None:
    assert tuning_units(0) == DEFAULT_TUNING_UNITS == 5000.0
    assert tuning_units(2000) == 2000.0
    # a relative guard counts both arms: 2,000 candidate units at a 1% canary come with ~200,000
    assert tuning_units(2000, candidate_percent=1.0) == 200_000.0
    assert tuning_units(2000, candidate_percent=100.0) == tuning_units(2000, candidate_percent=0.0) == 2000.0
    assert tuning_units(0, candidate_percent=1.0) == DEFAULT_TUNING_UNITS


def test_mean_sequence_is_centred_on_the_mean() -> None:
    arm = mean_stats(400, 400 * 3.0, 400 * (9.0 + 4.0))
    interval = mean_sequence(arm, 0.05, 5000)
    assert interval.estimate == pytest.approx(3.0)
    assert interval.high - 3.0 == pytest.approx(3.0 - interval.low)
    assert interval.low < 3.0 - 1.96 * math.sqrt(arm.variance / 400)


def test_proportion_stats_and_its_pseudo_count_floor() -> None:
    arm = proportion_stats(1000, 100)
    assert arm.mean == 0.1
    assert arm.variance == pytest.approx(0.1 * 0.9 * 1000 / 999)
    none = proportion_stats(1000, 0)
    assert none.variance == 0.0
    assert none.effective_variance == pytest.approx((1 / 1001) * (1000 / 1001))
    assert math.isnan(proportion_stats(0, 0).mean)


def test_relative_sequence_uses_the_delta_method_on_the_log_ratio() -> None:
    base, cand = proportion_stats(50_000, 5000), proportion_stats(50_000, 4500)
    interval = relative_sequence(base, cand, 0.05, 5000)
    assert interval.estimate == pytest.approx(-0.1)
    var_log = cand.variance / cand.n / 0.09**2 + base.variance / base.n / 0.1**2
    width = halfwidth(var_log * 100_000, 100_000, 0.05, rho_squared(0.05, 5000))
    assert interval.low == pytest.approx(0.9 * math.exp(-width) - 1)
    assert interval.high == pytest.approx(0.9 * math.exp(width) - 1)
    assert interval.high - interval.estimate > interval.estimate - interval.low  # asymmetric
    with pytest.raises(ValueError, match="the baseline mean is zero; a relative change is undefined"):
        relative_sequence(ArmStats(10, 0.0, 1.0), cand, 0.05, 5000)


def test_a_candidate_mean_of_zero_falls_back_to_the_ratio_scale() -> None:
    base, cand = proportion_stats(2000, 200), proportion_stats(2000, 0)
    estimate = relative_estimate(base, cand)
    assert not estimate.log_scale and estimate.effect == -1.0
    expected = cand.effective_variance / 2000 / 0.1**2 * 4000
    assert estimate.variance == pytest.approx(expected)


def test_an_arm_without_variation_borrows_the_other_arms_variance() -> None:
    flat, noisy = ArmStats(100, 0.0, 0.0), ArmStats(100, 0.5, 25.0)
    assert arm_variances(noisy, flat) == (25.0, 25.0)
    assert arm_variances(flat, noisy) == (25.0, 25.0)


def test_ratio_stats_against_a_brute_force_delta_method_and_the_bootstrap() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    y = rng.poisson(6, n) + 1  # requests per unit
    unit_rate = rng.beta(2, 30, n)  # correlated within a unit
    x = rng.binomial(y, unit_rate)
    arm = ratio_stats(n, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum(), counts=True)
    ratio = x.sum() / y.sum()
    assert arm.mean == pytest.approx(ratio)
    # Delta method written directly on the unit values.
    residual = (x - ratio * y) / y.mean()
    assert arm.variance == pytest.approx(residual.var(ddof=1), rel=1e-9)
    # And against the bootstrap standard error of the ratio, units resampled.
    boot = np.empty(2000)
    for i in range(boot.size):
        idx = rng.integers(0, n, n)
        boot[i] = x[idx].sum() / y[idx].sum()
    assert math.sqrt(arm.variance / n) == pytest.approx(boot.std(ddof=1), rel=0.08)
    # Per-request independence would understate the variance: the unit is the observation.
    assert arm.variance > arm.variance_floor


def test_ratio_stats_degenerate_inputs_are_undefined_not_errors() -> None:
    assert math.isnan(ratio_stats(10, 0, 0, 0, 0, 0).mean)
    assert math.isnan(ratio_stats(1, 1, 2, 1, 4, 2).variance)
    none = ratio_stats(100, 0, 500, 0, 2600, 0, counts=True)
    assert none.mean == 0.0 and none.variance == 0.0 and none.effective_variance > 0
