"""Distribution shift between a reference and a window, judged against a threshold.

The measure is the population stability index over bins,

    PSI = sum_i (p_i - q_i) * ln(p_i / q_i),   p = window shares, q = reference shares,

i.e. the symmetric Kullback-Leibler (Jeffreys) divergence: zero for identical distributions,
additive over bins (so each bin's share of the total says where the mass moved), and the
measure the plan's `max_psi` already speaks. Both sides are samples, so both are noisy.

Why not a fixed cut-off on the plug-in PSI: with no drift at all, N * PSI is roughly chi-square
with (bins - 1) degrees of freedom, N = n*m / (n + m) — so the plug-in value is biased upwards by
about (bins - 1) / N and a fixed 0.1 alarms on most small windows. Why not a p-value: it tests
"exactly no shift", which a window of millions of rows rejects for shifts nobody cares about.

What this module does instead is give the PSI a confidence interval valid at any sample size,
and decide against the threshold:

- drifted:          the whole interval is above the threshold (the shift is, with the
                    confidence asked, larger than the threshold);
- not drifted:      the whole interval is below it;
- not enough data:  the interval straddles it, or a side has no rows.

The interval is the union of two (so it is valid where either is):

1. test inversion on the noncentral chi-square: N * PSI^ is approximately noncentral chi-square
   with (bins - 1) degrees of freedom and noncentrality N * PSI (the argument behind RMSEA
   intervals, Steiger & Lind 1980). Inverting it in the noncentrality accounts for the bias of
   small windows exactly where the normal approximation is worst;
2. a delta-method normal interval around the bias-corrected estimate PSI^ - (bins - 1) / N,
   with the variance of the plug-in estimator from both samples. It is the correct
   large-sample interval when the shift is large, where (1) assumes a variance of 4 PSI / N.

Empty bins get half a count on both sides (Jeffreys' prior) so a category seen only in the
window has a finite, large contribution. Bins empty on both sides are dropped: they carry no
information and must not add degrees of freedom.

Rows are not independent when one unit (a user) sends many requests: its rows share its values,
so the window's bin shares vary more than a multinomial sample of as many rows would. When the
caller gives `window_groups` (a `GroupCross`: the units of the window hashed into K random groups,
and the cross-products of the groups' bin counts), the window's rows are divided by a design effect
D >= 1 measured from them (`design_effect`), so both intervals see the window's honest sample size
(docs/statistics.md, "Drift", clustered requests). The reference side may carry its own.

Each window's decision uses that window's rows only, so the false-alarm rate is bounded per
window; docs/statistics.md says how repeated windows are controlled. Pure: counts in, result out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where a design effect is computed: `rollout status` loads this module
    import numpy as np

PSEUDO_COUNT = 0.5  # Jeffreys' prior per bin, on both sides


class ShiftDecision(str, Enum):
    DRIFTED = "drifted"
    NOT_DRIFTED = "not drifted"
    NOT_ENOUGH_DATA = "not enough data"


@dataclass(frozen=True)
class ShiftResult:
    """The PSI of a window against a reference, its interval and the decision against `threshold`.

    `contributions[i]` is bin i's term of the PSI (same order as the counts given; 0 for a bin
    empty on both sides); they sum to `estimate`.
    """

    estimate: float  # plug-in PSI with the pseudo-counts
    low: float
    high: float
    threshold: float
    confidence: float
    decision: ShiftDecision
    reference_rows: int
    window_rows: int
    contributions: tuple[float, ...]

    def bins_moved_most(self, limit: int = 3) -> tuple[int, ...]:
        """Indexes of the bins with the largest contributions, largest first (ties: lower index)."""
        order = sorted(range(len(self.contributions)), key=lambda i: (-self.contributions[i], i))
        return tuple(i for i in order[:limit] if self.contributions[i] > 0)


@dataclass(frozen=True)
class GroupCross:
    """One side's rows over K random groups of its units (a unit's group is its hash modulo K):
    `cross` is the bins x bins matrix sum_k x_k x_k' of the groups' count vectors x_k (the groups'
    totals per bin; same bin order as the counts). Its row sums and total follow: sum_k x_k y_k and
    sum_k y_k^2, with y_k the group's rows. Enough for the random-groups covariance of the shares."""

    cross: np.ndarray
    groups: int


def design_effect(counts: Sequence[int], groups: GroupCross, gradient: Sequence[float], kept: Sequence[int]) -> float:
    """The design effect of a side's bin shares, >= 1: how many times the variance of the shares
    exceeds a multinomial sample of as many independent rows.

    The shares are a ratio over units, sum_u x_ub / sum_u n_u; their covariance by the random group
    method with linearisation (Wolter, ch. 2; `stats.random_groups`):
        Cov = K / (K - 1) * sum_k (x_k - p y_k)(x_k - p y_k)' / N^2.
    Two ratios to the multinomial covariance (diag(p) - pp') / N are taken, and the larger kept:
    - along `gradient` (the PSI's derivative in these shares): the delta-method variance and the
      noncentral part of the chi-square, which is what the decision at the threshold rests on;
    - the mean generalised design effect over the bins, sum_b Cov_bb / p_b * N / (bins - 1) (Rao &
      Scott 1981, first order): the central chi-square part, which dominates when the shift is small.
    """
    import numpy as np

    x = np.asarray(counts, dtype=float)
    n = float(x.sum())
    k = groups.groups
    idx = [i for i in kept if x[i] > 0]
    if n <= 0 or k < 2 or len(idx) < 2:
        return 1.0
    c = np.asarray(groups.cross, dtype=float)
    p = x / n
    xy = c.sum(axis=1)
    yy = float(c.sum())
    s = c - np.outer(p, xy) - np.outer(xy, p) + yy * np.outer(p, p)
    cov = k / (k - 1) * s / (n * n)
    multinomial = (np.diag(p) - np.outer(p, p)) / n
    where = {b: j for j, b in enumerate(kept)}
    g = np.array([gradient[where[i]] for i in idx])
    sub = np.ix_(idx, idx)
    found = [1.0]
    along = float(g @ multinomial[sub] @ g)
    if along > 1e-15 * float(g @ g) / n:
        found.append(float(g @ cov[sub] @ g) / along)
    found.append(float(np.sum(np.diag(cov)[idx] / p[idx])) * n / (len(idx) - 1))
    return max(found)


def _shares(reference: Sequence[int], window: Sequence[int]) -> tuple[list[float], list[float], list[int]]:
    """Smoothed window and reference shares over the bins seen on either side, and their indexes."""
    kept = [i for i, (r, w) in enumerate(zip(reference, window, strict=True)) if r > 0 or w > 0]
    ref_total = sum(reference[i] for i in kept) + PSEUDO_COUNT * len(kept)
    win_total = sum(window[i] for i in kept) + PSEUDO_COUNT * len(kept)
    q = [(reference[i] + PSEUDO_COUNT) / ref_total for i in kept]
    p = [(window[i] + PSEUDO_COUNT) / win_total for i in kept]
    return p, q, kept


def psi(reference: Sequence[int], window: Sequence[int]) -> float:
    """The plug-in PSI of two count vectors over the same bins (pseudo-counts as above)."""
    p, q, _ = _shares(reference, window)
    return sum((pi - qi) * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))


def _delta_variance(p: list[float], q: list[float], n: float, m: float) -> float:
    """Delta-method variance of the plug-in PSI: each side's multinomial noise through its gradient."""
    def side(shares: list[float], grad: list[float], rows: float) -> float:
        mean = sum(s * g for s, g in zip(shares, grad, strict=True))
        return (sum(s * g * g for s, g in zip(shares, grad, strict=True)) - mean * mean) / rows

    grad_p = [math.log(pi / qi) + 1.0 - qi / pi for pi, qi in zip(p, q, strict=True)]
    grad_q = [math.log(qi / pi) + 1.0 - pi / qi for pi, qi in zip(p, q, strict=True)]
    return max(side(p, grad_p, n) + side(q, grad_q, m), 0.0)


def _noncentral_bounds(statistic: float, df: int, alpha: float) -> tuple[float, float]:
    """Noncentrality bounds [lo, hi] of a two-sided (1 - alpha) interval from one ncx2 draw:
    the noncentralities at which `statistic` is the upper and the lower alpha/2 quantile."""
    from scipy.special import chdtr, chndtrinc  # the ufuncs: scipy.stats' generic machinery costs ~1 ms a call

    def solve(target: float) -> float:
        # The CDF falls as the noncentrality grows; when it is already below target at 0, the bound is 0.
        if float(chdtr(df, statistic)) <= target:
            return 0.0
        return max(float(chndtrinc(statistic, df, target)), 0.0)

    return solve(1.0 - alpha / 2.0), solve(alpha / 2.0)


def judge_shift(reference: Sequence[int], window: Sequence[int], threshold: float,
                confidence: float, *, window_groups: GroupCross | None = None,
                reference_groups: GroupCross | None = None) -> ShiftResult:
    """The PSI of `window` against `reference` (counts over the same bins, same order), its
    two-sided `confidence` interval, and the decision against `threshold` (> 0). A side's
    `..._groups` (its units in random groups) divides its rows by its design effect; without them
    its rows are taken as independent."""
    if len(reference) != len(window):
        raise ValueError(f"reference has {len(reference)} bins, window {len(window)}")
    if any(c < 0 for c in reference) or any(c < 0 for c in window):
        raise ValueError("bin counts must be non-negative")
    if not threshold > 0 or not 0 < confidence < 1:
        raise ValueError("threshold must be above 0 and confidence between 0 and 1")
    m, n = int(sum(reference)), int(sum(window))
    p, q, kept = _shares(reference, window)
    terms = [(pi - qi) * math.log(pi / qi) for pi, qi in zip(p, q, strict=True)]
    contributions = [0.0] * len(reference)
    for i, term in zip(kept, terms, strict=True):
        contributions[i] = term
    estimate = sum(terms)
    if m == 0 or n == 0 or len(kept) < 2:
        # No rows on a side, or a single bin (nothing to compare): never a "not drifted".
        low, high = 0.0, math.inf
        if m > 0 and n > 0:
            low, high = 0.0, 0.0
        decision = ShiftDecision.NOT_ENOUGH_DATA if (m == 0 or n == 0) else ShiftDecision.NOT_DRIFTED
        return ShiftResult(estimate, low, high, threshold, confidence, decision, m, n, tuple(contributions))
    alpha = 1.0 - confidence
    grad_p = [math.log(pi / qi) + 1.0 - qi / pi for pi, qi in zip(p, q, strict=True)]
    n_eff, m_eff = float(n), float(m)
    if window_groups is not None:
        n_eff = n / design_effect(window, window_groups, grad_p, kept)
    if reference_groups is not None:
        grad_q = [math.log(qi / pi) + 1.0 - pi / qi for pi, qi in zip(p, q, strict=True)]
        m_eff = m / design_effect(reference, reference_groups, grad_q, kept)
    effective = n_eff * m_eff / (n_eff + m_eff)
    df = len(kept) - 1
    lam_low, lam_high = _noncentral_bounds(effective * estimate, df, alpha)
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    centre = max(estimate - df / effective, 0.0)
    half = z * math.sqrt(_delta_variance(p, q, n_eff, m_eff))
    low = max(min(lam_low / effective, centre - half), 0.0)
    high = max(lam_high / effective, centre + half)
    if low > threshold:
        decision = ShiftDecision.DRIFTED
    elif high < threshold:
        decision = ShiftDecision.NOT_DRIFTED
    else:
        decision = ShiftDecision.NOT_ENOUGH_DATA
    return ShiftResult(estimate, low, high, threshold, confidence, decision, m, n, tuple(contributions))
