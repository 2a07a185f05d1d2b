"""Score-type always-valid intervals for rates (shares of trials in [0, 1]).

The plug-in interval `mean ± h * sqrt(variance)` judges a rate with the variance measured at
the estimate. With few events that variance is itself too small exactly when the estimate is
too low (0 errors in 300 requests "measures" a variance of 0), so an error-rate guard at its
limit passed wrongly up to twice as often as alpha in simulation. Wilson's remedy (1927) is
to judge each candidate value θ with the variance a rate *would have at θ*:

    θ is in the interval  <=>  (p̂ - θ)^2 <= h^2 * θ (1 - θ) * D

with h the confidence-sequence factor of `sequential.halfwidth` and D the design factor: the
variance of a unit's rate per unit of Bernoulli variance, at least 1 / (trials per unit) —
larger when a unit's trials are correlated (measured: sample variance / p̂(1 - p̂)).
Solving the quadratic gives the interval in closed form.

Until the design factor can be trusted (`guard_design_factor`), an absolute guard also has an exact
rule for passing that needs no factor at all (`exact_pass_p_value`): a unit's rate lies in [0, 1], so
a unit holds an event with probability at least the rate, whatever the correlation of its trials.
"""

from __future__ import annotations

import math

from rollout_cli.stats.sequential import ArmStats, Interval, Mixture, halfwidth, rho_squared

# The effective events (`effective_events`) from which an absolute guard trusts a measured design
# factor (docs/statistics.md, section 4, "Few units holding the events").
TRUSTED_EVENTS = 100
# Until then the share of alpha the exact unit-level rule spends on passing; the score interval
# spends the rest (Bonferroni), and a pass by either stands (docs/statistics.md, section 4).
EXACT_SHARE = 0.05
# The exact rule's alternatives: units holding events at these shares of the limit's distance from
# the rate's edge (0: none at all), mixed with equal weights.
_EXACT_ALTERNATIVES = (0.0, 0.1, 0.25, 0.5)


def design_factor(arm: ArmStats) -> float:
    """The variance of a unit's value at rate θ, per unit of θ(1 - θ)."""
    independent = 1.0 / arm.trials_per_unit
    p = arm.mean
    if 0.0 < p < 1.0 and arm.variance > 0:
        return max(independent, arm.variance / (p * (1.0 - p)))
    return independent


def effective_events(arm: ArmStats) -> float:
    """The arm's events on the rarer side (events or non-events) over the design effect: as many
    independent events as its clustered ones are worth. With rare events it is about (Σa)² / Σa² over
    the units' counts a, so it is small when a few units hold them."""
    p = min(max(arm.mean, 0.0), 1.0)
    return arm.n * min(p, 1.0 - p) / design_factor(arm)


def worst_case(arm: ArmStats) -> bool:
    """Whether an absolute guard judges `arm` with the worst-case design factor (see below)."""
    return arm.trials_per_unit > 1.0 and effective_events(arm) < TRUSTED_EVENTS


def guard_design_factor(arm: ArmStats) -> float:
    """The design factor an absolute guard judges with: the measured one once the arm holds
    TRUSTED_EVENTS effective events, and until then the largest a rate can have, 1 (a unit's trials
    all alike, each unit one trial; the variance of a unit's rate never exceeds θ(1 - θ)).
    With one trial per unit the factor is known, not measured, and is kept."""
    measured = design_factor(arm)
    return max(measured, 1.0) if worst_case(arm) else measured


def _units_holding(arm: ArmStats, low: float | None, high: float | None) -> tuple[float, float] | None:
    """For a one-sided guard judged with the worst-case factor: (the limit's distance from the rate's
    harmless edge, the most units that can hold events counted from that edge — one per event): `max`
    counts events from 0, `min` non-events from 1. None where the exact rule does not apply."""
    if not worst_case(arm) or arm.n <= 0:
        return None
    trials = arm.n * arm.trials_per_unit
    events = trials * min(max(arm.mean, 0.0), 1.0)
    if high is not None and low is None and 0.0 < high < 1.0:
        distance = high
    elif low is not None and high is None and 0.0 < low < 1.0:
        distance, events = 1.0 - low, trials - events
    else:
        return None
    return distance, min(float(round(events)), float(arm.n))


def _exact_log_evidence(n: float, holding: float, limit: float) -> float:
    """log of the mixture of likelihood ratios "units hold events at share π1" against "at share
    `limit`", with `holding` of n units holding events: a nonnegative supermartingale whenever the
    true share is `limit` or more, and smaller with more units holding them."""
    terms = []
    for share in _EXACT_ALTERNATIVES:
        pi = share * limit
        if pi == 0.0 and holding > 0:
            continue
        hits = holding * math.log(pi / limit) if holding > 0 else 0.0
        terms.append(hits + (n - holding) * (math.log1p(-pi) - math.log1p(-limit)))
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms) / len(_EXACT_ALTERNATIVES))


def exact_pass_p_value(arm: ArmStats, low: float | None, high: float | None) -> float | None:
    """Ville's always-valid p-value of "the rate is at or beyond its limit", from the units alone; None
    when the guard judges with a measured design factor or has limits on both sides.

    A unit's rate r lies in [0, 1], so P(the unit holds an event) >= E[r] = the rate, whatever the
    correlation of its trials; and at most as many units hold events as there are events. A test of
    "units hold events at share >= limit", with every event counted as held by its own unit, is
    therefore exact for the rate (for units with equal trials; docs/statistics.md, section 4)."""
    found = _units_holding(arm, low, high)
    if found is None:
        return None
    limit, holding = found
    return math.exp(-max(_exact_log_evidence(float(arm.n), holding, limit), 0.0))


def exact_bound(arm: ArmStats, low: float | None, high: float | None, alpha: float) -> float | None:
    """The end of the exact rule's level-(1 - alpha) interval on the guard's harmful side: the
    limit at which `exact_pass_p_value` equals alpha (None where the rule does not apply)."""
    found = _units_holding(arm, low, high)
    if found is None:
        return None
    from scipy.optimize import brentq  # lazily: only guards in the worst-case regime need it

    holding = found[1]
    target = math.log(1.0 / alpha)
    far = 1.0 - 1e-12
    if _exact_log_evidence(float(arm.n), holding, far) < target:
        distance = 1.0
    else:
        distance = brentq(lambda d: _exact_log_evidence(float(arm.n), holding, d) - target,
                          max(holding / arm.n, 1e-12), far, xtol=1e-12)
    return distance if high is not None else 1.0 - distance


def rate_variance_at(arm: ArmStats, theta: float, *, guarded: bool = False) -> float:
    """The per-unit variance the arm's rate would have if its true value were θ (`guarded`: with
    `guard_design_factor`)."""
    theta = min(max(theta, 0.0), 1.0)
    return theta * (1.0 - theta) * (guard_design_factor(arm) if guarded else design_factor(arm))


def half_event(arm: ArmStats) -> float:
    """Half an event as a share of the arm's trials (Yates 1934): taken off the distance between the
    rate and a value tested, it evens out the heavier upper tail of a count with few events, which
    made an error-rate guard at its limit fail wrongly more often than alpha (docs/statistics.md, section 4)."""
    trials = arm.n * arm.trials_per_unit
    return 0.5 / trials if trials > 0 else 0.0


def _wilson(p: float, factor: float) -> tuple[float, float]:
    """The θ with (p - θ)² = factor · θ (1 - θ): the ends of the score interval around p."""
    a, b = 1.0 + factor, 2.0 * p + factor
    root = math.sqrt(factor * factor + 4.0 * factor * p * (1.0 - p))
    return max(0.0, (b - root) / (2.0 * a)), min(1.0, (b + root) / (2.0 * a))


def rate_sequence(arm: ArmStats, alpha: float, tuning_n: float | Mixture, *, level: float | None = None,
                  corrected: bool = False) -> Interval:
    """Always-valid (1 - alpha) score interval for a rate (arm.trials_per_unit > 0); `tuning_n` and
    `level` as in sequential.mean_sequence. `corrected`: as the guards judge it, with their continuity
    correction (each end is the score interval's around the rate moved half an event outwards) and
    `guard_design_factor`."""
    if arm.trials_per_unit <= 0:
        raise ValueError("a score interval needs a metric of counts (trials_per_unit > 0)")
    rho2 = tuning_n if isinstance(tuning_n, Mixture) else rho_squared(alpha, tuning_n)
    factor = halfwidth(1.0, arm.n, level or alpha, rho2) ** 2 * (guard_design_factor(arm) if corrected
                                                                 else design_factor(arm))
    p = min(max(arm.mean, 0.0), 1.0)
    shift = half_event(arm) if corrected else 0.0
    return Interval(low=_wilson(max(p - shift, 0.0), factor)[0], high=_wilson(min(p + shift, 1.0), factor)[1],
                    estimate=arm.mean)
