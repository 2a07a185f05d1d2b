"""Always-valid bounds on a quantile, and the relative quantile guard (p99 max_increase 10%).

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

For the relative guard, each arm's bounds are taken at alpha / 2 (a union bound, so both hold
together with probability >= 1 - alpha), and for positive values
    candidate_low / baseline_high - 1  <=  ξ_c / ξ_b - 1  <=  candidate_high / baseline_low - 1.
Pass when the upper end is within the limit, fail when the lower end is beyond it. The bounds
cannot be inverted in closed form, so p_fail comes from a ladder of levels (alpha, alpha/2, ...,
alpha/128): p_fail is the smallest level at which the fail condition holds, which is a valid,
slightly conservative p-value for Holm.

Requests nested in units (docs/statistics.md, section 6): one user's requests are correlated, so
S_n is not binomial — its variance is D n q (1 - q), D the design effect of the indicator
"request <= the quantile". `design_effect` measures D per arm from per-unit counts at the
estimated quantile (the cluster-robust, delta-method variance of the indicator's mean, as Deng,
Knoblich & Lu 2018 do for quantile metrics), and the bounds are then taken on n / D effective
observations and scaled back to levels of the n requests (Woodruff's interval with a
cluster-robust variance, carried over to the mixture). D = 1 gives the exact bounds above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rollout_cli.stats.guards import GuardResult
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.sequential import Interval, rho_squared
from rollout_cli.units import format_fraction

LADDER_STEPS = 8  # alpha, alpha/2, ..., alpha/128: enough for Holm over 128 checks


@dataclass(frozen=True)
class QuantileBounds:
    """One arm's bounds on its true quantile at level `alpha` (None: no bound yet)."""

    alpha: float
    n: int
    estimate: float
    low: float | None
    high: float | None


def alpha_ladder(alpha: float) -> list[float]:
    """The levels at which the relative quantile guard is evaluated, largest first."""
    return [alpha / 2 ** k for k in range(LADDER_STEPS)]


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


def quantile_levels(n: int, q: float, alpha: float, tuning_n: float,
                    design: float = 1.0) -> list[tuple[float, float | None, float | None]]:
    """For each level of `alpha_ladder(alpha)`: (level, q_low, q_high) of one arm at level / 2
    (`design`: the arm's design effect, see `quantile_rank_bounds`).

    Ask the database for the quantiles at every non-None level of every row (one aggregate), then
    build one QuantileBounds per row with `QuantileBounds(alpha=level, ...)`.
    """
    return [(level, *quantile_rank_bounds(n, q, level / 2.0, tuning_n, design)) for level in alpha_ladder(alpha)]


def _relative_interval(base: QuantileBounds, cand: QuantileBounds) -> tuple[float | None, float | None]:
    low = cand.low / base.high - 1.0 if cand.low is not None and base.high else None
    high = cand.high / base.low - 1.0 if cand.high is not None and base.low else None
    return low, high


def judge_relative_quantile(base_bounds: QuantileBounds | Sequence[QuantileBounds],
                            cand_bounds: QuantileBounds | Sequence[QuantileBounds],
                            max_increase: float | None, *, max_drop: float | None = None, alpha: float,
                            min_units: int) -> GuardResult:
    """Judge candidate_quantile / baseline_quantile - 1 against max_increase and/or max_drop.

    Bounds are given per level (a sequence over `alpha_ladder(alpha)`, or just the one at
    `alpha`). Values must be positive (latencies); otherwise the check is inconclusive.
    """
    if max_drop is None and max_increase is None:
        raise ValueError("a relative guard needs max_drop or max_increase")
    bases = [base_bounds] if isinstance(base_bounds, QuantileBounds) else list(base_bounds)
    cands = {c.alpha: c for c in ([cand_bounds] if isinstance(cand_bounds, QuantileBounds) else cand_bounds)}
    main_base = next((b for b in bases if math.isclose(b.alpha, alpha)), None)
    if main_base is None or not any(math.isclose(a, alpha) for a in cands):
        raise ValueError(f"bounds at the plan's level {alpha} are required")
    main_cand = next(c for a, c in cands.items() if math.isclose(a, alpha))
    short = [f"{name} {b.n}" for name, b in (("baseline", main_base), ("candidate", main_cand)) if b.n < min_units]
    if short:
        return GuardResult(Outcome.INCONCLUSIVE, None, 1.0, None, f"too few units ({', '.join(short)}; need "
                           f"{min_units} per arm)")
    if not (main_base.estimate > 0 and math.isfinite(main_cand.estimate) and main_cand.estimate >= 0):
        return GuardResult(Outcome.INCONCLUSIVE, None, 1.0, None,
                           "the baseline quantile is not positive, so a relative change is undefined")
    effect = main_cand.estimate / main_base.estimate - 1.0

    def fails(base: QuantileBounds, cand: QuantileBounds) -> bool:
        low, high = _relative_interval(base, cand)
        return ((max_increase is not None and low is not None and low > max_increase)
                or (max_drop is not None and high is not None and high < -max_drop))

    p_fail = 1.0
    for base in sorted(bases, key=lambda b: b.alpha):  # smallest level first
        cand = next((c for a, c in cands.items() if math.isclose(a, base.alpha)), None)
        if cand is not None and fails(base, cand):
            p_fail = base.alpha
            break
    low, high = _relative_interval(main_base, main_cand)
    interval = Interval(low=low if low is not None else -math.inf, high=high if high is not None else math.inf,
                        estimate=effect)
    passes = ((max_increase is None or (high is not None and high < max_increase))
              and (max_drop is None or (low is not None and low > -max_drop)))
    if p_fail <= alpha:
        outcome, where = Outcome.FAIL, "wholly beyond"
    elif passes:
        outcome, where = Outcome.PASS, "wholly within"
    else:
        outcome, where = Outcome.INCONCLUSIVE, "not yet wholly on one side of"
    reason = f"the {format_fraction(1 - alpha)} always-valid interval of the quantile ratio is {where} the limit"
    return GuardResult(outcome=outcome, interval=interval, p_fail=p_fail, effect=effect, reason=reason,
                       p_pass=alpha if passes else 1.0)
