"""What relative quantile guards read from the logs beyond the main statement (docs/statistics.md,
section 6).

Contract:
- `with_bound_levels` adds to each bounded quantile's spec, before the main statement, the bound
  levels its answer counts call for (exact when requests are independent) and the companion
  level of `design_level`, so one pass reads the quantile and most of what its bounds need.
- `read_design_effects` (one scan, only when some unit has more than one answer): per arm and
  population, the per-unit counts of answers at or below the estimated quantile and at or below
  the companion quantile; the cell's design effect is the larger of the two (stats.quantile).
- `read_quantile_levels` (one scan, only when levels are still missing): the quantiles at the
  bound levels the design effects call for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from rollout_cli.data.queries import Aggregates, Population, QuantileSpec
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
    from the answer counts of the light scan, so the main statement reads them in its one pass."""
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
        specs.append(replace(spec, levels=tuple(sorted(levels))))
    return specs


def read_design_effects(logs: Logs, stage: Stage, needs: StageNeeds, agg: Aggregates,
                        populations: Sequence[Population], segments: list[str], since: datetime | None,
                        until: datetime) -> None:
    """Each bounded quantile's design effect per arm and population (the whole, and the segment
    `populations` of per-segment guards), into `cell.quantile_design`."""
    requests = []
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
                companion = cell.quantile_levels.get(metric.name, {}).get(design_level(q))
                thresholds = (estimate,) if companion is None else (estimate, companion)
                requests.append(IndicatorRequest(population, arm, metric.name, str(metric.column), thresholds))
    if not requests:
        return
    for request, sums in zip(requests, indicator_sums(logs, shadow=stage.is_shadow, segments=segments,
                                                      requests=requests, since=since, until=until)):
        effects = [design_effect(sums.units, sums.requests, below, below_sq, below_y, sums.requests_sq)
                   for below, below_sq, below_y in sums.below]
        agg.cell(request.population, request.arm).quantile_design[request.key] = max(effects, default=1.0)


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
