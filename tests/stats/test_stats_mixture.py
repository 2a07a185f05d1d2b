"""The relative guards' sequence as a mixture tuned at the plan's size and at the limit
(stats.sequential.Mixture, stats.tuned, docs/statistics.md section 2, "Tuned at the limit")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rollout_cli.stats import proportion_stats
from rollout_cli.stats.guards import LIMIT_WEIGHT, relative_mixture
from rollout_cli.stats.sequential import Mixture, exclusion_p_value, halfwidth, rho_squared
from rollout_cli.stats.spending import crossing_probability, horizon_level
from rollout_cli.stats.tuned import limit_tuning_units


def test_one_component_is_the_closed_form_and_p_values_invert_the_width() -> None:
    rho2 = rho_squared(0.05, 5000)
    for n in (100.0, 5000.0, 1e6):
        assert halfwidth(2.0, n, 0.05, Mixture((rho2,))) == pytest.approx(halfwidth(2.0, n, 0.05, rho2), rel=1e-9)
    mixture = Mixture((rho_squared(0.05, 5000), rho_squared(0.05, 700_000)), (0.2, 0.8))
    for n in (1000.0, 50_000.0, 3e6):
        width = halfwidth(3.0, n, 0.07, mixture)
        assert exclusion_p_value(width, 3.0, n, mixture) == pytest.approx(0.07, rel=1e-6)
        # the average of martingales lies between the components' boundaries, each at its weight
        alone = [halfwidth(3.0, n, 0.07, r) for r in mixture.rho2s]
        weighted = [halfwidth(3.0, n, 0.07 * w, r) for r, w in zip(mixture.rho2s, mixture.weights)]
        assert min(alone) <= width <= min(weighted) + 1e-12


def test_the_mixture_is_tightest_near_both_tuning_sizes() -> None:
    mixture = Mixture((rho_squared(0.05, 5000), rho_squared(0.05, 700_000)), (1 - LIMIT_WEIGHT, LIMIT_WEIGHT))
    # the price of the weights: log(1 / weight) on the boundary (17% wider at the plan's size, 4% at the limit's)
    for n, single, price in ((5000.0, 5000, 1.2), (700_000.0, 700_000, 1.05)):
        best = halfwidth(1.0, n, 0.05, rho_squared(0.05, single))
        assert best <= halfwidth(1.0, n, 0.05, mixture) <= price * best
    # far better than the other single tuning at each end
    assert halfwidth(1.0, 700_000, 0.05, mixture) < 0.9 * halfwidth(1.0, 700_000, 0.05, rho_squared(0.05, 5000))


def test_the_mixtures_crossing_probability_agrees_with_brownian_paths() -> None:
    mixture = Mixture((1.0, 0.01), (0.2, 0.8))
    horizon, level = 3000.0, 0.1
    rng = np.random.default_rng(62)
    s = np.expm1(np.linspace(0.0, math.log1p(horizon), 1001))
    paths = np.cumsum(rng.normal(0.0, 1.0, (8000, 1000)) * np.sqrt(np.diff(s)), axis=1)
    bound = np.sqrt([mixture.boundary_s2(t, level) for t in s[1:]])
    simulated = float((np.abs(paths) >= bound).any(axis=1).mean())
    computed = crossing_probability(level, horizon, mixture)
    assert simulated - 0.005 <= computed <= simulated + 3 * math.sqrt(simulated / 8000) + 0.004
    spent = horizon_level(0.05, horizon, mixture)
    assert spent > 0.05
    assert crossing_probability(spent, horizon, mixture) == pytest.approx(0.05, abs=0.002)


def test_the_limits_size_is_the_fixed_horizon_sample_for_a_harm_of_twice_the_limit() -> None:
    base, cand = proportion_stats(50_000, 5000), proportion_stats(50_000, 4900)
    units = limit_tuning_units(base, cand, 0.02, None, 0.05)
    # 10% conversion, a 4% drop against a 2% limit: about 700,000 units of both arms at 80% power
    assert 600_000 < units < 800_000
    # a guard with both limits takes the nearer one; no limit or no baseline mean: unknown
    assert limit_tuning_units(base, cand, 0.02, 0.01, 0.05) > units
    assert limit_tuning_units(proportion_stats(100, 0), cand, 0.02, None, 0.05) is None
    assert len(relative_mixture(base, cand, 0.02, None, 0.05, 5000).rho2s) == 2
    assert len(relative_mixture(proportion_stats(100, 0), cand, 0.02, None, 0.05, 5000).rho2s) == 1
