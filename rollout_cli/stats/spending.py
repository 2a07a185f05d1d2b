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

if TYPE_CHECKING:
    import numpy as np

_STEPS = 120  # time steps, uniform in log(1 + s)
_POINTS = 121  # grid points across the band between the boundaries


def _boundary(s: np.ndarray | float, level: float) -> np.ndarray:
    import numpy as np  # only when a level is computed, not tabulated (numpy costs ~0.1 s to import)

    s1 = np.asarray(s, dtype=float) + 1.0
    return np.sqrt(2.0 * s1 * np.log(np.sqrt(s1) / level))


def crossing_probability(level: float, horizon: float) -> float:
    """P(a standard Brownian motion leaves +-boundary(s, level) for some s <= horizon)."""
    if horizon <= 0:
        return 0.0
    import numpy as np

    times = np.expm1(np.linspace(0.0, math.log1p(horizon), _STEPS + 1))
    bounds = _boundary(times, level)
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


@lru_cache(maxsize=256)
def _level(alpha: float, horizon_key: float) -> float:
    from scipy.optimize import brentq

    if crossing_probability(0.5, horizon_key) <= alpha:
        return 0.5
    return float(brentq(lambda level: crossing_probability(level, horizon_key) - alpha, alpha, 0.5, xtol=1e-5))


def horizon_level(alpha: float, horizon: float) -> float:
    """The nominal level whose boundary is crossed before `horizon` (= T rho²) with probability
    alpha; never below alpha (Ville's bound holds anyway) and at most 0.5; alpha itself when alpha
    is 0.5 or more or the horizon is not a positive number.

    The horizon is rounded down to 24 steps per decade before computing (cached): a shorter
    horizon gives a smaller level, so rounding down is on the safe side. The usual alphas' levels
    are tabulated (stats/horizon_table.py: the same numbers, computed once).
    """
    if not 0.0 < alpha < 0.5 or horizon <= 0 or not math.isfinite(horizon):
        return alpha
    step = math.floor(math.log10(horizon) * 24.0)
    tabled = tabled_level(alpha, step)
    return max(alpha, tabled if tabled is not None else _level(alpha, 10.0 ** (step / 24.0)))
