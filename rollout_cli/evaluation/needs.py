"""What a stage's guards need from the logs, as `Measure`s and `QuantileSpec`s for data.queries.

Contract:
- `stage_measures(plan, stage)` lists the measures and quantiles the stage's guards need (one
  SQL statement computes them all) and the guards that cannot be judged in this kind of stage
  (outcome metrics in shadow, agreement outside shadow) with the reason.
- A quantile guard's absolute limit is read as the share of requests beyond the bound
  (`exceedance_measures`); a relative quantile limit needs the empirical quantiles at the
  Woodruff levels of its standard error (`quantile_level_requests`, one more scan).
"""

from __future__ import annotations

from dataclasses import dataclass

from rollout_cli.data.queries import Aggregates, Measure, MeasureOp, Population, QuantileSpec
from rollout_cli.data.scans import LevelRequest
from rollout_cli.plan.model import Guard, Metric, Plan, Stage
from rollout_cli.stats.quantile_ratio import woodruff_levels

PAIRED_KINDS = ("coverage", "score_shift")  # guards judged on the paired answers (rollout_cli.shadow)


@dataclass(frozen=True)
class StageNeeds:
    measures: list[Measure]
    quantiles: list[QuantileSpec]
    guards: list[Guard]  # the guards judged in this stage
    not_judged: list[str]  # "conversion: why not"


def is_outcome_metric(metric: Metric) -> bool:
    return metric.kind in ("proportion", "mean") and metric.event is not None


def measure_for(metric: Metric) -> Measure:
    """The per-unit measure of a proportion, mean or agreement metric."""
    if metric.kind == "agreement":
        return Measure(key=metric.name, op="agreement", tolerance=metric.tolerance or 0.0, metric=metric.name)
    if metric.event is not None:
        op: MeasureOp = "event_any" if metric.kind == "proportion" else "event_sum"
        return Measure(key=metric.name, op=op, event=metric.event, window_s=metric.window_s, metric=metric.name,
                       cap=metric.cap)
    return Measure(key=metric.name, op="column_mean", column=metric.column, metric=metric.name, cap=metric.cap)


def exceedance_measures(guard: Guard) -> list[tuple[str, Measure]]:
    """For a quantile guard: ("max"|"min", the share of requests beyond the bound)."""
    metric = guard.metric
    out = []
    if guard.max is not None:
        out.append(("max", Measure(key=f"{metric.name}>{guard.max:g}", op="column_above", column=metric.column,
                                   threshold=guard.max, metric=metric.name)))
    if guard.min is not None:
        out.append(("min", Measure(key=f"{metric.name}<{guard.min:g}", op="column_below", column=metric.column,
                                   threshold=guard.min, metric=metric.name)))
    return out


def stage_measures(plan: Plan, stage: Stage) -> StageNeeds:
    measures: dict[str, Measure] = {}
    quantiles: dict[str, QuantileSpec] = {}
    guards, not_judged = [], []
    for guard in stage.guards:
        metric = guard.metric
        if stage.is_shadow and is_outcome_metric(metric):
            not_judged.append(f"{metric.name}: not judged in a shadow stage (users see only baseline answers)")
            continue
        if not stage.is_shadow and metric.kind in PAIRED_KINDS + ("agreement",):
            not_judged.append(f"{metric.name}: {metric.kind} is judged only in shadow stages")
            continue
        if metric.kind in PAIRED_KINDS:  # judged on the pairs by rollout_cli.shadow (stage.py adds them)
            continue
        guards.append(guard)
        if metric.kind == "quantile":
            quantiles[metric.name] = QuantileSpec(key=metric.name, column=str(metric.column), q=metric.q or 0.5)
            for _, measure in exceedance_measures(guard):
                measures[measure.key] = measure
        elif metric.prometheus is None:  # a Prometheus count is read from its server (evaluation/prometheus_counts.py)
            measures[metric.name] = measure_for(metric)
    return StageNeeds(list(measures.values()), list(quantiles.values()), guards, not_judged)


def quantile_level_requests(guards: list[Guard], agg: Aggregates, populations: list[Population]) -> list[LevelRequest]:
    """The empirical quantiles the relative quantile guards need: two per arm, at its Woodruff levels
    (stats.quantile_ratio; none below the minimum information). One scan answers them all."""
    requests = []
    for guard in guards:
        metric = guard.metric
        if metric.kind != "quantile" or not guard.is_relative:
            continue
        for population in ([None] + populations if guard.per_segment else [None]):
            for arm, cell in agg.cells.get(population, {}).items():
                n = cell.quantile_n.get(metric.name, 0)
                if n < 2:
                    continue
                have = cell.quantile_levels.get(metric.name, {})  # read with the quantile already
                design = cell.quantile_design.get(metric.name, 1.0)
                levels = sorted(level for level in woodruff_levels(n, metric.q or 0.5, design) or ()
                                if level not in have)
                if levels:
                    requests.append(LevelRequest(population, arm, metric.name, str(metric.column), tuple(levels)))
    return requests
