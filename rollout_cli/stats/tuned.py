"""The harm a relative guard's own limit names (docs/statistics.md, section 2, "Tuned at the limit").

A relative guard names the effect that matters: a harm of twice its limit sits one limit beyond
the limit the sequence tests. With the variance the data show, the units a fixed-horizon test
needs to see that distance with 80% power at alpha (two-sided) are known, and so is the drift of
that harm per unit (effect / sigma = z / sqrt(units), z = z_(1-alpha/2) + z_0.8): the point
alternative of the guard's sequence, whose likelihood ratio reaches a verdict soonest, on average,
when that harm is true (Wald's probability ratio test).
"""

from __future__ import annotations

import math
from statistics import NormalDist

from rollout_cli.stats.sequential import ArmStats

POWER = 0.8


def _log_distance(limit: float) -> float:
    """The distance, on the log-ratio scale, between a relative limit and twice that limit."""
    if 1.0 + 2.0 * limit > 0.0:
        return abs(math.log1p(2.0 * limit) - math.log1p(limit))
    return abs(math.log1p(limit))  # a drop of 50% or more: twice it is not a ratio; use the limit itself


def limit_tuning_units(baseline: ArmStats, candidate: ArmStats, max_drop: float | None,
                       max_increase: float | None, alpha: float) -> float | None:
    """Units of both arms at which a fixed-horizon test at alpha has 80% power against a harm of
    twice the (nearest) limit, with the log ratio's delta-method variance of the data; None when
    the means or variances do not allow it (the plan's tuning size alone is then used)."""
    limits = [-d for d in (max_drop,) if d is not None and 0.0 < d < 1.0]
    limits += [i for i in (max_increase,) if i is not None and i > 0.0]
    if not limits or baseline.n < 2 or candidate.n < 2 or not baseline.mean > 0:
        return None
    unit_b = baseline.effective_variance / baseline.mean ** 2
    # a candidate without events (or values) yet is taken as noisy as the baseline
    unit_c = candidate.effective_variance / candidate.mean ** 2 if candidate.mean > 0 else unit_b
    total = baseline.n + candidate.n
    per_unit = (unit_b / baseline.n + (unit_c if unit_c > 0 else unit_b) / candidate.n) * total
    distance = min(_log_distance(limit) for limit in limits)
    units = _z(alpha) ** 2 * per_unit / (distance * distance)
    return units if math.isfinite(units) and units > 0 else None


def _z(alpha: float) -> float:
    return NormalDist().inv_cdf(1.0 - alpha / 2.0) + NormalDist().inv_cdf(POWER)


def alternative(units: float, alpha: float) -> float:
    """The standardised drift per unit (effect / sigma) that a fixed-horizon test at alpha detects
    with 80% power after `units`: the centre of the point alternative tuned there."""
    return _z(alpha) / math.sqrt(units)


def alternative_units(centre: float, alpha: float) -> float:
    """The inverse of `alternative`: the units at which a point alternative `centre` is tuned."""
    return (_z(alpha) / centre) ** 2
