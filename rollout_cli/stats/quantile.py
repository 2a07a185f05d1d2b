"""Always-valid bounds on one arm's quantile, and the design effect of requests nested in units.

After Howard & Ramdas (2022), "Sequential estimation of quantiles with applications to
A/B-testing and best-arm identification": if ξ is the true q-quantile of a continuous
distribution, the number S_n of observations <= ξ is Binomial(n, q), whatever the distribution.
A confidence sequence for S_n — here the beta-binomial mixture martingale

    M_n(s) = B(a + s, b + n - s) / ( B(a, b) q^s (1 - q)^(n - s) ),

an exact (not asymptotic) nonnegative martingale under q, so by Ville's inequality
P(exists n: M_n(S_n) >= 1/alpha) <= alpha — gives ranks s_low <= S_n <= s_high at every n at
once, hence  X_(s_low) <= ξ < X_(s_high + 1)  for the order statistics X_(k). The prior
Beta(r q, r (1 - q)) is tuned like the normal mixture of `sequential` (its spread matches rho at
the tuning sample size). The evaluator turns the ranks into quantile levels and asks the
database for the empirical quantiles there (`quantile_rank_bounds`).

These are one arm's bounds (reported, and the reference the relative guard's calibration is
checked against); the relative quantile guard is stats/quantile_ratio.py.

Requests nested in units (docs/statistics.md, section 6): one user's requests are correlated, so
S_n is not binomial — its variance is D n q (1 - q), D the design effect of the indicator
"request <= the quantile". `design_effect` measures D per arm from per-unit counts at the
estimated quantile (the cluster-robust, delta-method variance of the indicator's mean, as Deng,
Knoblich & Lu 2018 do for quantile metrics), and the bounds are then taken on n / D effective
observations and scaled back to levels of the n requests (Woodruff's interval with a
cluster-robust variance, carried over to the mixture). D = 1 gives the exact bounds above. The
relative guard takes the same D into its standard errors (stats/quantile_ratio.py).
"""

from __future__ import annotations

import math

from rollout_cli.stats.sequential import rho_squared


def _log_mixture(s: int, n: int, q: float, a: float, b: float) -> float:
    def log_beta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    return log_beta(a + s, b + n - s) - log_beta(a, b) - s * math.log(q) - (n - s) * math.log1p(-q)


def rank_bounds(n: int, q: float, alpha: float, tuning_n: float) -> tuple[int, int]:
    """The ranks [s_low, s_high] that S_n (observations <= the true quantile) stays within."""
    if n < 1:
        raise ValueError("need at least one observation")
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q}")
    # The normal mixture puts a N(0, rho^2) prior on the standardised drift, i.e. variance
    # rho^2 q (1 - q) on the success probability; Beta(r q, r (1 - q)) has q (1 - q) / (r + 1).
    r = max(1.0 / rho_squared(alpha, tuning_n) - 1.0, 1.0)
    a, b = r * q, r * (1.0 - q)
    threshold = math.log(1.0 / alpha)

    def inside(s: int) -> bool:
        return _log_mixture(s, n, q, a, b) < threshold

    # log M_n(s) is convex in s with its minimum near n q, so the set inside is an interval.
    lo_s, hi_s = 0, n
    while lo_s < hi_s:  # the minimising rank, by bisection on the sign of the difference
        mid = (lo_s + hi_s) // 2
        if _log_mixture(mid + 1, n, q, a, b) < _log_mixture(mid, n, q, a, b):
            lo_s = mid + 1
        else:
            hi_s = mid
    centre = lo_s
    if not inside(centre):
        return (1, 0)  # empty: cannot happen for sensible alpha, but never claim a bound then
    lo, hi = 0, centre  # first rank inside
    while lo < hi:
        mid = (lo + hi) // 2
        if inside(mid):
            hi = mid
        else:
            lo = mid + 1
    s_low = lo
    lo, hi = centre, n  # last rank inside
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if inside(mid):
            lo = mid
        else:
            hi = mid - 1
    return (s_low, lo)


def design_level(q: float) -> float:
    """The companion level whose design effect is measured beside q's: three times as far from
    the nearer end (p97 for a p99, p70 for a p90), at most the median. At an extreme level few
    units hold the requests beyond the estimate, so its design effect is estimated from few units
    and low exactly when those are few; the companion's, from three times as many, steadies it."""
    tail = min(0.5, 3.0 * min(q, 1.0 - q))
    return 1.0 - tail if q > 0.5 else tail


def design_effect(units: int, requests: float, below: float, below_sq: float, below_requests: float,
                  requests_sq: float) -> float:
    """D: the variance of the share of requests <= the estimated quantile, over units, divided by
    the binomial variance it would have if requests were independent; never below 1.

    Per unit: x = its requests <= the estimate, y = its requests (Σx, Σx², Σxy, Σy, Σy² over
    `units` units). The share R = Σx / Σy has the delta-method variance of stats.sequential's
    ratio_stats; D = Var(R) / (R (1 - R) / Σy). One request per unit gives exactly 1.
    """
    if units < 2 or requests <= units or not 0.0 < below < requests:
        return 1.0
    share = below / requests
    mean_y = requests / units
    var_x = (below_sq - below * below / units) / (units - 1)
    var_y = (requests_sq - requests * requests / units) / (units - 1)
    cov = (below_requests - below * requests / units) / (units - 1)
    var_share = max(var_x - 2.0 * share * cov + share * share * var_y, 0.0) / (mean_y * mean_y) / units
    effect = var_share / (share * (1.0 - share) / requests)
    return max(1.0, effect) if math.isfinite(effect) else 1.0


def quantile_rank_bounds(n: int, q: float, alpha: float, tuning_n: float,
                         design: float = 1.0) -> tuple[float | None, float | None]:
    """Quantile levels (q_low, q_high) whose empirical quantiles bound the true q-quantile.

    The levels are for linear-interpolation quantiles (DuckDB's quantile_cont, numpy's default),
    which at level (k - 1) / (n - 1) return exactly the k-th smallest value: the true quantile
    lies in [quantile_cont(q_low), quantile_cont(q_high)] at every n with probability >= 1 - alpha.
    None on a side means no bound there yet (too few observations; e.g. a p99 upper bound needs
    the count above it to be large enough) — the guard is then inconclusive on that side.

    `design` > 1 (requests clustered in units, `design_effect`): the ranks are found among
    n / design effective observations and scaled back by design, so the levels widen by about
    sqrt(design) — asymptotically valid, as the other sequences are.
    """
    if n < 2:
        return (None, None)
    effective = n if design <= 1.0 else max(2, int(n / design))
    s_low, s_high = rank_bounds(effective, q, alpha, tuning_n)
    if s_low > s_high:
        return (None, None)
    scale = n / effective  # ranks among the effective observations -> ranks among the n requests
    # Nudged outwards by a hair so rounding of (n - 1) * level never interpolates inwards.
    q_low = max(0.0, (s_low * scale - 1) / (n - 1) - 1e-12) if s_low >= 1 else None
    q_high = min(1.0, s_high * scale / (n - 1) + 1e-12) if s_high + 1 <= effective else None
    return (q_low, q_high)
