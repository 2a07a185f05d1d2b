"""Turning always-valid intervals into guard outcomes (docs/statistics.md).

A guard divides the values of a metric into a harmless region and a harmful one, split by its
limit(s). With the level-(1 - alpha) confidence sequence of `sequential`:

- **pass** when the whole interval lies in the harmless region. A stage passes only when every
  check passes, each tested at alpha: an intersection-union test (Berger 1982), whose error
  "pass although some check is harmful" is at most alpha without any correction;
- **fail** when the whole interval lies beyond the limit. Every check reports `p_fail`, an
  always-valid p-value of "the candidate is within the limit", defined so that
  `p_fail <= alpha` exactly when the level-(1 - alpha) interval lies wholly beyond the limit;
  Holm (`apply_holm`) across the checks of a stage then keeps "fail although every check is
  harmless" at most alpha however many guards and segments there are;
- **inconclusive** otherwise, and whenever the data cannot support a verdict (too few units,
  undefined or non-finite statistics, a zero or negative baseline for a relative limit, values
  that do not vary at all). Nothing undefined ever passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from rollout_cli.stats.multiplicity import holm
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.rates import (
    EXACT_SHARE,
    exact_bound,
    exact_pass_p_value,
    half_event,
    rate_sequence,
    rate_variance_at,
)
from rollout_cli.stats.relative_rates import rate_ratio_interval, rate_ratio_p_values
from rollout_cli.stats.sequential import (
    ArmStats,
    Interval,
    Mixture,
    exclusion_p_value,
    halfwidth,
    mean_sequence,
    relative_estimate,
    rho_squared,
)
from rollout_cli.stats.spending import horizon_level, mixture_key
from rollout_cli.stats.tuned import alternative, alternative_units, limit_tuning_units
from rollout_cli.units import format_fraction

OUT_OF_RANGE = "the statistics are out of numeric range (check the metric's values)"
# A stage whose horizon is not declared is taken to end at 3 tuning sizes (the largest, growing with n
# past it): alpha is spent there (docs/statistics.md, section 2, "Spending alpha within the horizon").
HORIZON_FACTOR = 3.0
# The weight of the point alternative at the limit's harm in a relative guard's mixture; the normal
# mixture at the plan's tuning size has the rest (docs/statistics.md, section 2, "Tuned at the limit").
LIMIT_WEIGHT = 0.8
# An absolute guard's sequence when a quarter of its declared horizon lies past its plan's size: the
# normal mixture at the plan's size (weight 1 - HORIZON_WEIGHT) and one at HORIZON_TUNING of the
# horizon (docs/statistics.md, section 2, "Absolute guards: the plan's size and the horizon's").
HORIZON_WEIGHT = 0.8
HORIZON_TUNING = 0.25


def spent_level(alpha: float, tuning_n: float | Mixture, n: float, horizon_n: float | None) -> float:
    """The nominal level of a check's boundary: alpha spent within the stage's horizon (in the
    sequence's n), or within HORIZON_FACTOR tuning sizes when none is declared; past the horizon,
    within n itself. `tuning_n`: one tuning size, or the Mixture of a relative guard."""
    mixture = tuning_n if isinstance(tuning_n, Mixture) else Mixture((rho_squared(alpha, tuning_n),))
    reference, shape = mixture_key(mixture)
    longest = HORIZON_FACTOR * max(rho_squared(alpha, 1.0) / r if m == 0.0 else alternative_units(m, alpha)
                                   for r, m in mixture.components())
    horizon = max(horizon_n or longest, n)
    return horizon_level(alpha, horizon * reference, shape)


def absolute_mixture(alpha: float, tuning_n: float, horizon_n: float | None = None) -> Mixture:
    """The sequence of an absolute guard: the normal mixture tuned at `tuning_n` alone, or — when
    HORIZON_TUNING of the declared horizon lies beyond it — the average of that one (weight
    1 - HORIZON_WEIGHT) and one tuned there (an average of test martingales is one), so that a stage
    whose looks start far past the plan's size does not spend its alpha at times that never come."""
    plan = rho_squared(alpha, tuning_n)
    far = HORIZON_TUNING * horizon_n if horizon_n and math.isfinite(horizon_n) else 0.0
    if far <= tuning_n:
        return Mixture((plan,))
    return Mixture((plan, rho_squared(alpha, far)), (1.0 - HORIZON_WEIGHT, HORIZON_WEIGHT))


def relative_mixture(baseline: ArmStats, candidate: ArmStats, max_drop: float | None, max_increase: float | None,
                     alpha: float, tuning_n: float, horizon_n: float | None = None) -> Mixture:
    """The sequence of a relative guard: a normal mixture tuned at the plan's size (weight
    1 - LIMIT_WEIGHT) and the point alternative of a harm of twice the limit, the drift a fixed-horizon
    test detects with 80% power at the limit's size (`tuned.limit_tuning_units`, at most the declared
    horizon: a stage that ends sooner decides there or not at all); the plan's alone when the limit's
    size is unknown."""
    plan = rho_squared(alpha, tuning_n)
    at_limit = limit_tuning_units(baseline, candidate, max_drop, max_increase, alpha)
    if at_limit is None:
        return Mixture((plan,))
    if horizon_n and math.isfinite(horizon_n):
        at_limit = min(at_limit, horizon_n)
    return Mixture((plan, 0.0), (1.0 - LIMIT_WEIGHT, LIMIT_WEIGHT), (0.0, alternative(at_limit, alpha)))


@dataclass(frozen=True)
class GuardResult:
    """The statistical outcome of one check.

    `p_fail`: always-valid p-value against "the candidate is within the limit" (small = strong
    evidence of harm); 1 when the estimate is on the harmless side or no test was possible.
    `p_pass`: the same against "the candidate is beyond the limit" (small = strong evidence that
    it is within). `reason`: why, in words a log reader understands, for data problems and
    statistical outcomes alike; the evaluator may phrase its own.
    """

    outcome: Outcome
    interval: Interval | None
    p_fail: float
    effect: float | None
    reason: str = ""
    p_pass: float = 1.0


def _inconclusive(reason: str, effect: float | None = None, interval: Interval | None = None) -> GuardResult:
    return GuardResult(outcome=Outcome.INCONCLUSIVE, interval=interval, p_fail=1.0, effect=effect, reason=reason)


def _too_few(arms: Sequence[tuple[str, ArmStats]], min_units: int) -> str | None:
    needed = max(min_units, 2)  # a variance needs two units, whatever the plan says
    short = [f"{name} {arm.n}" for name, arm in arms if arm.n < needed]
    if short:
        return f"too few units ({', '.join(short)}; need {needed} per arm)"
    skewed = max((arm.needed_units for _, arm in arms), default=0)
    short = [f"{name} {arm.n}" for name, arm in arms if arm.n < skewed]
    if short:  # the minimum-information rule: a skewed mean is not yet near normal
        return (f"too few units for values this skewed ({', '.join(short)}; need {skewed} per arm, 25 × "
                f"skewness²; a cap on the metric lowers it)")
    return None


def _not_finite(arms: Sequence[tuple[str, ArmStats]]) -> str | None:
    for name, arm in arms:
        if not arm.is_finite:
            return f"the {name} statistics are undefined (no values, or a ratio over zero)"
    return None


def _side_p_values(estimate: float, variance_at: Callable[[float], float], n: float, rho2: float | Mixture,
                   low_limit: float | None, high_limit: float | None, continuity: float = 0.0) -> tuple[float, float]:
    """(p_fail, p_pass) for harm below `low_limit` and/or above `high_limit`; `variance_at(limit)`
    is the per-unit variance used to test that limit; `continuity` is taken off every distance
    (half an event for counts, `rates.half_event`)."""
    def p(distance: float, variance: float) -> float:
        return exclusion_p_value(max(distance - continuity, 0.0), variance, n, rho2)

    p_fail, p_pass = 1.0, 0.0
    if low_limit is not None:
        variance = variance_at(low_limit)
        if estimate < low_limit:
            p_fail = min(p_fail, p(low_limit - estimate, variance))
            p_pass = 1.0
        else:
            p_pass = max(p_pass, p(estimate - low_limit, variance))
    if high_limit is not None:
        variance = variance_at(high_limit)
        if estimate > high_limit:
            p_fail = min(p_fail, p(estimate - high_limit, variance))
            p_pass = 1.0
        else:
            p_pass = max(p_pass, p(high_limit - estimate, variance))
    return p_fail, p_pass


def _spent(p_fail: float, p_pass: float, alpha: float, level: float) -> tuple[float, float]:
    """p-values of the mixture (compared with the nominal `level`) rescaled so that p <= alpha
    exactly when p_raw <= level: Holm's smaller thresholds alpha/k then use level/k."""
    scale = alpha / level  # 1 stays 1: "the estimate is on the harmless side", no test at all
    return (1.0 if p_fail >= 1.0 else p_fail * scale), (1.0 if p_pass >= 1.0 else p_pass * scale)


def _judge(estimate: float, n: float, alpha: float, rho2: float | Mixture, low_limit: float | None,
           high_limit: float | None, describe: str, *, variance_at: Callable[[float], float],
           interval: Interval, level: float, continuity: float = 0.0) -> GuardResult:
    """The outcome of an estimate tested against limits on its own scale.

    `interval` is the level-(1 - alpha) interval to report, built from the same variances and the
    same nominal `level` (stats.spending), so that "p_fail <= alpha" and "the interval is wholly
    beyond the limit" always agree.
    """
    p_fail, p_pass = _spent(*_side_p_values(estimate, variance_at, n, rho2, low_limit, high_limit, continuity),
                            alpha, level)
    if p_fail <= alpha:
        outcome, where = Outcome.FAIL, "wholly beyond"
    elif p_pass <= alpha:
        outcome, where = Outcome.PASS, "wholly within"
    else:
        outcome, where = Outcome.INCONCLUSIVE, "not yet wholly on one side of"
    reason = f"the {format_fraction(1 - alpha)} always-valid interval is {where} the limit ({describe})"
    return GuardResult(outcome=outcome, interval=interval, p_fail=p_fail, effect=interval.estimate, reason=reason,
                       p_pass=p_pass)


def judge_relative(baseline: ArmStats, candidate: ArmStats, *, max_drop: float | None,
                   max_increase: float | None, alpha: float, tuning_n: float, min_units: int,
                   horizon_n: float | None = None, tune_at_limit: bool = True) -> GuardResult:
    """Judge candidate.mean / baseline.mean - 1 against `max_drop` (harm: below -max_drop) and/or
    `max_increase` (harm: above +max_increase); limits are fractions (0.02 = 2%).

    The sequence is the average of a normal mixture tuned at `tuning_n` and the point alternative of
    a harm of twice the limit (`relative_mixture`; only the former with tune_at_limit=False) and spends alpha within `horizon_n` units of both arms
    (the stage's declared horizon; None: HORIZON_FACTOR times the largest tuning size). `effect`
    and `interval` are relative changes (-0.05 = 5% below baseline).
    """
    if max_drop is None and max_increase is None:
        raise ValueError("a relative guard needs max_drop or max_increase")
    rho_squared(alpha, tuning_n)  # refuses a meaningless alpha or tuning size before anything else
    try:
        mixture = (relative_mixture(baseline, candidate, max_drop, max_increase, alpha, tuning_n, horizon_n)
                   if tune_at_limit
                   else Mixture((rho_squared(alpha, tuning_n),)))
        level = spent_level(alpha, mixture, baseline.n + candidate.n, horizon_n)
        return _judge_relative(baseline, candidate, max_drop, max_increase, alpha, mixture, min_units, level)
    except (ArithmeticError, ValueError):  # values so extreme that floating point gives up
        return _inconclusive(OUT_OF_RANGE)


def _judge_relative(baseline: ArmStats, candidate: ArmStats, max_drop: float | None, max_increase: float | None,
                    alpha: float, rho2: Mixture, min_units: int, level: float) -> GuardResult:
    arms = (("baseline", baseline), ("candidate", candidate))
    problem = _too_few(arms, min_units) or _not_finite(arms)
    if problem:
        return _inconclusive(problem)
    if all(arm.trials_per_unit > 0 and 0.0 <= arm.mean <= 1.0 for _, arm in arms):
        return _judge_rate_ratio(baseline, candidate, max_drop, max_increase, alpha, rho2, level)
    if baseline.mean == 0:
        return _inconclusive("the baseline mean is zero, so a relative change is undefined")
    if baseline.mean < 0:
        return _inconclusive("the baseline mean is negative; relative limits need a positive baseline")
    effect = candidate.mean / baseline.mean - 1.0
    if baseline.effective_variance <= 0 and candidate.effective_variance <= 0:
        return _inconclusive("the values do not vary in either arm, so no interval can be formed", effect)
    estimate = relative_estimate(baseline, candidate)
    if not math.isfinite(estimate.variance):
        return _inconclusive("the variance of the relative change is undefined", effect)
    limits = []
    if max_drop is not None:
        limits.append(f"max drop {format_fraction(max_drop)}")
    if max_increase is not None:
        limits.append(f"max increase {format_fraction(max_increase)}")
    low = estimate.to_scale(-max_drop) if max_drop is not None else None
    high = estimate.to_scale(max_increase) if max_increase is not None else None
    if low is not None and math.isinf(low):
        low = None  # a drop of 100% or more cannot be exceeded by non-negative means
        if high is None:
            return _inconclusive("a max_drop of 100% or more can never be exceeded", effect)
    width = halfwidth(estimate.variance, estimate.n, level, rho2)
    interval = Interval(low=estimate.to_effect(estimate.centre - width),
                        high=estimate.to_effect(estimate.centre + width), estimate=effect)
    return _judge(estimate.centre, estimate.n, alpha, rho2, low, high, ", ".join(limits),
                  variance_at=lambda _limit: estimate.variance, interval=interval, level=level)


def _judge_rate_ratio(baseline: ArmStats, candidate: ArmStats, max_drop: float | None, max_increase: float | None,
                      alpha: float, rho2: Mixture, level: float) -> GuardResult:
    """Rates on both arms: the score test of the rate ratio (`relative_rates`), which stays honest
    with few events, and decides even when the baseline has none."""
    if baseline.mean <= 0 and candidate.mean <= 0:
        return _inconclusive("no events in either arm yet, so a relative change cannot be judged")
    if max_drop is not None and max_drop >= 1.0:
        max_drop = None  # a drop of 100% or more cannot be exceeded by a rate
        if max_increase is None:
            return _inconclusive("a max_drop of 100% or more can never be exceeded")
    limits = [f"max drop {100 * max_drop:g}%"] if max_drop is not None else []
    limits += [f"max increase {100 * max_increase:g}%"] if max_increase is not None else []
    p_fail, p_pass = _spent(*rate_ratio_p_values(baseline, candidate, rho2, max_drop, max_increase), alpha, level)
    interval = rate_ratio_interval(baseline, candidate, rho2, level=level)
    if p_fail <= alpha:
        outcome, where = Outcome.FAIL, "wholly beyond"
    elif p_pass <= alpha:
        outcome, where = Outcome.PASS, "wholly within"
    else:
        outcome, where = Outcome.INCONCLUSIVE, "not yet wholly on one side of"
    reason = f"the {100 * (1 - alpha):g}% always-valid interval is {where} the limit ({', '.join(limits)})"
    effect = interval.estimate if math.isfinite(interval.estimate) else None
    return GuardResult(outcome=outcome, interval=interval, p_fail=p_fail, effect=effect, reason=reason, p_pass=p_pass)


def judge_absolute(candidate: ArmStats, *, min: float | None, max: float | None, alpha: float,
                   tuning_n: float, min_units: int, horizon_n: float | None = None) -> GuardResult:
    """Judge the candidate's mean alone against `min` (harm: below) and/or `max` (harm: above).

    `effect` and `interval` are in the metric's own unit (the candidate's value). A metric of
    counts (trials_per_unit > 0: error rate, agreement, "latency above X") is judged with the
    score-type interval of `rates`, others with the plug-in interval of `sequential`. The sequence
    is `absolute_mixture`'s (the plan's size, and a quarter of a far horizon); alpha is spent within
    `horizon_n` candidate units (None: HORIZON_FACTOR tuning sizes).
    """
    if min is None and max is None:
        raise ValueError("an absolute guard needs min or max")
    mixture = absolute_mixture(alpha, tuning_n, horizon_n)  # refuses a meaningless alpha or tuning size first
    try:
        level = spent_level(alpha, mixture, candidate.n, horizon_n)
        return _judge_absolute(candidate, min, max, alpha, mixture, min_units, level)
    except (ArithmeticError, ValueError):  # values so extreme that floating point gives up
        return _inconclusive(OUT_OF_RANGE)


def _judge_absolute(candidate: ArmStats, low: float | None, high: float | None, alpha: float, mixture: Mixture,
                    min_units: int, level: float) -> GuardResult:
    arms = (("candidate", candidate),)
    problem = _too_few(arms, min_units) or _not_finite(arms)
    if problem:
        return _inconclusive(problem)
    limits = []
    if low is not None:
        limits.append(f"min {low:g}")
    if high is not None:
        limits.append(f"max {high:g}")
    if candidate.trials_per_unit > 0:
        return _judge_absolute_rate(candidate, low, high, alpha, mixture, ", ".join(limits), level)
    if candidate.effective_variance <= 0:
        return _inconclusive("the candidate's values do not vary, so no interval can be formed", candidate.mean)
    variance = candidate.effective_variance
    return _judge(candidate.mean, candidate.n, alpha, mixture, low, high, ", ".join(limits),
                  variance_at=lambda _limit: variance, interval=mean_sequence(candidate, alpha, mixture, level=level),
                  level=level)


def _judge_absolute_rate(candidate: ArmStats, low: float | None, high: float | None, alpha: float,
                         mixture: Mixture, describe: str, level: float) -> GuardResult:
    """A rate against absolute limits: the score interval, and until the design factor is trusted
    also the exact unit-level rule (`rates.exact_pass_p_value`), which spends EXACT_SHARE of alpha on
    passing; the interval reported is the two sequences' intersection, so it still agrees with the
    outcome (docs/statistics.md, section 4)."""
    exact = exact_pass_p_value(candidate, low, high)
    score_level = level if exact is None else level * (1.0 - EXACT_SHARE)
    result = _judge(candidate.mean, candidate.n, alpha, mixture, low, high, describe,
                    variance_at=lambda limit: rate_variance_at(candidate, limit, guarded=True),
                    continuity=half_event(candidate),
                    interval=rate_sequence(candidate, alpha, mixture, level=score_level, corrected=True),
                    level=score_level)
    if exact is None:
        return result
    bound = exact_bound(candidate, low, high, EXACT_SHARE * alpha)
    interval = result.interval
    if bound is not None and interval is not None:
        interval = (replace(interval, high=min(interval.high, bound)) if high is not None
                    else replace(interval, low=max(interval.low, bound)))
    p_pass = min(result.p_pass, exact / EXACT_SHARE)
    if result.outcome is Outcome.INCONCLUSIVE and p_pass <= alpha:
        reason = (f"the {format_fraction(1 - alpha)} always-valid interval is wholly within the limit ({describe}), "
                  f"by the exact rule on the units holding events")
        return replace(result, outcome=Outcome.PASS, p_pass=p_pass, interval=interval, reason=reason)
    return replace(result, p_pass=p_pass, interval=interval)


def apply_holm(results: Sequence[GuardResult], alpha: float) -> list[GuardResult]:
    """Holm across the checks of one stage: a fail stands only if Holm rejects its p_fail.

    Since p_fail <= alpha exactly when a check's own interval is beyond its limit, Holm's
    rejections are a subset of the individual fails; the others become inconclusive. Passes and
    inconclusive results are returned unchanged (passes need no correction: intersection-union).
    """
    rejected = holm([r.p_fail for r in results], alpha)
    adjusted = []
    for result, reject in zip(results, rejected):
        if result.outcome is Outcome.FAIL and not reject:
            result = replace(result, outcome=Outcome.INCONCLUSIVE,
                             reason=f"beyond the limit on its own, but not after Holm's correction across "
                                    f"{len(results)} checks (p = {result.p_fail:.3g})")
        adjusted.append(result)
    return adjusted
