"""What quantile guards read from the logs beside the main statement's sums (docs/statistics.md,
section 6).

Contract:
- The light scan before the main statement reads each quantile column's answers per arm and, over
  everyone, their quantile (`light_quantiles`); `quantiles_from_facts` files them as the observed
  quantiles, and `design_requests` asks the main statement to count each unit's answers at or below
  it for a relative guard (data/design_counts.py).
- `read_design_effects`: per arm and population, the design effect at the estimate from those
  counts (stats.quantile; docs/statistics.md, section 6, why not the companion level). A per-segment guard's
  segment values take one scan (their quantiles come with the main statement,
  `with_bound_levels`, as quantiles are not additive over segments).
- `read_quantile_levels` (one scan): the quantiles at the Woodruff levels (two per arm,
  stats.quantile_ratio) the design effects call for, where they were not read already.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from rollout_cli.data.aggregates import Aggregates, DesignCounts, IndicatorSums, Population, QuantileSpec
from rollout_cli.data.scans import (
    IndicatorRequest,
    LevelRequest,
    QuantileRead,
    WindowFacts,
    indicator_sums,
    quantiles_at_levels,
)
from rollout_cli.data.source import Logs
from rollout_cli.evaluation.needs import StageNeeds, quantile_level_requests
from rollout_cli.plan.model import Plan, Stage
from rollout_cli.stats.quantile import design_effect
from rollout_cli.stats.quantile_ratio import woodruff_levels

ARMS = ("baseline", "candidate")
R = TypeVar("R", IndicatorRequest, LevelRequest)
A = TypeVar("A")
WholeSums = Callable[[list[IndicatorRequest]], list[IndicatorSums]]  # the whole population's design sums
WholeLevels = Callable[[list[LevelRequest]], list[list[float | None]]]  # … and its quantiles at levels


def bounded_quantiles(needs: StageNeeds) -> set[str]:
    """Quantile metrics with a relative guard: they need confidence bounds read at rank levels."""
    return {g.metric.name for g in needs.guards if g.metric.kind == "quantile" and g.is_relative}


def _read_levels(needs: StageNeeds, spec: QuantileSpec) -> tuple[float, ...]:
    """The levels the light scan reads: the quantile."""
    return (spec.q,)


def light_quantiles(needs: StageNeeds) -> tuple[QuantileRead, ...]:
    """What the light scan reads of every quantile metric (see the module contract)."""
    return tuple(QuantileRead(spec.column, spec.key, _read_levels(needs, spec)) for spec in needs.quantiles)


def quantiles_from_facts(agg: Aggregates, needs: StageNeeds, facts: WindowFacts) -> None:
    """The observed quantiles over everyone, per arm with answers, as the light scan read them."""
    for spec in needs.quantiles:
        for arm in ARMS:
            n = facts.answers.get((arm, spec.column), 0)
            if n == 0:
                continue
            values = facts.quantiles.get((arm, spec.column), {})
            cell = agg.cell(None, arm)
            cell.quantiles[spec.key] = values.get(spec.q)
            cell.quantile_n[spec.key] = n
            cell.quantile_levels.setdefault(spec.key, {}).update(
                {level: values.get(level) for level in _read_levels(needs, spec)[1:]})


def design_requests(needs: StageNeeds, facts: WindowFacts) -> list[DesignCounts]:
    """The main statement's per-unit counts for each bounded quantile, at the light scan's values."""
    return [DesignCounts(spec.key, spec.column, tuple(
                (arm, tuple(facts.quantiles.get((arm, spec.column), {}).get(level) for level in _read_levels(needs, spec)))
                for arm in ARMS))
            for spec in needs.quantiles if spec.key in bounded_quantiles(needs)]


def with_bound_levels(plan: Plan, stage: Stage, needs: StageNeeds, facts: WindowFacts) -> list[QuantileSpec]:
    """The quantile specs for a main statement that reads quantiles itself (per segment value): the
    whole population's Woodruff levels added, from the answer counts of the light scan, so its one
    pass reads the quantiles and most of what their standard errors need."""
    specs = []
    for spec in needs.quantiles:
        levels: set[float] = set()
        if spec.key in bounded_quantiles(needs):
            for arm in ARMS:
                n = facts.answers.get((arm, spec.column), 0)
                levels.update(woodruff_levels(n, spec.q) or ())  # before the design effect is known: D = 1
        specs.append(replace(spec, levels=tuple(sorted(levels))))
    return specs


def read_design_effects(logs: Logs, stage: Stage, needs: StageNeeds, agg: Aggregates,
                        populations: Sequence[Population], segments: list[str], since: datetime | None,
                        until: datetime, whole: WholeSums | None = None) -> None:
    """Each bounded quantile's design effect per arm and population (the whole, and the segment
    `populations` of per-segment guards), into `cell.quantile_design`. `whole`: answers the whole
    population's requests instead of the scan (the evaluation cache's ranked answers)."""
    requests = []
    effects: dict[tuple[Population, str, str], float] = {}
    for guard in needs.guards:
        metric = guard.metric
        if metric.kind != "quantile" or not guard.is_relative or metric.column is None:
            continue
        for population in ([None, *populations] if guard.per_segment else [None]):
            for arm, cell in agg.cells.get(population, {}).items():
                estimate = cell.quantiles.get(metric.name)
                if cell.quantile_n.get(metric.name, 0) < 2 or estimate is None:
                    continue
                read = cell.quantile_indicators.get(metric.name)  # read by the main statement
                if read is not None:
                    effects[(population, arm, metric.name)] = _effect_at_estimate(read)
                    continue
                requests.append(IndicatorRequest(population, arm, metric.name, str(metric.column), (estimate,)))
    answered = _answer(requests, whole, lambda scanned: indicator_sums(
        logs, shadow=stage.is_shadow, segments=segments, requests=scanned, since=since, until=until))
    for request, sums in answered:
        effects[(request.population, request.arm, request.key)] = _effect_at_estimate(sums)
    for (population, arm, key), effect in effects.items():
        agg.cell(population, arm).quantile_design[key] = effect


def _answer(requests: Sequence[R], whole: Callable[[list[R]], Sequence[A]] | None,
            scan: Callable[[list[R]], Sequence[A]]) -> list[tuple[R, A]]:
    """Each request with its answer: the whole population's from `whole` when given, the rest from `scan`."""
    asked = [r for r in requests if r.population is None] if whole is not None else []
    answered = list(zip(asked, whole(asked))) if asked and whole is not None else []
    scanned = [r for r in requests if r.population is not None or whole is None]
    return answered + (list(zip(scanned, scan(scanned))) if scanned else [])


def _effect_at_estimate(sums: IndicatorSums) -> float:
    """The design effect at the estimate (the first threshold counted; stats.quantile)."""
    if not sums.below:
        return 1.0
    below, below_sq, below_y = sums.below[0]
    return design_effect(sums.units, sums.requests, below, below_sq, below_y, sums.requests_sq)


def read_quantile_levels(logs: Logs, plan: Plan, stage: Stage, needs: StageNeeds, agg: Aggregates,
                         populations: Sequence[Population], segments: list[str], since: datetime | None,
                         until: datetime, whole: WholeLevels | None = None, units_known: bool = False,
                         window_known: bool = False) -> None:
    """The last scan, only for relative quantile guards whose bound levels are still missing (`whole`:
    answers the whole population's requests instead, as in `read_design_effects`; `units_known`,
    `window_known`: the light scan found no window row without a unit, no row outside the window;
    data/scans.quantiles_at_levels)."""
    requests = quantile_level_requests(needs.guards, agg, list(populations))
    answered = _answer(requests, whole, lambda scanned: quantiles_at_levels(
        logs, shadow=stage.is_shadow, segments=segments, requests=scanned, since=since, until=until,
        units_known=units_known, window_known=window_known))
    for request, values in answered:
        cell = agg.cell(request.population, request.arm)
        cell.quantile_levels.setdefault(request.key, {}).update(zip(request.levels, values))
