"""Each guard judged on one population: from the database's sums to `Check`s.

Contract:
- `judge_guard(...)` turns one guard on one population into `(Check, GuardResult)` pairs —
  one per limit kind: a guard with both `max_increase` and `max` gives a relative and an
  absolute check. Holm is applied by the caller across all checks of the stage.
- Quantile guards: the absolute limit "p_q <= X" is the share of requests above X <= 1 - q
  (per unit, delta method); "p_q >= X" is the share below X <= q. The observed quantiles of
  both arms are reported as baseline/candidate; the interval is on the share's scale. A
  relative quantile limit is the log ratio of the arms' quantiles with Woodruff's cluster-robust
  standard error per arm (stats.quantile_ratio), from the empirical quantiles the database returned
  at the levels `needs.quantile_level_requests` asked for.
- What the guards need from the logs is needs.py; the reasons in words are reasons.py.
"""

from __future__ import annotations

import math
from typing import Any

from rollout_cli.data.queries import Aggregates, ArmCell, Measure, Population, Sums
from rollout_cli.evaluation.needs import exceedance_measures, measure_for
from rollout_cli.evaluation.reasons import absolute_reason, number, percent, relative_reason, relative_words
from rollout_cli.evaluation.tuning import Horizon, Tuning
from rollout_cli.evaluation.verdict import Check
from rollout_cli.plan.model import Guard, Metric
from rollout_cli.stats.guards import GuardResult, judge_absolute, judge_relative
from rollout_cli.stats.quantile_ratio import QuantileArm, judge_relative_quantile, woodruff_levels
from rollout_cli.stats.sequential import ArmStats, mean_stats, proportion_stats, ratio_stats


def arm_stats(measure: Measure, sums: Sums | None, *, counts: bool) -> ArmStats:
    if sums is None or sums.n == 0:
        return ArmStats(n=0, mean=float("nan"), variance=float("nan"))
    if measure.op == "event_any":
        return proportion_stats(sums.n, sums.sum_x)
    if measure.op == "event_sum":
        return mean_stats(sums.n, sums.sum_x, sums.sum_xx, sums.sum_xxx)
    return ratio_stats(sums.n, sums.sum_x, sums.sum_y, sums.sum_xx, sums.sum_yy, sums.sum_xy, counts=counts)


def _check(guard: Guard, population: Population, result: GuardResult, *, reason: str, words: str,
           baseline: float | None, candidate: float | None, cells: dict[str, ArmCell]) -> tuple[Check, GuardResult]:
    interval = (result.interval.low, result.interval.high) if result.interval else None
    if interval is not None and not all(math.isfinite(end) for end in interval):
        interval = None  # JSON has no infinity; no bound yet
    check = Check(
        metric=guard.metric.name,
        segment=None if population is None else {population[0]: population[1]},
        outcome=result.outcome, reason=reason, baseline=_finite(baseline), candidate=_finite(candidate),
        effect=_finite(result.effect),
        interval=interval, units={arm: cells[arm].units if arm in cells else 0 for arm in ("baseline", "candidate")},
        p_value=result.p_fail, guard=words,
    )
    return check, result


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _value(stats: ArmStats) -> float | None:
    return stats.mean if stats.n > 0 and stats.mean == stats.mean else None


def judge_guard(guard: Guard, population: Population, agg: Aggregates, *, alpha: float, tuning: Tuning,
                min_units: int, horizon: Horizon = Horizon()) -> list[tuple[Check, GuardResult]]:
    """Every check of one guard on one population (see the module contract); `tuning`: the tuning
    sizes of its relative and absolute checks (evaluation.tuning.stage_tuning); `horizon`: the
    stage's declared horizon, within which alpha is spent (evaluation.tuning.stage_horizon)."""
    metric = guard.metric
    cells = agg.cells.get(population, {})
    empty = ArmCell()
    base, cand = cells.get("baseline", empty), cells.get("candidate", empty)
    common: dict[str, Any] = {"alpha": alpha, "tuning_n": tuning.relative, "min_units": min_units}
    # an absolute (or exceedance) check counts the candidate's units: its own tuning, even beside a relative limit
    absolute = {**common, "tuning_n": tuning.absolute, "horizon_n": horizon.candidate}
    out: list[tuple[Check, GuardResult]] = []

    if metric.kind == "quantile":
        b_q, c_q = base.quantiles.get(metric.name), cand.quantiles.get(metric.name)
        for side, measure in exceedance_measures(guard):
            share = arm_stats(measure, cand.sums.get(measure.key), counts=True)
            limit = 1 - (metric.q or 0.5) if side == "max" else (metric.q or 0.5)
            result = judge_absolute(share, min=None, max=limit, **absolute)
            bound = guard.max if side == "max" else guard.min
            beyond = "slower than" if side == "max" else "below"
            word = "max" if side == "max" else "min"
            detail = (f" — {percent(share.mean)} of candidate values are {beyond} {bound:g} "
                      f"(allowed: {percent(limit)})"
                      if _value(share) is not None else "")
            reason = absolute_reason(metric.name, c_q,
                                      result, f"limit: {bound:g}", detail=detail)
            out.append(_check(guard, population, result, reason=reason, words=f"{word} {bound:g}",
                              baseline=b_q, candidate=c_q, cells=cells))
        if guard.is_relative:
            out.append(_relative_quantile_check(guard, population, base, cand, cells,
                                                {**common, "horizon_n": horizon.both_arms}))
        return out

    measure = measure_for(metric)
    # a share of requests (errors, agreeing answers) gets the Bernoulli variance floor of stats.sequential
    counts = measure.op == "agreement" or (measure.op == "column_mean" and metric.kind == "proportion")
    b_stats = arm_stats(measure, base.sums.get(measure.key), counts=counts)
    c_stats = arm_stats(measure, cand.sums.get(measure.key), counts=counts)
    if guard.is_relative:
        result = judge_relative(b_stats, c_stats, max_drop=guard.max_drop, max_increase=guard.max_increase, **common,
                                horizon_n=horizon.both_arms)
        out.append(_check(guard, population, result, reason=relative_reason(metric.name, result, guard),
                          words=relative_words(guard),
                          baseline=_value(b_stats), candidate=_value(c_stats), cells=cells))
    if guard.min is not None or guard.max is not None:
        result = judge_absolute(c_stats, min=guard.min, max=guard.max, **absolute)
        fmt = percent if counts or metric.kind == "proportion" else number
        bounds = ", ".join(f"{k}: {fmt(v)}" for k, v in (("min", guard.min), ("max", guard.max)) if v is not None)
        words = " ".join(f"{k} {fmt(v)}" for k, v in (("min", guard.min), ("max", guard.max)) if v is not None)
        reason = absolute_reason(metric.name, _value(c_stats), result, f"allowed {bounds}", fmt)
        out.append(_check(guard, population, result, reason=reason, words=words,
                          baseline=_value(b_stats), candidate=_value(c_stats), cells=cells))
    return out


def quantile_arm(cell: ArmCell, metric: Metric) -> QuantileArm:
    """One arm's quantile, its design effect and the values the database returned at its Woodruff
    levels (stats.quantile_ratio). Time is counted in units (the answers' when units are unknown)."""
    name, q = metric.name, metric.q or 0.5
    n, estimate = cell.quantile_n.get(name, 0), cell.quantiles.get(name)
    design = cell.quantile_design.get(name, 1.0)
    levels = woodruff_levels(n, q, design)
    values = cell.quantile_levels.get(name, {})
    low, high = (values.get(levels[0]), values.get(levels[1])) if levels is not None else (None, None)
    return QuantileArm(units=cell.units or n, answers=n, estimate=estimate, low=low, high=high, design=design)


def _relative_quantile_check(guard: Guard, population: Population, base: ArmCell, cand: ArmCell,
                             cells: dict[str, ArmCell], common: dict[str, Any]) -> tuple[Check, GuardResult]:
    """p_q(candidate) / p_q(baseline) - 1 within max_increase / max_drop (stats.quantile_ratio)."""
    metric = guard.metric
    result = judge_relative_quantile(quantile_arm(base, metric), quantile_arm(cand, metric), metric.q or 0.5,
                                     max_drop=guard.max_drop, max_increase=guard.max_increase, **common)
    return _check(guard, population, result, reason=relative_reason(metric.name, result, guard),
                  words=relative_words(guard),
                  baseline=base.quantiles.get(metric.name), candidate=cand.quantiles.get(metric.name), cells=cells)
