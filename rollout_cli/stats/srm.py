"""Sample-ratio mismatch: does the router split units as planned? (Fabijan et al. 2019)

Pearson's chi-square goodness-of-fit test of the units per arm against the planned shares.
A mismatch means the arms are no longer comparable (a redirect that drops some users, a bot
filter that acts on one arm, a router that does not do what it says), so it fails the stage on
its own, whatever the guards say. Flagged at p < 0.001, a deliberately strict threshold: the
test is run at every look, and a false alarm stops a healthy rollout.

Two arms, so one degree of freedom: the chi-square tail is erfc(sqrt(x/2)) exactly (stdlib
only; scipy stays a test dependency, where it checks this to 1e-10).
"""

from __future__ import annotations

import math

SRM_THRESHOLD = 0.001


def chi_square_sf(statistic: float) -> float:
    """P(X >= statistic) for X chi-square with one degree of freedom."""
    if statistic <= 0:
        return 1.0
    if math.isinf(statistic):
        return 0.0
    return math.erfc(math.sqrt(statistic / 2.0))


def srm_p_value(counts: list[int], expected_shares: list[float]) -> float:
    """Pearson chi-square p-value of the unit counts of the two arms against the planned shares.

    Shares need not sum to 1 (they are normalised; percentages work too). An arm planned at
    share 0 is left out when it has no units, and makes p = 0 when it has some (units where
    none should be is a mismatch beyond doubt). No units at all, or a single arm, gives p = 1:
    there is nothing to test.
    """
    if len(counts) != len(expected_shares):
        raise ValueError("counts and expected_shares must have the same length")
    if len(counts) != 2:
        raise ValueError(f"a split has two arms, got {len(counts)}")
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
    return chi_square_sf(statistic)


def is_mismatch(p_value: float) -> bool:
    """True when the split is flagged (p below SRM_THRESHOLD)."""
    return p_value < SRM_THRESHOLD
