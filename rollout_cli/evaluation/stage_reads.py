"""Everything a stage's evaluation reads from the logs, in the fewest passes (docs/data.md, "One scan").

Contract of `read_stage`: the window's facts (rows, freshness, answers and quantiles per arm: one light
scan), the stage statement's sums per arm × segment (data/queries.py), the design effects and bound
levels of relative quantile guards (evaluation/quantile_reads.py), and the data-quality counts
(data/quality.py). Raises DataError for an empty or unreadable source. The time each pass costs is
in benchmarks/README.md ("`rollout evaluate` against the bare query").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollout_cli.data.quality import DataQuality, data_quality
from rollout_cli.data.queries import Aggregates, UnitRows, stage_aggregates
from rollout_cli.data.scans import WindowFacts, count_rows, window_facts
from rollout_cli.data.source import Logs
from rollout_cli.errors import DataError
from rollout_cli.evaluation.needs import StageNeeds
from rollout_cli.evaluation.quantile_reads import (
    design_requests,
    light_quantiles,
    quantiles_from_facts,
    read_design_effects,
    read_quantile_levels,
    with_bound_levels,
)
from rollout_cli.plan.model import Plan, Stage


def read_stage(logs: Logs, plan: Plan, stage: Stage, needs: StageNeeds, segments: list[str], since: datetime | None,
               until: datetime, unit_rows: UnitRows | None = None) -> tuple[WindowFacts, Aggregates, DataQuality]:
    """Everything the stage needs from the logs: a light scan (row counts, freshness, answer counts
    and the quantiles the design counts are taken at), the main statement, and — only for relative
    quantile guards — the bound levels their design effects call for (evaluation/quantile_reads.py).
    `unit_rows`: the per-unit rows kept by the evaluation cache (docs/incremental.md); they carry no
    design counts (their thresholds move from look to look), so the design effects take their own scan."""
    try:
        facts = window_facts(logs, since=since, until=until, shadow=stage.is_shadow, quantiled=light_quantiles(needs))
    except DataError:
        # a csv with a header only reads as text columns: say that it is empty, not mistyped
        if count_rows(logs, logs.predictions) == 0:
            raise DataError(f"predictions ({logs.predictions.description}) has no rows") from None
        raise
    if facts.total_rows == 0:
        raise DataError(f"predictions ({logs.predictions.description}) has no rows")
    if any(m.level == "outcome" for m in needs.measures):
        if logs.outcomes is None:
            raise DataError("the stage's guards count outcome events but data.outcomes is not set in the plan")
        if count_rows(logs, logs.outcomes) == 0:
            raise DataError(f"outcomes ({logs.outcomes.description}) has no rows")
    # quantiles are not additive: per segment value they take the main statement's own pass over the
    # answers; over everyone, the light scan has read them already
    per_segment_quantiles = any(g.per_segment and g.metric.kind == "quantile" for g in needs.guards)
    agg = stage_aggregates(logs, shadow=stage.is_shadow, segments=segments, measures=needs.measures,
                           quantiles=with_bound_levels(plan, stage, needs, facts) if per_segment_quantiles else [],
                           since=since, until=until, quantile_segments=per_segment_quantiles, unit_rows=unit_rows,
                           design=design_requests(needs, facts) if unit_rows is None else [])
    if not per_segment_quantiles:
        quantiles_from_facts(agg, needs, facts)
    populations = list(segment_populations(agg, segments))
    read_design_effects(logs, stage, needs, agg, populations, segments, since, until)
    read_quantile_levels(logs, plan, stage, needs, agg, populations, segments, since, until)
    events = tuple(dict.fromkeys(m.event for m in needs.measures if m.level == "outcome" and m.event))
    quality = data_quality(logs, since=since, until=until, outcome_events=events)
    return facts, agg, quality


def segment_populations(agg: Aggregates, segments: list[str]) -> list[tuple[str, Any]]:
    """Every (segment, value) seen, in the plan's segment order, then by value."""
    found = [p for p in agg.cells if p is not None]
    order = {name: i for i, name in enumerate(segments)}
    return sorted(found, key=lambda p: (order.get(p[0], len(order)), str(p[1])))
