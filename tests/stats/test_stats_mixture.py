"""The relative guards' sequence as a mixture tuned at the plan's size and at the limit
(stats.sequential.Mixture, stats.tuned, docs/statistics.md section 2, "Tuned at the limit")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rollout_cli.stats import proportion_stats
from rollout_cli.stats.guards import LIMIT_WEIGHT, absolute_mixture, judge_absolute, relative_mixture, spent_level
from rollout_cli.stats.rates import rate_sequence
from rollout_cli.stats.sequential import Mixture, exclusion_p_value, halfwidth, rho_squared
from rollout_cli.stats.spending import crossing_probability, horizon_level
from rollout_cli.stats.tuned import limit_tuning_units


@pytest.mark.parametrize("mixture", [Mixture((1e-3, 2e-5), (0.2, 0.8)), Mixture((1e-4, 1e-6), (0.5, 0.5)),
                                     Mixture((1e-3, 0.0), (0.2, 0.8), (0.0, 0.02)),
                                     Mixture((2e-4, 0.0), (0.6, 0.4), (0.0, 0.3))])
def test_the_bisected_boundary_is_the_root_on_its_safe_side(mixture: Mixture) -> None:
    """Mixture.boundary_s2 bisects instead of calling scipy's brentq (docs/statistics.md, section 2):
    the same root to 1e-10, never inside the boundary (the martingale at it reaches 1 / level)."""
    from scipy.optimize import brentq

    for n in (10.0, 300.0, 4_000.0, 1e5, 3e6):
        for level in (0.05, 0.01, 0.003):
            s2 = mixture.boundary_s2(n, level)
            target = -math.log(level)
            assert mixture.log_m(s2, n) >= target - 1e-12 * target  # up to rounding
            low = min(mixture.single_s2(r, m, n, target) for r, m in mixture.components())
            root = brentq(lambda x, n=n, goal=target: mixture.log_m(x, n) - goal, low, s2 * 1.01, xtol=1e-14 * s2,
                          rtol=1e-14)
            assert s2 == pytest.approx(root, rel=1e-10)


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


@pytest.mark.parametrize("mixture", [Mixture((1.0, 0.01), (0.2, 0.8)), Mixture((1.0, 0.0), (0.2, 0.8), (0.0, 0.1))])
def test_the_mixtures_crossing_probability_agrees_with_brownian_paths(mixture: Mixture) -> None:
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


def test_an_absolute_guard_adds_a_quarter_of_its_horizon_only_when_that_lies_past_the_plans_size() -> None:
    """docs/statistics.md, section 2, "Absolute guards: the plan's size and the horizon's": without a
    declared horizon, or with one within four plan sizes, the plan's normal mixture alone (as before)."""
    alpha = 0.05
    assert absolute_mixture(alpha, 5000.0) == Mixture((rho_squared(alpha, 5000.0),))
    assert absolute_mixture(alpha, 5000.0, 20_000.0) == Mixture((rho_squared(alpha, 5000.0),))
    far = absolute_mixture(alpha, 5000.0, 5_000_000.0)
    assert far.rho2s == (rho_squared(alpha, 5000.0), rho_squared(alpha, 1_250_000.0))
    assert far.weights == pytest.approx((0.2, 0.8))
    # far past the plan's size the interval is narrower with the horizon's term, near it wider
    wide, narrow = (judge_absolute(proportion_stats(n, round(0.001 * n)), min=None, max=0.01, alpha=alpha,
                                   tuning_n=5000.0, min_units=100, horizon_n=h).interval for n, h in
                    ((1_000_000, 20_000.0), (1_000_000, 5_000_000.0)))
    assert narrow.high - narrow.low < wide.high - wide.low
    near = [judge_absolute(proportion_stats(5000, 5), min=None, max=0.01, alpha=alpha, tuning_n=5000.0,
                           min_units=100, horizon_n=h).interval for h in (20_000.0, 5_000_000.0)]
    assert near[1].high - near[1].low > near[0].high - near[0].low


def test_a_rate_guard_with_the_continuity_correction_fails_exactly_when_its_interval_is_beyond() -> None:
    """docs/statistics.md, section 4: half an event off every distance, and the interval's ends moved
    half an event outwards, so "p_fail <= alpha" and "the interval is wholly beyond" still agree."""
    rng = np.random.default_rng(64)
    for _ in range(400):
        n = int(rng.integers(100, 20_000))
        events, limit = int(rng.integers(0, n // 40 + 2)), float(rng.choice([0.005, 0.01, 0.02]))
        result = judge_absolute(proportion_stats(n, events), min=None, max=limit, alpha=0.05, tuning_n=5000.0,
                                min_units=100, horizon_n=float(rng.choice([40_000.0, 5_000_000.0])))
        assert (result.p_fail <= 0.05) == (result.interval.low > limit)
        assert (result.p_pass <= 0.05) == (result.interval.high < limit)
    # the interval reported is the score interval around the rate moved half an event outwards
    arm = proportion_stats(1000, 3)
    plain, corrected = (rate_sequence(arm, 0.05, 5000.0, corrected=c) for c in (False, True))
    assert corrected.low < plain.low < plain.high < corrected.high
    assert corrected.high == pytest.approx(rate_sequence(proportion_stats(1000, 3.5), 0.05, 5000.0).high)


def test_the_limits_size_is_the_fixed_horizon_sample_for_a_harm_of_twice_the_limit() -> None:
    base, cand = proportion_stats(50_000, 5000), proportion_stats(50_000, 4900)
    units = limit_tuning_units(base, cand, 0.02, None, 0.05)
    # 10% conversion, a 4% drop against a 2% limit: about 700,000 units of both arms at 80% power
    assert 600_000 < units < 800_000
    # a guard with both limits takes the nearer one; no limit or no baseline mean: unknown
    assert limit_tuning_units(base, cand, 0.02, 0.01, 0.05) > units
    assert limit_tuning_units(proportion_stats(100, 0), cand, 0.02, None, 0.05) is None
    mixture = relative_mixture(base, cand, 0.02, None, 0.05, 5000)
    assert mixture.rho2s == (rho_squared(0.05, 5000), 0.0) and mixture.weights == pytest.approx((0.2, 0.8))
    # the point alternative: the drift per unit a fixed-horizon test detects with 80% power at that size
    assert mixture.centres[1] == pytest.approx((1.959964 + 0.841621) / math.sqrt(units), rel=1e-5)
    # a declared horizon shorter than that size moves the alternative to what the horizon can detect
    assert relative_mixture(base, cand, 0.02, None, 0.05, 5000, 200_000).centres[1] == pytest.approx(
        (1.959964 + 0.841621) / math.sqrt(200_000), rel=1e-5)
    assert len(relative_mixture(proportion_stats(100, 0), cand, 0.02, None, 0.05, 5000).rho2s) == 1


def test_a_point_alternative_is_the_likelihood_ratio_and_its_boundary_inverts() -> None:
    m, n = 0.003, 400_000.0
    point = Mixture((0.0,), (1.0,), (m,))
    for s in (0.0, 500.0, 3000.0):  # the likelihood ratio of drifts +-m against none, averaged over the signs
        assert point.log_m(s * s, n) == pytest.approx(math.log(math.cosh(m * s)) - m * m * n / 2, abs=1e-9)
    mixture = Mixture((rho_squared(0.05, 5000), 0.0), (0.2, 0.8), (0.0, m))
    for n in (1000.0, 400_000.0, 4e6):
        for one in (point, mixture):
            width = halfwidth(3.0, n, 0.07, one)
            assert exclusion_p_value(width, 3.0, n, one) == pytest.approx(0.07, rel=1e-6)
    with pytest.raises(ValueError):
        Mixture((1e-4,), (1.0,), (0.01,))  # a component is either kind, not both


def test_the_point_alternative_catches_twice_the_limit_sooner_than_the_normal_mixture() -> None:
    """Brownian paths in units of the fixed-horizon sample (drift 2.80 = z_0.975 + z_0.8), 200 looks up
    to a horizon of 2.83 of them, alpha spent there under continuous monitoring: the point alternative
    at that drift (Wald's probability ratio) stops sooner than a normal mixture tuned at the same size."""
    drift, horizon, looks, z2 = 2.8016, 2.83, 200, rho_squared(0.05, 1.0)
    rng = np.random.default_rng(63)
    t = horizon / looks * np.arange(1, looks + 1)
    paths = np.cumsum(rng.normal(0.0, math.sqrt(horizon / looks), (6000, looks)), axis=1)
    plan = rho_squared(0.05, 0.71)
    medians = {}
    for name, mixture in (("normal", Mixture((plan, z2), (0.2, 0.8))),
                          ("point", Mixture((plan, 0.0), (0.2, 0.8), (0.0, drift)))):
        level = spent_level(0.05, mixture, 0.0, horizon)
        bound = np.sqrt([mixture.boundary_s2(n, level) for n in t])
        wrong = float((np.abs(paths) >= bound).any(axis=1).mean())
        assert wrong <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 6000)  # discrete looks: below alpha
        harmed = paths + drift * t
        caught = (harmed >= bound).any(axis=1)
        first = np.where(caught, (harmed >= bound).argmax(axis=1), looks)
        medians[name] = float(np.median(np.where(caught, t[np.minimum(first, looks - 1)], np.inf)))
    # 0.82 / 0.88 (0.81 / 0.86 while the horizon was rounded down, to a larger level: docs/statistics.md, section 2)
    assert medians["point"] <= 0.83 < medians["normal"]
