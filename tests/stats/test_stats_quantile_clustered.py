"""Quantile bounds when requests are nested in units (docs/statistics.md, section 6).

Latencies of one user are correlated: log-latency = unit effect + request noise, the unit
effect carrying `corr` of the variance (the within-unit correlation of log-latencies). The bounds
that treat requests as independent miss the true p99 far more often than alpha; with the design
effect of the indicator "request <= the quantile", measured per unit, they hold.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from rollout_cli.stats.quantile import design_effect, design_level, quantile_rank_bounds

ALPHA = 0.05
Q = 0.99
PER_UNIT = 20
LOOKS = np.unique(np.geomspace(25, 3000, 30).astype(int))  # units per arm at each look


def clustered_latencies(runs: int, units: int, corr: float, seed: int) -> np.ndarray:
    """(runs, units, PER_UNIT) lognormal latencies, total log-variance 1, within-unit correlation corr."""
    rng = np.random.default_rng(seed)
    log = rng.normal(0.0, math.sqrt(corr), (runs, units, 1)) + rng.normal(0.0, math.sqrt(1 - corr),
                                                                          (runs, units, PER_UNIT))
    return np.exp(log)


def unit_design_effect(data: np.ndarray, threshold: float) -> float:
    """What the evaluator's indicator scan gives for one arm: per-unit counts at or below `threshold`."""
    x = (data <= threshold).sum(axis=1).astype(float)
    y = np.full(x.shape, float(data.shape[1]))
    return design_effect(len(x), y.sum(), x.sum(), float(x @ x), float(x @ y), float(y @ y))


def value_beyond(flat: np.ndarray, level: float, truth: float, below: int, side: str) -> bool:
    """Whether the linear-interpolation quantile at `level` lies beyond the truth on `side`, from the
    count `below` of values <= truth (exact; np.quantile only when truth sits between the two
    order statistics the level interpolates)."""
    h = level * (len(flat) - 1)
    k = math.floor(h)
    if side == "low":  # value > truth?
        if below <= k:
            return True
        return below == k + 1 and float(np.quantile(flat, level)) > truth
    if below >= k + 2:  # value < truth? both order statistics it interpolates are <= truth
        return True
    return below == k + 1 and (h == k or float(np.quantile(flat, level)) < truth)


def missed_at_some_look(data: np.ndarray, *, robust: bool, tuning_n: float = 5000.0) -> float:
    """Share of runs whose bounds (one arm at ALPHA) miss the true p99 at some look."""
    runs = data.shape[0]
    truth = math.exp(norm.ppf(Q))
    missed = np.zeros(runs, dtype=bool)
    for units in LOOKS:
        flat = data[:, :units, :].reshape(runs, -1)
        estimates = np.quantile(flat, [Q, design_level(Q)], axis=1)
        below = (flat <= truth).sum(axis=1)
        for run in range(runs):
            if missed[run]:
                continue
            design = 1.0
            if robust:
                design = max(unit_design_effect(data[run, :units], float(estimates[0, run])),
                             unit_design_effect(data[run, :units], float(estimates[1, run])))
            low, high = quantile_rank_bounds(flat.shape[1], Q, ALPHA, tuning_n, design)
            missed[run] = ((low is not None and value_beyond(flat[run], low, truth, int(below[run]), "low"))
                           or (high is not None and value_beyond(flat[run], high, truth, int(below[run]), "high")))
    return float(missed.mean())


def test_one_answer_per_unit_has_no_design_effect() -> None:
    assert design_effect(1000, 1000.0, 990.0, 990.0, 990.0, 1000.0) == 1.0
    assert design_effect(1, 20.0, 19.0, 361.0, 380.0, 400.0) == 1.0
    # every unit all below or all above: the share is as variable as a unit's single coin
    units, per = 1000, 20
    below_units = 990
    x = np.array([per] * below_units + [0] * (units - below_units), dtype=float)
    y = np.full(units, float(per))
    assert abs(design_effect(units, y.sum(), x.sum(), x @ x, x @ y, y @ y) - per) < 0.1


def test_the_design_level_sits_three_times_further_from_the_end() -> None:
    assert abs(design_level(0.99) - 0.97) < 1e-12
    assert abs(design_level(0.90) - 0.70) < 1e-12
    assert design_level(0.5) == 0.5
    assert abs(design_level(0.05) - 0.15) < 1e-12


def test_clustered_requests_break_the_independent_bounds_and_the_design_effect_restores_them() -> None:
    data = clustered_latencies(200, int(LOOKS[-1]), corr=0.64, seed=51)
    naive = missed_at_some_look(data, robust=False)
    robust = missed_at_some_look(data, robust=True)
    print(f"\np99 bounds, 20 requests per unit, correlation 0.64: missed at some look in {naive:.3f} "
          f"(independent) and {robust:.3f} (design effect) of 200 runs")
    assert naive > 0.30
    assert robust <= ALPHA + 2 * math.sqrt(ALPHA * (1 - ALPHA) / 200)


def test_independent_requests_keep_their_exact_bounds() -> None:
    data = clustered_latencies(200, int(LOOKS[-1]), corr=0.0, seed=52)
    robust = missed_at_some_look(data, robust=True)
    assert robust <= ALPHA
    # design effects near 1 change the levels little: the width stays within a few percent
    exact = quantile_rank_bounds(60_000, Q, ALPHA, 5000)
    near = quantile_rank_bounds(60_000, Q, ALPHA, 5000, 1.05)
    assert exact[0] is not None and exact[1] is not None and near[0] is not None and near[1] is not None
    assert 1.0 < (near[1] - near[0]) / (exact[1] - exact[0]) < 1.05
