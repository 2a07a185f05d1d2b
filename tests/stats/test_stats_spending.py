"""Spending alpha within the horizon (stats.spending, docs/statistics.md section 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rollout_cli.stats.guards import spent_level
from rollout_cli.stats.sequential import rho_squared
from rollout_cli.stats.spending import crossing_probability, horizon_level


def monte_carlo_crossing(level: float, horizon: float, seed: int, runs: int = 8000, steps: int = 1000) -> float:
    rng = np.random.default_rng(seed)
    s = np.expm1(np.linspace(0.0, math.log1p(horizon), steps + 1))
    paths = np.cumsum(rng.normal(0.0, 1.0, (runs, steps)) * np.sqrt(np.diff(s)), axis=1)
    bound = np.sqrt(2 * (s[1:] + 1) * np.log(np.sqrt(s[1:] + 1) / level))
    return float((np.abs(paths) >= bound).any(axis=1).mean())


@pytest.mark.parametrize(("level", "horizon"), [(0.05, 10.0), (0.1, 100.0)])
def test_the_crossing_probability_agrees_with_brownian_paths(level: float, horizon: float) -> None:
    computed = crossing_probability(level, horizon)
    simulated = monte_carlo_crossing(level, horizon, seed=61)
    # discrete paths cross a little less often than the continuous motion the grid computes
    assert simulated - 0.005 <= computed <= simulated + 3 * math.sqrt(simulated / 8000) + 0.004


def test_villes_bound_holds_and_the_level_spends_alpha_within_the_horizon() -> None:
    for horizon in (1.0, 30.0, 1000.0):
        assert crossing_probability(0.05, horizon) <= 0.05
        level = horizon_level(0.05, horizon)
        assert level > 0.05
        assert crossing_probability(level, horizon) == pytest.approx(0.05, abs=0.002)
    # a longer horizon leaves less to spend
    assert horizon_level(0.05, 10.0) > horizon_level(0.05, 100.0) > horizon_level(0.05, 10_000.0) > 0.05
    assert horizon_level(0.05, math.inf) == 0.05
    assert horizon_level(0.6, 10.0) == 0.6


def test_the_horizon_defaults_to_three_tuning_sizes_and_grows_with_n() -> None:
    rho2 = rho_squared(0.05, 5000)
    assert spent_level(0.05, 5000, 100, None) == horizon_level(0.05, 15_000 * rho2)
    assert spent_level(0.05, 5000, 100, 200_000) == horizon_level(0.05, 200_000 * rho2)
    assert spent_level(0.05, 5000, 400_000, 200_000) == horizon_level(0.05, 400_000 * rho2)


def test_the_tabulated_levels_are_the_computed_ones_and_are_used() -> None:
    """stats/horizon_table.py stores what spending._level computes (a sample is recomputed here: a
    change to the computation must regenerate the table), and horizon_level answers from it."""
    from rollout_cli.stats.horizon_table import CONFIDENCES, FIRST_STEP, LEVELS
    from rollout_cli.stats.spending import _level

    assert set(LEVELS) == {1.0 - confidence for confidence in CONFIDENCES}
    for k, (alpha, levels) in enumerate(sorted(LEVELS.items())):
        for step in (-20 + 7 * k, 45 + 11 * k, 110 + 5 * k):  # small, usual and large horizons
            assert levels[step - FIRST_STEP] == _level.__wrapped__(alpha, 10.0 ** (step / 24.0))
    before = _level.cache_info()
    alpha = 1.0 - 0.95
    assert horizon_level(alpha, 10 ** 3.1) == LEVELS[alpha][math.ceil(3.1 * 24) - FIRST_STEP]
    assert _level.cache_info() == before  # nothing computed


@pytest.mark.parametrize(("step", "within"), [(2, 0.5), (2, 0.9), (27, 0.5), (27, 0.9), (60, 0.9), (100, 0.9)])
def test_the_level_used_is_never_above_the_level_exact_for_the_horizon(step: int, within: float) -> None:
    """The level falls as the horizon grows, so the grid step the horizon is keyed on must be the one at
    or above it (rounding down spent more than alpha over the true horizon: 5.7% at h = 1.1 for 5%)."""
    from rollout_cli.stats.spending import _level

    alpha = 1.0 - 0.95  # tabled (stats/horizon_table.py)
    horizon = 10.0 ** ((step + within) / 24.0)  # between grid steps
    exact = _level.__wrapped__(alpha, horizon)
    assert horizon_level(alpha, horizon) <= exact
    assert horizon_level(0.05, horizon) <= _level.__wrapped__(0.05, horizon)  # computed, not tabled
    assert crossing_probability(horizon_level(alpha, horizon), horizon) <= alpha + 2e-4


def test_a_horizon_on_a_grid_step_is_keyed_on_that_step() -> None:
    from rollout_cli.stats.horizon_table import FIRST_STEP, LEVELS

    alpha = 1.0 - 0.95
    for step in (-24, 0, 1, 24, 73, 168):
        assert horizon_level(alpha, 10.0 ** (step / 24.0)) == LEVELS[alpha][step - FIRST_STEP]
