"""Sample-ratio mismatch: does the router split units as planned? (Fabijan et al. 2019)

Pearson's chi-square goodness-of-fit test of the units per arm against the planned shares.
A mismatch means the arms are no longer comparable (a redirect that drops some users, a bot
filter that acts on one arm, a router that does not do what it says), so it fails the stage on
its own, whatever the guards say. Flagged at p < 0.001, a deliberately strict threshold: the
test is run at every look, and a false alarm stops a healthy rollout.

Stdlib only: the chi-square tail is the regularised upper incomplete gamma function
Q(df/2, x/2), computed by its series or its continued fraction (both classical); for one degree
of freedom it is erfc(sqrt(x/2)) exactly.
"""

from __future__ import annotations

import math

SRM_THRESHOLD = 0.001

_EPS = 1e-15
_MAX_ITER = 10_000


def _lower_series(a: float, x: float) -> float:
    """P(a, x) by its power series (converges fast for x < a + 1)."""
    term = 1.0 / a
    total = term
    denom = a
    for _ in range(_MAX_ITER):
        denom += 1.0
        term *= x / denom
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_continued_fraction(a: float, x: float) -> float:
    """Q(a, x) by its continued fraction, modified Lentz (converges fast for x >= a + 1)."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h * math.exp(-x + a * math.log(x) - math.lgamma(a))


def regularized_upper_gamma(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a), for a > 0 and x >= 0."""
    if a <= 0:
        raise ValueError(f"the shape must be positive, got {a}")
    if x <= 0:
        return 1.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _lower_series(a, x))
    return min(1.0, _upper_continued_fraction(a, x))


def chi_square_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X chi-square with `df` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if statistic <= 0:
        return 1.0
    if math.isinf(statistic):
        return 0.0
    if df == 1:
        return math.erfc(math.sqrt(statistic / 2.0))
    return regularized_upper_gamma(df / 2.0, statistic / 2.0)


def srm_p_value(counts: list[int], expected_shares: list[float]) -> float:
    """Pearson chi-square p-value of the unit counts per arm against the planned shares.

    Shares need not sum to 1 (they are normalised; percentages work too). An arm planned at
    share 0 is left out when it has no units, and makes p = 0 when it has some (units where
    none should be is a mismatch beyond doubt). No units at all, or a single arm, gives p = 1:
    there is nothing to test.
    """
    if len(counts) != len(expected_shares):
        raise ValueError("counts and expected_shares must have the same length")
    if any(c < 0 for c in counts) or any(s < 0 or not math.isfinite(s) for s in expected_shares):
        raise ValueError("counts and shares must be non-negative")
    total_share = sum(expected_shares)
    total = sum(counts)
    if total == 0 or total_share <= 0:
        return 1.0
    statistic = 0.0
    arms = 0
    for count, share in zip(counts, expected_shares):
        if share == 0:
            if count > 0:
                return 0.0
            continue
        expected = total * share / total_share
        statistic += (count - expected) ** 2 / expected
        arms += 1
    if arms < 2:
        return 1.0
    return chi_square_sf(statistic, arms - 1)


def is_mismatch(p_value: float) -> bool:
    """True when the split is flagged (p below SRM_THRESHOLD)."""
    return p_value < SRM_THRESHOLD
