"""Turning always-valid intervals into guard outcomes (SPEC §4).

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
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rollout_cli.stats.multiplicity import holm
from rollout_cli.stats.sequential import (
    ArmStats,
    Interval,
    exclusion_p_value,
    halfwidth,
    relative_variance,
    rho_squared,
)
from rollout_cli.verdict import Outcome


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
    short = [f"{name} {arm.n}" for name, arm in arms if arm.n < min_units]
    if short:
        return f"too few units ({', '.join(short)}; need {min_units} per arm)"
    return None


def _not_finite(arms: Sequence[tuple[str, ArmStats]]) -> str | None:
    for name, arm in arms:
        if not arm.is_finite:
            return f"the {name} statistics are undefined (no values, or a ratio over zero)"
    return None


def _side_p_values(estimate: float, variance: float, n: float, rho2: float,
                   low_limit: float | None, high_limit: float | None) -> tuple[float, float]:
    """(p_fail, p_pass) for harm below `low_limit` and/or above `high_limit`."""
    p_fail, p_pass = 1.0, 0.0
    if low_limit is not None:
        if estimate < low_limit:
            p_fail = min(p_fail, exclusion_p_value(low_limit - estimate, variance, n, rho2))
            p_pass = 1.0
        else:
            p_pass = max(p_pass, exclusion_p_value(estimate - low_limit, variance, n, rho2))
    if high_limit is not None:
        if estimate > high_limit:
            p_fail = min(p_fail, exclusion_p_value(estimate - high_limit, variance, n, rho2))
            p_pass = 1.0
        else:
            p_pass = max(p_pass, exclusion_p_value(high_limit - estimate, variance, n, rho2))
    return p_fail, p_pass


def _judge(estimate: float, variance: float, n: float, alpha: float, tuning_n: float,
           low_limit: float | None, high_limit: float | None, describe: str) -> GuardResult:
    rho2 = rho_squared(alpha, tuning_n)
    width = halfwidth(variance, n, alpha, rho2)
    interval = Interval(low=estimate - width, high=estimate + width, estimate=estimate)
    p_fail, p_pass = _side_p_values(estimate, variance, n, rho2, low_limit, high_limit)
    if p_fail <= alpha:
        outcome, where = Outcome.FAIL, "wholly beyond"
    elif p_pass <= alpha:
        outcome, where = Outcome.PASS, "wholly within"
    else:
        outcome, where = Outcome.INCONCLUSIVE, "not yet wholly on one side of"
    reason = f"the {100 * (1 - alpha):g}% always-valid interval is {where} the limit ({describe})"
    return GuardResult(outcome=outcome, interval=interval, p_fail=p_fail, effect=estimate, reason=reason,
                       p_pass=p_pass)


def judge_relative(baseline: ArmStats, candidate: ArmStats, *, max_drop: float | None,
                   max_increase: float | None, alpha: float, tuning_n: float, min_units: int) -> GuardResult:
    """Judge candidate.mean / baseline.mean - 1 against `max_drop` (harm: below -max_drop) and/or
    `max_increase` (harm: above +max_increase); limits are fractions (0.02 = 2%).

    `effect` and `interval` are relative changes (-0.05 = 5% below baseline).
    """
    if max_drop is None and max_increase is None:
        raise ValueError("a relative guard needs max_drop or max_increase")
    arms = (("baseline", baseline), ("candidate", candidate))
    problem = _too_few(arms, min_units) or _not_finite(arms)
    if problem:
        return _inconclusive(problem)
    if baseline.mean == 0:
        return _inconclusive("the baseline mean is zero, so a relative change is undefined")
    if baseline.mean < 0:
        return _inconclusive("the baseline mean is negative; relative limits need a positive baseline")
    effect = candidate.mean / baseline.mean - 1.0
    if baseline.effective_variance <= 0 and candidate.effective_variance <= 0:
        return _inconclusive("the values do not vary in either arm, so no interval can be formed", effect)
    total = baseline.n + candidate.n
    variance = relative_variance(baseline, candidate) * total
    if not math.isfinite(variance):
        return _inconclusive("the variance of the relative change is undefined", effect)
    limits = []
    if max_drop is not None:
        limits.append(f"max drop {100 * max_drop:g}%")
    if max_increase is not None:
        limits.append(f"max increase {100 * max_increase:g}%")
    return _judge(effect, variance, total, alpha, tuning_n,
                  -max_drop if max_drop is not None else None, max_increase, ", ".join(limits))


def judge_absolute(candidate: ArmStats, *, min: float | None, max: float | None, alpha: float,
                   tuning_n: float, min_units: int) -> GuardResult:
    """Judge the candidate's mean alone against `min` (harm: below) and/or `max` (harm: above).

    `effect` and `interval` are in the metric's own unit (the candidate's value).
    """
    if min is None and max is None:
        raise ValueError("an absolute guard needs min or max")
    arms = (("candidate", candidate),)
    problem = _too_few(arms, min_units) or _not_finite(arms)
    if problem:
        return _inconclusive(problem)
    if candidate.effective_variance <= 0:
        return _inconclusive("the candidate's values do not vary, so no interval can be formed", candidate.mean)
    limits = []
    if min is not None:
        limits.append(f"min {min:g}")
    if max is not None:
        limits.append(f"max {max:g}")
    return _judge(candidate.mean, candidate.effective_variance, candidate.n, alpha, tuning_n, min, max,
                  ", ".join(limits))


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
