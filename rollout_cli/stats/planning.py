"""How many units a guard needs: fixed-horizon sample size and the sequential counterpart.

Used by `plan simulate` and the evaluator's explanations, and by the benchmarks to put the
units the always-valid test needed next to what a classical one-look test needs.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from rollout_cli.stats.sequential import halfwidth, rho_squared


def _relative_unit_variance(baseline_mean: float, baseline_var: float, candidate_share: float) -> float:
    """n_total * Var(relative change) with both arms at the baseline's variance."""
    if baseline_mean == 0:
        raise ValueError("the baseline mean is zero; a relative change is undefined")
    if not 0.0 < candidate_share < 1.0:
        raise ValueError(f"the candidate share must be in (0, 1), got {candidate_share}")
    inverse_shares = 1.0 / candidate_share + 1.0 / (1.0 - candidate_share)
    return baseline_var * inverse_shares / (baseline_mean * baseline_mean)


def fixed_horizon_units(baseline_mean: float, baseline_var: float, relative_effect: float, alpha: float,
                        power: float, *, candidate_share: float = 0.5) -> int:
    """Total units (both arms) a two-sided fixed-horizon z-test at `alpha` needs to detect
    `relative_effect` with probability `power`, looking exactly once.

    `relative_effect` is the distance to detect: for a guard, the true relative change minus
    the limit (a 4% drop against a 2% max_drop is a distance of 2%). Both arms are assumed to
    have the baseline's per-unit variance.
    """
    if relative_effect == 0:
        raise ValueError("the effect to detect must not be zero")
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0) + NormalDist().inv_cdf(power)
    variance = _relative_unit_variance(baseline_mean, baseline_var, candidate_share)
    return math.ceil(z * z * variance / (relative_effect * relative_effect))


def sequential_units(baseline_mean: float, baseline_var: float, relative_effect: float, alpha: float,
                     tuning_n: float, *, candidate_share: float = 0.5) -> int:
    """Total units at which the always-valid interval's half-width equals `relative_effect`.

    If the estimate sits at its true value this is when the interval stops touching the limit:
    roughly the median number of units the sequential guard needs (half the runs take longer).
    """
    if relative_effect == 0:
        raise ValueError("the effect to detect must not be zero")
    variance = _relative_unit_variance(baseline_mean, baseline_var, candidate_share)
    rho2 = rho_squared(alpha, tuning_n)
    target = abs(relative_effect)
    low, high = 2, 2
    while halfwidth(variance, high, alpha, rho2) > target:
        high *= 2
        if high > 10 ** 15:
            raise ValueError("the effect is too small to detect with any realistic number of units")
    while low < high:
        mid = (low + high) // 2
        if halfwidth(variance, mid, alpha, rho2) > target:
            low = mid + 1
        else:
            high = mid
    return low

