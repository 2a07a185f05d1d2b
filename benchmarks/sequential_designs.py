"""The designs `bench_statistics.py --speed` compares with the guards, on the same simulated data.

Every function takes cumulative event counts of both arms, shape (runs, looks), after looks of
`units` units per arm, a relative `max_drop` limit and alpha, and returns per run the first
decisive outcome (+1 pass, -1 fail, 0 none) and its look (-1 when none), stopping at the first
verdict as the controller does.

- `fixed_horizon`: the classical test, one look at the 80%-power sample size.
- `group_sequential`: Lan-DeMets-style group-sequential boundaries with equally spaced looks up to
  the horizon — O'Brien-Fleming (constant on the sum scale) or Pocock (constant z) — the
  constant found by recursive numerical integration (Armitage, McPherson & Rowe 1969) with
  scipy's normal density and root finder, so that the two-sided crossing probability is alpha.
- `growthbook`: GrowthBook's asymptotic confidence sequence — the normal mixture on the plain
  ratio scale (delta method), tuned at 5,000 units (its default).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm

from rollout_cli.stats.sequential import rho_squared


def _log_ratio_z(base: np.ndarray, cand: np.ndarray, n: np.ndarray, max_drop: float) -> np.ndarray:
    """z of log(pc / pb) against log(1 - max_drop), delta-method variance (positive = harmless side)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pb, pc = base / n, cand / n
        var = (1 - pc) / (n * pc) + (1 - pb) / (n * pb)
        z = (np.log(pc / pb) - math.log1p(-max_drop)) / np.sqrt(var)
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


def _first(decision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    decided = decision != 0
    look = np.where(decided.any(axis=1), decided.argmax(axis=1), -1)
    rows = np.arange(decision.shape[0])
    outcome = np.where(look >= 0, decision[rows, np.maximum(look, 0)], 0)
    return outcome, look


def fixed_horizon(base: np.ndarray, cand: np.ndarray, units: int, max_drop: float, alpha: float,
                  fixed_units: float) -> tuple[np.ndarray, np.ndarray]:
    """One look at the look nearest the fixed-horizon sample size (both arms)."""
    k = max(0, min(base.shape[1] - 1, round(fixed_units / (2 * units)) - 1))
    n = np.full(base.shape[0], units * (k + 1), dtype=float)
    z = _log_ratio_z(base[:, k], cand[:, k], n, max_drop)
    c = norm.ppf(1 - alpha / 2)
    outcome = np.where(z >= c, 1, np.where(z <= -c, -1, 0))
    return outcome, np.where(outcome != 0, k, -1)


def _crossing(constants: np.ndarray, grid: int = 301) -> float:
    """P(|Z_k| >= c_k for some k) for K equally spaced looks of a standard Brownian motion."""
    looks = len(constants)
    x = np.linspace(-constants[0], constants[0], grid)  # S_1 = Z_1 (information 1 per look)
    dens = norm.pdf(x) * (x[1] - x[0])
    for k in range(1, looks):
        bound = constants[k] * math.sqrt(k + 1)  # on the sum scale S_k = Z_k sqrt(k)
        y = np.linspace(-bound, bound, grid)
        dens = dens @ (norm.pdf(y[None, :] - x[:, None]) * (y[1] - y[0]))
        x = y
    return float(1.0 - dens.sum())


def group_sequential_constants(looks: int, alpha: float, kind: str) -> np.ndarray:
    """z boundaries c_k of the two-sided design: O'Brien-Fleming c sqrt(K / k), Pocock c."""
    shape = np.sqrt(looks / np.arange(1, looks + 1)) if kind == "obrien-fleming" else np.ones(looks)
    c = brentq(lambda c: _crossing(c * shape) - alpha, 1.0, 6.0, xtol=1e-4)
    return c * shape


def group_sequential(base: np.ndarray, cand: np.ndarray, units: int, max_drop: float, alpha: float,
                     kind: str) -> tuple[np.ndarray, np.ndarray]:
    looks = base.shape[1]
    n = units * np.arange(1, looks + 1, dtype=float)
    z = _log_ratio_z(base, cand, n, max_drop)
    c = group_sequential_constants(looks, alpha, kind)
    return _first(np.where(z >= c, 1, np.where(z <= -c, -1, 0)))


def growthbook(base: np.ndarray, cand: np.ndarray, units: int, max_drop: float, alpha: float,
               tuning_n: float = 5000.0) -> tuple[np.ndarray, np.ndarray]:
    looks = base.shape[1]
    n = units * np.arange(1, looks + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pb, pc = base / n, cand / n
        effect = pc / pb - 1
        total = 2 * n
        var = (pc * (1 - pc) / n / pb**2 + pc**2 * pb * (1 - pb) / n / pb**4) * total
        rho2 = rho_squared(alpha, tuning_n)
        v = total * rho2
        half = np.sqrt(var * 2 * (v + 1) / (total * total * rho2) * np.log(np.sqrt(v + 1) / alpha))
        decision = np.where(effect + half < -max_drop, -1, np.where(effect - half > -max_drop, 1, 0))
    return _first(np.nan_to_num(decision).astype(int))
