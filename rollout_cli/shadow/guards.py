"""The shadow stage's guards judged on the paired answers, with the evaluator's statistics.

Contract of `judge_shadow_guards`:
- `agreement` (`min`): agreeing / paired requests per unit, the score-type always-valid
  interval (`judge_absolute`), for everyone and, with `per_segment`, for each segment value with
  at least `decision.min_units_per_check` units;
- `coverage` (`min`): answered in time and without error / baseline requests, judged the same way;
- `score_shift` (`max`): the PSI between the two score distributions on the baseline's quantile
  bins, with its interval (`stats.shift`, the drift statistic): fail when drifted (the interval
  lies above the limit), pass when not drifted (below); the interval is per window, not a
  confidence sequence (docs/statistics.md says what that means for repeated looks);
- a latency column metric with `max_increase`: the paired ratio Σ candidate / Σ baseline latency
  over paired requests, per unit (delta method, so the pairing's covariance narrows the interval),
  judged as an absolute limit of 1 + max_increase;
- every other guard is left to `rollout evaluate` and listed in the notes.
Holm runs across all these checks; the verdict is fail if any check fails, pass if every check
passes, else inconclusive (also when no guard could be judged here).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from rollout_cli.plan.model import Guard, Plan, Stage
from rollout_cli.shadow.figures import stats_of
from rollout_cli.shadow.result import ShadowCheck
from rollout_cli.shadow.scans import Population, RatioSums
from rollout_cli.stats.guards import GuardResult, apply_holm, judge_absolute
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.sequential import Interval, tuning_units
from rollout_cli.stats.shift import ShiftDecision, judge_shift


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.3g}%"


def _shift_result(counts: tuple[list[int], list[int]] | None, limit: float, alpha: float) -> GuardResult:
    """The PSI (stats.shift) against `limit`: fail when drifted, pass when not drifted. `p_fail` (for
    Holm) is the smallest alpha at which the interval still lies above the limit, found by bisection."""
    if counts is None:
        return GuardResult(Outcome.INCONCLUSIVE, None, 1.0, None,
                           "no paired scores to compare (label answers have no score distribution)")
    base, cand = counts
    shift = judge_shift(base, cand, limit, 1.0 - alpha)
    interval = Interval(shift.low, shift.high, shift.estimate)
    if shift.decision is ShiftDecision.NOT_DRIFTED:
        return GuardResult(Outcome.PASS, interval, 1.0, shift.estimate, "", 0.0)
    if shift.decision is not ShiftDecision.DRIFTED:
        return GuardResult(Outcome.INCONCLUSIVE, interval, 1.0, shift.estimate, "the interval still contains the limit")
    low, high = 1e-12, alpha  # drifted at alpha: find the smallest alpha that still says so
    for _ in range(30):
        mid = math.sqrt(low * high)
        if judge_shift(base, cand, limit, 1.0 - mid).decision is ShiftDecision.DRIFTED:
            high = mid
        else:
            low = mid
    return GuardResult(Outcome.FAIL, interval, high, shift.estimate, "")


def _words(result: GuardResult, said: str) -> str:
    if result.outcome is Outcome.FAIL:
        return said
    if result.outcome is Outcome.PASS:
        return f"{said}; within the limit with the plan's confidence"
    return f"{said}; {result.reason or 'not yet sure'}"


def _populations(guard: Guard, sums: dict[Population, dict[str, RatioSums]], min_units: int) -> list[Population]:
    found: list[Population] = [None]
    if guard.per_segment:
        values = [p for p in sums if p is not None and sums[p]["cover"].n >= min_units]
        found += sorted(values, key=lambda p: ("", "") if p is None else (p[0], str(p[1])))
    return found


def judge_shadow_guards(plan: Plan, stage: Stage, sums: dict[Population, dict[str, RatioSums]],
                        counts: tuple[list[int], list[int]] | None, latency_column: str | None,
                        notes: list[str]) -> tuple[list[ShadowCheck], Outcome]:
    alpha = 1.0 - plan.decision.confidence
    common: dict[str, Any] = {"alpha": alpha, "tuning_n": tuning_units(stage.min_units),
                              "min_units": plan.decision.min_units_per_check}
    judged: list[tuple[ShadowCheck, GuardResult]] = []
    for guard in stage.guards:
        metric = guard.metric
        if metric.kind in ("agreement", "coverage") and guard.min is not None:
            key = "agree" if metric.kind == "agreement" else "in_time"
            what = "paired requests agree" if metric.kind == "agreement" else "baseline requests answered in time"
            for population in _populations(guard, sums, common["min_units"]):
                cell = sums.get(population, {}).get(key)
                if cell is None:
                    continue
                result = judge_absolute(stats_of(cell), min=guard.min, max=None, **common)
                value = cell.sx / cell.sy if cell.sy else None
                said = f"{metric.name}: {_pct(value)} of {what} (allowed min: {_pct(guard.min)})"
                judged.append(_check(metric.name, population, f"min {_pct(guard.min)}", result, value, said))
        elif metric.kind == "score_shift" and guard.max is not None:
            result = _shift_result(counts, guard.max, alpha)
            value = result.effect
            said = f"{metric.name}: the score distributions are {'n/a' if value is None else f'{value:.3g}'} apart " \
                   f"(PSI; allowed max: {guard.max:g})"
            judged.append(_check(metric.name, None, f"max {guard.max:g}", result, value, said))
        elif metric.column is not None and metric.column == latency_column and guard.max_increase is not None:
            cell = sums.get(None, {}).get("latency")
            if cell is None:
                continue
            limit = 1.0 + guard.max_increase
            result = judge_absolute(stats_of(cell, counts=False), min=None, max=limit, **common)
            ratio = cell.sx / cell.sy if cell.sy else None
            change = None if ratio is None else ratio - 1.0
            interval = None if result.interval is None else Interval(result.interval.low - 1, result.interval.high - 1,
                                                                    (change or 0.0))
            result = replace(result, interval=interval, effect=change)
            said = (f"{metric.name}: the candidate's latency on paired requests is {_pct(change)} "
                    f"{'above' if (change or 0) >= 0 else 'below'} the baseline's (allowed: "
                    f"{_pct(guard.max_increase)} increase)")
            judged.append(_check(metric.name, None, f"max_increase {_pct(guard.max_increase)} (paired)", result,
                                 change, said))
        else:
            notes.append(f"guard on {metric.name}: judged by `rollout evaluate`, not on the pairs")
    adjusted = apply_holm([result for _, result in judged], alpha)
    checks = []
    for (check, before), after in zip(judged, adjusted):
        if after.outcome is not before.outcome:
            check = replace(check, outcome=after.outcome, reason=f"{check.reason}; {after.reason}")
        checks.append(check)
    if any(c.outcome is Outcome.FAIL for c in checks):
        return checks, Outcome.FAIL
    if checks and all(c.outcome is Outcome.PASS for c in checks):
        return checks, Outcome.PASS
    return checks, Outcome.INCONCLUSIVE


def _check(metric: str, population: Population, guard: str, result: GuardResult, value: float | None,
           said: str) -> tuple[ShadowCheck, GuardResult]:
    interval = None if result.interval is None else (result.interval.low, result.interval.high)
    segment = None if population is None else {population[0]: population[1]}
    return ShadowCheck(metric=metric, segment=segment, guard=guard, outcome=result.outcome, value=value,
                       interval=interval, reason=_words(result, said), p_value=result.p_fail), result
