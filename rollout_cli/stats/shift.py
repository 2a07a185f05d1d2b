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

Each window's decision uses that window's rows only, so the false-alarm rate is bounded per
window; docs/statistics.md says how repeated windows are controlled. Pure: counts in, result out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

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


def _delta_variance(p: list[float], q: list[float], n: int, m: int) -> float:
    """Delta-method variance of the plug-in PSI: each side's multinomial noise through its gradient."""
    def side(shares: list[float], grad: list[float], rows: int) -> float:
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
                confidence: float) -> ShiftResult:
    """The PSI of `window` against `reference` (counts over the same bins, same order), its
    two-sided `confidence` interval, and the decision against `threshold` (> 0)."""
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
    effective = n * m / (n + m)
    df = len(kept) - 1
    lam_low, lam_high = _noncentral_bounds(effective * estimate, df, alpha)
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    centre = max(estimate - df / effective, 0.0)
    half = z * math.sqrt(_delta_variance(p, q, n, m))
    low = max(min(lam_low / effective, centre - half), 0.0)
    high = max(lam_high / effective, centre + half)
    if low > threshold:
        decision = ShiftDecision.DRIFTED
    elif high < threshold:
        decision = ShiftDecision.NOT_DRIFTED
    else:
        decision = ShiftDecision.NOT_ENOUGH_DATA
    return ShiftResult(estimate, low, high, threshold, confidence, decision, m, n, tuple(contributions))
