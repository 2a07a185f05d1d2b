"""Spending the whole alpha within a stage's horizon (docs/statistics.md, section 2).

The normal-mixture confidence sequence of `sequential` is valid over an infinite horizon: by
Ville's inequality a Brownian motion crosses its level-alpha boundary *ever* with probability
at most alpha. A stage does not run for ever — it ends at its `max_duration` — and over a
horizon of T units the boundary is crossed far less often (1.2–2.1% instead of 5% in the
benchmark), which is alpha left unspent and units wasted. `horizon_level(alpha, h)` is the
nominal level alpha' > alpha whose boundary a Brownian motion crosses *before the horizon*
with probability exactly alpha (continuous monitoring, so any number of looks is covered), h
being the horizon in the sequence's own time scale, T rho². Looks after the horizon (more traffic
than declared) use the horizon n itself, so the boundary keeps tightening as units arrive.

Scale: with s = t rho^2 and X_s = rho W_(s / rho^2), X is a standard Brownian motion and the
boundary is +-sqrt(2 (s + 1) log(sqrt(s + 1) / alpha')) — the crossing probability depends on
(alpha', h) only. It is computed by propagating X's density on a grid in s and x with absorbing
boundaries, each step's kernel multiplied by the Brownian-bridge probability of not touching
either boundary between grid times (so crossings between grid times are counted too).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

from rollout_cli.stats.horizon_table import tabled_level
from rollout_cli.stats.mixture_table import tabled_mixture_level

if TYPE_CHECKING:
    import numpy as np

from rollout_cli.stats.sequential import Mixture

_STEPS = 120  # time steps, uniform in log(1 + s)
_POINTS = 121  # grid points across the band between the boundaries
# Past 10^8 tuning sizes the level that spends alpha is alpha itself to within the grid's error (the
# tabled levels reach alpha by 10^6); alpha, Ville's bound, is then used without computing.
_LONGEST = 1e8


def _boundary(s: np.ndarray | float, level: float, mixture: Mixture | None = None) -> np.ndarray:
    import numpy as np  # only when a level is computed, not tabulated (numpy costs ~0.1 s to import)

    s = np.asarray(s, dtype=float)
    if mixture is None:
        return np.sqrt(2.0 * (s + 1.0) * np.log(np.sqrt(s + 1.0) / level))
    if len(mixture.rho2s) == 1:
        return np.sqrt([mixture.boundary_s2(float(t), level) for t in s])
    # Mixture.boundary_s2 for every time at once: the log martingale grows with x^2, so bisect
    # between the bounds that Mixture.boundary_s2 also uses (60 halvings: far below the grid's error).
    parts = [(r, m, w) for (r, m), w in zip(mixture.components(), mixture.weights) if w > 0]
    target = -math.log(level)

    def log_m(s2: np.ndarray) -> np.ndarray:
        terms = []
        for r, m, w in parts:
            if m == 0.0:
                grow = 1.0 + s * r
                terms.append(math.log(w) - 0.5 * np.log(grow) + r * s2 / (2.0 * grow))
            else:  # log cosh(m S) - m^2 s / 2
                x = m * np.sqrt(s2)
                terms.append(math.log(w) + x + np.log1p(np.exp(-2.0 * x)) - math.log(2.0) - 0.5 * m * m * s)
        return np.logaddexp.reduce(np.array(terms), axis=0)

    def single(r: float, m: float, goal: float) -> np.ndarray:
        return np.array([mixture.single_s2(r, m, float(t), goal) for t in s])

    low = np.min([single(r, m, target) for r, m, _ in parts], axis=0)  # the average is below the largest term
    high = np.min([single(r, m, target - math.log(w)) for r, m, w in parts], axis=0)
    for _ in range(60):
        mid = 0.5 * (low + high)
        above = log_m(mid) >= target
        high, low = np.where(above, mid, high), np.where(above, low, mid)
    return np.sqrt(high)


def crossing_probability(level: float, horizon: float, mixture: Mixture | None = None) -> float:
    """P(a standard Brownian motion leaves +-boundary(s, level) for some s <= horizon); `mixture`:
    the boundary of an average of normal mixtures whose parameters are given in the scale s (the
    reference component has rho2 = 1), None for one mixture."""
    if horizon <= 0:
        return 0.0
    import numpy as np

    times = np.expm1(np.linspace(0.0, math.log1p(horizon), _STEPS + 1))
    bounds = _boundary(times, level, mixture)
    # the density after the first step, on the grid of that step's band
    x = np.linspace(-bounds[1], bounds[1], _POINTS)
    dx = x[1] - x[0]
    dens = np.exp(-x * x / (2.0 * times[1])) / math.sqrt(2.0 * math.pi * times[1]) * dx
    dens *= _bridge_stay(np.zeros(1), x, times[1], bounds[0], bounds[1])[0]
    for k in range(2, _STEPS + 1):
        dt = times[k] - times[k - 1]
        y = np.linspace(-bounds[k], bounds[k], _POINTS)
        dy = y[1] - y[0]
        diff = y[None, :] - x[:, None]
        kernel = np.exp(-diff * diff / (2.0 * dt)) / math.sqrt(2.0 * math.pi * dt) * dy
        kernel *= _bridge_stay(x, y, dt, bounds[k - 1], bounds[k])
        dens = dens @ kernel
        x = y
    return float(min(max(1.0 - dens.sum(), 0.0), 1.0))


def _bridge_stay(x: np.ndarray, y: np.ndarray, dt: float, b0: float, b1: float) -> np.ndarray:
    """P(a Brownian bridge from x to y over dt stays inside both boundaries), the boundary taken
    as the straight line from b0 to b1 (exact for a linear boundary, one side at a time)."""
    import numpy as np

    up = np.clip(1.0 - np.exp(-2.0 * np.maximum(b0 - x, 0.0)[:, None] * np.maximum(b1 - y, 0.0)[None, :] / dt), 0, 1)
    down = np.clip(1.0 - np.exp(-2.0 * np.maximum(b0 + x, 0.0)[:, None] * np.maximum(b1 + y, 0.0)[None, :] / dt), 0, 1)
    return up * down


@lru_cache(maxsize=1024)
def _level(alpha: float, horizon_key: float, mixture: Mixture | None = None) -> float:
    from scipy.optimize import brentq

    def crossing(level: float) -> float:
        return crossing_probability(level, horizon_key, mixture)

    if crossing(0.5) <= alpha:
        return 0.5
    # The crossing probability is nearly proportional to the level: a secant step on the log-log scale
    # from alpha and alpha^2 / crossing(alpha) converges in 3-4 evaluations (Brent's bracket as a fallback).
    from scipy.optimize import newton

    at_alpha = crossing(alpha)
    if at_alpha >= alpha:  # the grid's error at very long horizons: alpha itself is valid (Ville's bound)
        return alpha
    first = min(max(alpha * alpha / max(at_alpha, 1e-12), alpha), 0.5)
    try:
        log_level = newton(lambda x: math.log(max(crossing(math.exp(x)), 1e-300)) - math.log(alpha),
                           math.log(first), x1=math.log(first) + 0.02, tol=1e-3, maxiter=12)
        level = math.exp(float(log_level))  # within 0.1% of the level that spends alpha exactly
        if alpha <= level <= 0.5:
            return level
    except (RuntimeError, ArithmeticError, ValueError):
        pass
    return float(brentq(lambda level: crossing(level) - alpha, alpha, 0.5, xtol=1e-5))


def horizon_level(alpha: float, horizon: float, mixture: Mixture | None = None) -> float:
    """The nominal level whose boundary is crossed before `horizon` (= T rho²) with probability
    alpha; never below alpha (Ville's bound holds anyway) and at most 0.5; alpha itself when alpha
    is 0.5 or more or the horizon is not a positive number of at most 10^8 (`_LONGEST`).

    `mixture` (several tuning sizes): its rho2s in units of the largest one, the reference of the
    horizon's rho²; the ratios are rounded up to 8 steps per decade (`mixture_key`), the safe side.
    The horizon is rounded up to 24 steps per decade before computing (cached): the level falls
    as the horizon grows (a longer horizon leaves less to spend), so the level of the grid step at
    or above the horizon is at most the one exact for it — the safe side (rounding down would
    spend more than alpha within the true horizon). The usual alphas' levels
    are tabulated (stats/horizon_table.py, and stats/mixture_table.py for the guards' two-component
    mixtures: the same numbers, computed once).
    """
    if not 0.0 < alpha < 0.5 or not 0.0 < horizon <= _LONGEST:
        return alpha
    # at or above the horizon; 1e-9 of a step absorbs log10's rounding on a grid point itself
    step = math.ceil(math.log10(horizon) * 24.0 - 1e-9)
    tabled = tabled_level(alpha, step) if mixture is None else tabled_mixture_level(alpha, step, mixture)
    return max(alpha, tabled if tabled is not None else _level(alpha, 10.0 ** (step / 24.0), mixture))


def mixture_key(mixture: Mixture) -> tuple[float, Mixture | None]:
    """(the reference scale, the mixture in its units, rounded) for `horizon_level`. A component's
    scale is its rho² (normal) or its centre² (point alternative); the reference is the largest
    (the shortest tuning size), so the time grid covers every component."""
    if len(mixture.rho2s) == 1 and not any(mixture.centres):
        return mixture.rho2s[0], None
    scales = [r if m == 0.0 else m * m for r, m in mixture.components()]
    reference = max(scales)

    # rounded up (towards 1): a ratio nearer 1 puts that component's decisions earlier within the same
    # horizon, so its boundary is crossed more often and the level found is smaller — the safe side
    def rounded(scale: float) -> float:
        return 10.0 ** (math.ceil(math.log10(scale / reference) * 8.0 - 1e-9) / 8.0)

    ratios = [rounded(scale) for scale in scales]
    rho2s = tuple(q if m == 0.0 else 0.0 for q, (_, m) in zip(ratios, mixture.components()))
    centres = tuple(0.0 if m == 0.0 else math.sqrt(q) for q, (_, m) in zip(ratios, mixture.components()))
    return reference, Mixture(rho2s, mixture.weights, centres if any(centres) else ())
