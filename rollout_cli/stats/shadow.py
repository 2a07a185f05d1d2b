"""Shadow-stage statistics: agreement of paired answers, and asymmetric label flips.

In a shadow stage the candidate answers the same requests as the baseline, unseen by users.
Three tools:

- `wilson_interval` (Wilson 1927): a fixed-n interval for the agreement rate, for display
  (`rollout shadow`), well behaved near 0 and 1 where the plain normal interval is not;
- `mcnemar_p_value` (McNemar 1947): for labels, whether the disagreements lean one way
  (baseline A -> candidate B more often than B -> A): exact binomial for fewer than 25
  discordant pairs, chi-square with continuity correction otherwise;
- `agreement_stats`: what the agreement *guard* (`min: 90%`) is judged on. The guard is looked
  at repeatedly like any other, so it uses the same always-valid machinery: the agreement rate
  is the ratio (agreeing paired requests / paired requests) over units, with its delta-method
  variance (requests of one unit are correlated, so the unit is the independent observation)
  and a Bernoulli floor, judged by `guards.judge_absolute(min=...)`.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from rollout_cli.stats.sequential import ArmStats, Interval, ratio_stats
from rollout_cli.stats.srm import chi_square_sf

EXACT_MCNEMAR_BELOW = 25  # discordant pairs; below this the chi-square approximation is poor


def wilson_interval(successes: int, n: int, alpha: float) -> Interval:
    """The (1 - alpha) Wilson score interval for a proportion; n = 0 gives [0, 1] around NaN."""
    if n <= 0:
        return Interval(low=0.0, high=1.0, estimate=math.nan)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be between 0 and n, got {successes} of {n}")
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    p = successes / n
    z2n = z * z / n
    center = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return Interval(low=max(0.0, center - half), high=min(1.0, center + half), estimate=p)


def _binomial_two_sided_half(k: int, n: int) -> float:
    """Two-sided exact p-value of k successes in n fair coin flips, k <= n / 2."""
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
    return min(1.0, 2.0 * tail)


def mcnemar_p_value(b: int, c: int) -> float:
    """McNemar's test of b (baseline A, candidate B) against c (the reverse) discordant pairs."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    n = b + c
    if n == 0:
        return 1.0
    if n < EXACT_MCNEMAR_BELOW:
        return _binomial_two_sided_half(min(b, c), n)
    statistic = (abs(b - c) - 1.0) ** 2 / n
    return chi_square_sf(statistic)


def agreement_stats(n_units: int, agree: float, paired: float, agree_sq: float, paired_sq: float,
                    agree_paired: float) -> ArmStats:
    """The agreement rate over units (sums over units of agreeing and paired requests, their
    squares and product), ready for `judge_absolute(min=...)`."""
    return ratio_stats(n_units, agree, paired, agree_sq, paired_sq, agree_paired, counts=True)
