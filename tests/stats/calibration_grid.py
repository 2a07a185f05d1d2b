"""The calibration grid (docs/statistics.md, section 14), shared by the suite and
benchmarks/bench_calibration.py: every guard kind with its true value exactly at the limit, so that
every verdict is wrong, judged by the real guard functions at every look on cumulative sufficient
statistics drawn per look (unit-level draws only where a unit's requests are clustered).

The stage's horizon is the simulated stage (its units over all looks), declared as a plan with
`traffic_estimate` and `max_duration` declares it, so alpha is spent where the looks end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rollout_cli.stats import apply_holm, judge_absolute, judge_relative, mean_stats, proportion_stats, ratio_stats
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.srm_sequential import anytime_srm_p_value

ALPHA = 0.05


@dataclass(frozen=True)
class Regime:
    """One row: `kind` is "proportion" (a per-unit 0/1 rate, relative limit), "ratio" (errors over
    `requests` requests per unit, unit rates Beta-distributed with intra-unit correlation `icc`,
    relative limit), "mean" (revenue: a share `rate` of spenders with lognormal(mu, sigma) values,
    relative limit), "absolute" (a rate against `max`), "agreement" (agreeing over paired requests
    per unit against `min`), "absolute_mean" (revenue against `min`). `cap`: a mean metric
    winsorised at that value per unit (the plan's `cap`), the truth at the limit of the capped mean."""

    name: str
    kind: str
    rate: float
    per_look: int  # units per look, both arms together
    share: float = 0.5  # the candidate's share of units
    limit: float = 0.10  # relative: max_increase (or max_drop when `drop`); absolute: the limit itself
    drop: bool = False
    requests: int = 1
    icc: float = 0.0
    lognormal: tuple[float, float] = (3.0, 1.0)
    cap: float | None = None


def _clustered(rng: np.random.Generator, n: np.ndarray, rate: float, requests: int, icc: float) -> np.ndarray:
    """Per cell of `n` units: (Σx, Σx²) of events among `requests` requests per unit."""
    out = np.zeros((2, *n.shape))
    for index, units in np.ndenumerate(n):
        if icc > 0:
            concentration = 1.0 / icc - 1.0
            rates = rng.beta(rate * concentration, (1.0 - rate) * concentration, int(units))
        else:
            rates = np.full(int(units), rate)
        x = rng.binomial(requests, rates)
        out[:, index[0], index[1]] = x.sum(), (x * x).sum()
    return out


def _revenue(rng: np.random.Generator, n: np.ndarray, spend: float, mu: float, sigma: float,
             scale: float, cap: float | None = None) -> np.ndarray:
    """Per cell: (Σv, Σv², Σv³) of n units, a share `spend` of them spending lognormal(mu, sigma) × scale
    (each value winsorised at `cap` when given)."""
    spenders = rng.binomial(n, spend)
    out = np.zeros((3, *n.shape))
    for index, k in np.ndenumerate(spenders):
        values = scale * rng.lognormal(mu, sigma, int(k))
        if cap is not None:
            values = np.minimum(values, cap)
        out[:, index[0], index[1]] = values.sum(), (values**2).sum(), (values**3).sum()
    return out


def _arm(regime: Regime, rng: np.random.Generator, n: np.ndarray, factor: float) -> np.ndarray:
    """Cumulative sufficient statistics of one arm, shape (stats, runs, looks)."""
    if regime.kind in ("proportion", "absolute"):
        draws = rng.binomial(n, min(regime.rate * factor, 1.0))[None]
    elif regime.kind in ("ratio", "agreement"):
        draws = _clustered(rng, n, regime.rate * factor, regime.requests, regime.icc)
    else:
        mu, sigma = regime.lognormal
        draws = _revenue(rng, n, regime.rate, mu, sigma, factor, regime.cap)
    return np.cumsum(draws, axis=2)


def _stats(regime: Regime, n: int, sums: np.ndarray):
    if regime.kind in ("proportion", "absolute"):
        return proportion_stats(n, int(sums[0]))
    if regime.kind in ("ratio", "agreement"):
        k = regime.requests
        return ratio_stats(n, float(sums[0]), float(n * k), float(sums[1]), float(n * k * k), float(k * sums[0]),
                           counts=True)
    return mean_stats(n, float(sums[0]), float(sums[1]), float(sums[2]))


def wrong_verdicts(regime: Regime, runs: int, looks: int, seed: int, tuning_n: float = 5000.0) -> float:
    """The share of rollouts with any verdict (all wrong: the truth is at the limit)."""
    rng = np.random.default_rng(seed)
    relative = regime.kind in ("proportion", "ratio", "mean")
    share = regime.share if relative else 1.0
    cand_n = rng.binomial(regime.per_look, share, (runs, looks)) if share < 1.0 else np.full((runs, looks),
                                                                                             regime.per_look)
    base_n = regime.per_look - cand_n
    limit_factor = (1.0 - regime.limit if regime.drop else 1.0 + regime.limit) if relative else 1.0
    if regime.cap is not None and relative:
        limit_factor = _capped_factor(regime, limit_factor)
    cand = _arm(regime, rng, cand_n, limit_factor)
    base = _arm(regime, rng, base_n, 1.0) if relative else None
    nb, nc = np.cumsum(base_n, axis=1), np.cumsum(cand_n, axis=1)
    horizon = float(regime.per_look * looks)
    wrong = 0
    for run in range(runs):
        for look in range(looks):
            c = _stats(regime, int(nc[run, look]), cand[:, run, look])
            if relative:
                b = _stats(regime, int(nb[run, look]), base[:, run, look])
                limits = {"max_drop": regime.limit, "max_increase": None} if regime.drop else \
                    {"max_drop": None, "max_increase": regime.limit}
                result = judge_relative(b, c, **limits, alpha=ALPHA, tuning_n=tuning_n, min_units=100,
                                        horizon_n=horizon)
            else:
                result = judge_absolute(c, **_absolute_limits(regime), alpha=ALPHA, tuning_n=tuning_n, min_units=100, horizon_n=horizon)
            if result.outcome is not Outcome.INCONCLUSIVE:
                wrong += 1
                break
    return wrong / runs


def _capped_mean(mu: float, sigma: float, scale: float, cap: float) -> float:
    """E[min(scale · X, cap)] for X lognormal(mu, sigma)."""
    from scipy.stats import norm

    k = math.log(cap / scale)
    below = math.exp(mu + sigma * sigma / 2.0) * float(norm.cdf((k - mu - sigma * sigma) / sigma))
    return scale * below + cap * float(norm.sf((k - mu) / sigma))


def _capped_factor(regime: Regime, ratio: float) -> float:
    """The scale of the candidate's values whose capped mean is `ratio` times the baseline's: the truth
    exactly at the limit of the capped metric (the metric a capped guard judges)."""
    from scipy.optimize import brentq

    mu, sigma = regime.lognormal
    goal = ratio * _capped_mean(mu, sigma, 1.0, regime.cap)
    return float(brentq(lambda f: _capped_mean(mu, sigma, f, regime.cap) - goal, 0.01, 100.0, xtol=1e-12))


def _absolute_limits(regime: Regime) -> dict[str, float | None]:
    """The absolute limit exactly at the candidate's true value."""
    if regime.kind == "absolute":
        return {"min": None, "max": regime.rate}
    if regime.kind == "agreement":
        return {"min": regime.rate, "max": None}
    mu, sigma = regime.lognormal
    return {"min": regime.rate * float(np.exp(mu + sigma * sigma / 2.0)), "max": None}


# Every guard kind in the regimes of docs/statistics.md, section 14 (the benchmark's full grid).
FULL_GRID = [
    Regime("proportion 0.1%, 20,000 units/look, 50/50", "proportion", 0.001, 20_000),
    Regime("proportion 0.1%, 10⁶ units/look, 50/50", "proportion", 0.001, 1_000_000),
    Regime("proportion 2%, 200 units/look, 50/50", "proportion", 0.02, 200),
    Regime("proportion 50%, 100 units/look, 50/50", "proportion", 0.5, 100),
    Regime("proportion 10%, 100,000 units/look, 1% candidate", "proportion", 0.10, 100_000, share=0.01),
    Regime("proportion 10%, 2,000 units/look, 20% candidate, max_drop", "proportion", 0.10, 2000, share=0.2,
           limit=0.02, drop=True),
    Regime("proportion 10%, 10⁶ units/look, 50/50, max_drop 1%", "proportion", 0.10, 1_000_000, limit=0.01,
           drop=True),
    Regime("ratio: errors 1%, 1 request/unit, 2,000 units/look", "ratio", 0.01, 2000, requests=1),
    Regime("ratio: errors 1%, 20 requests/unit, ICC 0.25, 1,000 units/look", "ratio", 0.01, 1000, requests=20,
           icc=0.25),
    Regime("ratio: errors 2%, 50 requests/unit, ICC 0.5, 400 units/look", "ratio", 0.02, 400, requests=50, icc=0.5),
    Regime("ratio: slow share 10%, 50 requests/unit, ICC 0.1, 5% candidate", "ratio", 0.10, 2000, share=0.05,
           requests=50, icc=0.1),
    Regime("mean: revenue 10% spend lognormal(3, 1), 1,000 units/look, max_drop 10%", "mean", 0.10, 1000,
           drop=True),
    Regime("mean: heavy tail 5% spend lognormal(0, 2), 500 units/look", "mean", 0.05, 500, lognormal=(0.0, 2.0)),
    Regime("absolute: error rate at max 0.5%, 400 units/look", "absolute", 0.005, 400),
    Regime("absolute: error rate at max 0.1%, 50,000 units/look", "absolute", 0.001, 50_000),
    Regime("agreement at min 90%, 20 paired requests/unit, ICC 0.3, 200 units/look", "agreement", 0.90, 200,
           requests=20, icc=0.3),
    Regime("absolute mean: revenue at its min, 10% spend lognormal(3, 1), 1,000 units/look", "absolute_mean", 0.10,
           1000),
    Regime("mean: heavy tail 5% spend lognormal(0, 2) capped at 50 (97.5th pct of spenders), 500 units/look", "mean",
           0.05, 500, lognormal=(0.0, 2.0), cap=50.0),
]

# The suite's fast subset: one row of each kind, the rest in the benchmark.
FAST_GRID = [FULL_GRID[i] for i in (4, 5, 9, 11, 13, 15)]


def false_stops(runs: int, looks: int, seed: int, per_look: int = 2000, share: float = 0.5) -> float:
    """A/A: conversion `max_drop 2%` and errors `max 0.5%`, on the whole and on 3 segment values
    (8 checks, Holm), and the SRM test, all together: the share of rollouts ever stopped."""
    rng = np.random.default_rng(seed)
    segments = [0.5, 0.3, 0.2]
    cand_n = rng.binomial(per_look, share, (runs, looks))
    stops = 0
    for run in range(runs):
        totals = np.zeros((len(segments), 2, 3))  # segment x arm x (units, conversions, errors)
        for look in range(looks):
            for arm, units in enumerate((per_look - cand_n[run, look], cand_n[run, look])):
                split = rng.multinomial(units, segments)
                totals[:, arm, 0] += split
                totals[:, arm, 1] += rng.binomial(split, 0.10)
                totals[:, arm, 2] += rng.binomial(split, 0.002)
            whole = totals.sum(axis=0)
            results = []
            for cells in [whole, *totals]:
                b, c = (proportion_stats(int(cells[a, 0]), int(cells[a, 1])) for a in (0, 1))
                results.append(judge_relative(b, c, max_drop=0.02, max_increase=None, alpha=ALPHA, tuning_n=5000,
                                              min_units=100))
                errors = proportion_stats(int(cells[1, 0]), int(cells[1, 2]))
                results.append(judge_absolute(errors, min=None, max=0.005, alpha=ALPHA, tuning_n=5000, min_units=100))
            failed = any(r.outcome is Outcome.FAIL for r in apply_holm(results, ALPHA))
            srm = anytime_srm_p_value([int(whole[0, 0]), int(whole[1, 0])], [1 - share, share]) < 0.001
            if failed or srm:
                stops += 1
                break
    return stops / runs
