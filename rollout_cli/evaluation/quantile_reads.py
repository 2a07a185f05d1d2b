"""What relative quantile guards read from the logs beyond the main statement (docs/statistics.md,
section 6).

Contract:
- `with_bound_levels` adds to each bounded quantile's spec, before the main statement, the bound
  levels its answer counts call for (exact when requests are independent), the companion
  level of `design_level`, and the thresholds of its design counts (the light scan's quantiles at
  `design_quantiles`), so one pass reads the quantile and most of what its bounds need.
- `read_design_effects`: per arm and population, the per-unit counts of answers at or below the
  estimated quantile and at or below the companion quantile; the cell's design effect is the
  larger of the two (stats.quantile). The whole population's counts come with the main statement
  (`design_levels`, data/design_counts.py); a per-segment guard's segment values take one scan.
- `read_quantile_levels` (one scan, only when levels are still missing): the quantiles at the
  bound levels the design effects call for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from rollout_cli.data.aggregates import Aggregates, IndicatorSums, Population, QuantileSpec
from rollout_cli.data.scans import IndicatorRequest, WindowFacts, indicator_sums, quantiles_at_levels
from rollout_cli.data.source import Logs
from rollout_cli.evaluation.needs import StageNeeds, quantile_level_requests
from rollout_cli.evaluation.tuning import quantile_tuning
from rollout_cli.plan.model import Plan, Stage
from rollout_cli.stats.quantile import design_effect, design_level, quantile_levels


def bounded_quantiles(needs: StageNeeds) -> set[str]:
    """Quantile metrics with a relative guard: they need confidence bounds read at rank levels."""
    return {g.metric.name for g in needs.guards if g.metric.kind == "quantile" and g.is_relative}


def with_bound_levels(plan: Plan, stage: Stage, needs: StageNeeds, facts: WindowFacts) -> list[QuantileSpec]:
    """The quantile specs with the whole population's bound levels (and the companion level) added,
    from the answer counts of the light scan, so the main statement reads them in its one pass, and
    with the thresholds (each arm's estimate and companion quantile, also from the light scan) its
    per-unit design counts are taken at."""
    alpha, tuning_n = 1.0 - plan.decision.confidence, quantile_tuning(plan, stage)
    specs = []
    for spec in needs.quantiles:
        levels: set[float] = set()
        if spec.key in bounded_quantiles(needs):
            levels.add(design_level(spec.q))
            for arm in ("baseline", "candidate"):
                n = facts.answers.get((arm, spec.column), 0)
                if n >= 2:
                    levels.update(level for _, low, high in quantile_levels(n, spec.q, alpha, tuning_n)
                                  for level in (low, high) if level is not None)
        design: tuple[tuple[str, tuple[float | None, ...]], ...] = ()
        read = all((arm, spec.column) in facts.quantiles for arm in ("baseline", "candidate"))
        if spec.key in bounded_quantiles(needs) and read:  # else read_design_effects scans for them
            design = tuple((arm, tuple(facts.quantiles.get((arm, spec.column), {}).get(level)
                                       for level in (spec.q, design_level(spec.q))))
                           for arm in ("baseline", "candidate"))
        specs.append(replace(spec, levels=tuple(sorted(levels)), design_thresholds=design))
    return specs


def design_quantiles(needs: StageNeeds) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """(column, levels): what the light scan reads so the main statement can count the answers at
    or below each bounded quantile's estimate and companion level (data/design_counts.py)."""
    by_column: dict[str, set[float]] = {}
    for spec in needs.quantiles:
        if spec.key in bounded_quantiles(needs):
            by_column.setdefault(spec.column, set()).update((spec.q, design_level(spec.q)))
    return tuple((column, tuple(sorted(levels))) for column, levels in by_column.items())


def read_design_effects(logs: Logs, stage: Stage, needs: StageNeeds, agg: Aggregates,
                        populations: Sequence[Population], segments: list[str], since: datetime | None,
                        until: datetime) -> None:
    """Each bounded quantile's design effect per arm and population (the whole, and the segment
    `populations` of per-segment guards), into `cell.quantile_design`."""
    requests = []
    effects: dict[tuple[Population, str, str], float] = {}
    for guard in needs.guards:
        metric = guard.metric
        if metric.kind != "quantile" or not guard.is_relative or metric.column is None:
            continue
        q = metric.q or 0.5
        for population in ([None, *populations] if guard.per_segment else [None]):
            for arm, cell in agg.cells.get(population, {}).items():
                estimate = cell.quantiles.get(metric.name)
                if cell.quantile_n.get(metric.name, 0) < 2 or estimate is None:
                    continue
                read = cell.quantile_indicators.get(metric.name)  # read by the main statement
                if read is not None:
                    effects[(population, arm, metric.name)] = _larger_effect(read)
                    continue
                companion = cell.quantile_levels.get(metric.name, {}).get(design_level(q))
                thresholds = (estimate,) if companion is None else (estimate, companion)
                requests.append(IndicatorRequest(population, arm, metric.name, str(metric.column), thresholds))
    if requests:
        for request, sums in zip(requests, indicator_sums(logs, shadow=stage.is_shadow, segments=segments,
                                                          requests=requests, since=since, until=until)):
            effects[(request.population, request.arm, request.key)] = _larger_effect(sums)
    for (population, arm, key), effect in effects.items():
        agg.cell(population, arm).quantile_design[key] = effect


def _larger_effect(sums: IndicatorSums) -> float:
    """The larger of the design effects at the estimate and at the companion level (stats.quantile)."""
    effects = [design_effect(sums.units, sums.requests, below, below_sq, below_y, sums.requests_sq)
               for below, below_sq, below_y in sums.below]
    return max(effects, default=1.0)


def read_quantile_levels(logs: Logs, plan: Plan, stage: Stage, needs: StageNeeds, agg: Aggregates,
                         populations: Sequence[Population], segments: list[str], since: datetime | None,
                         until: datetime) -> None:
    """The last scan, only for relative quantile guards whose bound levels are still missing."""
    requests = quantile_level_requests(needs.guards, agg, list(populations),
                                       alpha=1.0 - plan.decision.confidence, tuning_n=quantile_tuning(plan, stage))
    if not requests:
        return
    answers = quantiles_at_levels(logs, shadow=stage.is_shadow, segments=segments, requests=requests,
                                  since=since, until=until)
    for request, values in zip(requests, answers):
        cell = agg.cell(request.population, request.arm)
        cell.quantile_levels.setdefault(request.key, {}).update(zip(request.levels, values))
