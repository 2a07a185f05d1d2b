"""Everything a stage's evaluation reads from the logs, in the fewest passes (docs/data.md, "One scan").

Contract of `read_stage`: the window's facts (rows, freshness, answers and quantiles per arm: one light
scan), the stage statement's sums per arm × segment (data/queries.py), the design effects and bound
levels of relative quantile guards (evaluation/quantile_reads.py), and the data-quality counts
(data/quality.py). Raises DataError for an empty or unreadable source. The time each pass costs is
in benchmarks/README.md ("`rollout evaluate` against the bare query").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from rollout_cli.data.aggregates import Measure
from rollout_cli.data.quality import DataQuality, data_quality
from rollout_cli.data.queries import Aggregates, stage_aggregates
from rollout_cli.data.scans import QuantileRead, WindowFacts, count_rows, numeric_flags, refuse_odd_flags, window_facts
from rollout_cli.data.source import BoundSource, Logs, SqlParams, TypeClass, ts_filter
from rollout_cli.errors import DataError
from rollout_cli.evaluation.needs import StageNeeds
from rollout_cli.evaluation.quantile_reads import (
    ARMS,
    design_requests,
    light_quantiles,
    quantiles_from_facts,
    read_design_effects,
    read_quantile_levels,
    with_bound_levels,
)
from rollout_cli.logcache.answers import TABLE as ANSWERS_TABLE
from rollout_cli.logcache.answers import TOTALS, Ranked, ranked_answers
from rollout_cli.logcache.quality import kept_counts
from rollout_cli.logcache.units import UnitTable
from rollout_cli.plan.model import Plan, Stage
from rollout_cli.units import format_duration

# The columns every outcome join reads (data/outcome_join.py)
OUTCOME_KEYS: tuple[tuple[str, TypeClass], ...] = (("unit_id", "any"), ("ts", "timestamp"), ("event", "text"))


def read_stage(logs: Logs, plan: Plan, stage: Stage, needs: StageNeeds, segments: list[str], since: datetime | None,
               until: datetime, kept: UnitTable | None = None) -> tuple[WindowFacts, Aggregates, DataQuality]:
    """Everything the stage needs from the logs: a light scan (row counts, freshness, answer counts
    and the quantiles the design counts are taken at), the main statement, and — only for relative
    quantile guards — the bound levels their design effects call for (evaluation/quantile_reads.py).
    `kept`: the per-unit rows kept by the evaluation cache (docs/incremental.md); they carry no design
    counts (their thresholds move from look to look): the whole population's design effects and bound
    levels are read from the ranked answers kept beside them (logcache/answers.py)."""
    per_segment_quantiles = any(g.per_segment and g.metric.kind == "quantile" for g in needs.guards)
    # through the cache, a traffic stage's quantiles over everyone come from the ranked answers it keeps
    ranked = [] if kept is None or stage.is_shadow or per_segment_quantiles else list(
        dict.fromkeys(spec.column for spec in needs.quantiles))
    if ranked:
        assert kept is not None
        kept.companions[ANSWERS_TABLE] = ranked_answers(ranked, since, until)
        kept.summaries[ANSWERS_TABLE] = TOTALS
    events = tuple(dict.fromkeys(m.event for m in needs.measures if m.level == "outcome" and m.event))
    # proportions of a column read it as true/false: a number there must be 0 or 1 (checked by the light scan)
    flags = numeric_flags(logs.predictions, tuple(str(g.metric.column) for g in needs.guards if g.metric.kind ==
                                                  "proportion" and g.metric.column and g.metric.prometheus is None))
    counted = None if kept is None else kept_counts(kept, since, until, events, flags)  # counted as rows arrive
    if counted is not None and counted.odd_flags:
        refuse_odd_flags(logs, flags, since=since, until=until)
    try:
        if counted is not None and counted.window_rows and (ranked or not needs.quantiles):
            facts = WindowFacts(counted.total_rows, counted.window_rows, counted.first_ts, counted.last_ts,
                                counted.last_ts, {}, no_unit_rows=counted.no_unit_rows)
        else:
            facts = window_facts(logs, since=since, until=until, shadow=stage.is_shadow,
                                 quantiled=() if ranked else light_quantiles(needs), flags=flags)
    except DataError:
        # a csv with a header only reads as text columns: say that it is empty, not mistyped
        if count_rows(logs, logs.predictions) == 0:
            raise DataError(f"predictions ({logs.predictions.description}) has no rows") from None
        raise
    if facts.total_rows == 0:
        raise DataError(f"predictions ({logs.predictions.description}) has no rows")
    if logs.outcomes is not None:  # like their files, the outcomes' key columns, whether this stage reads them or not
        for role, expect in OUTCOME_KEYS:
            logs.outcomes.column(role, expect)
    if any(m.level == "outcome" for m in needs.measures):
        if logs.outcomes is None:
            raise DataError("the stage's guards count outcome events but data.outcomes is not set in the plan")
        if _empty(logs, logs.outcomes):
            raise DataError(f"outcomes ({logs.outcomes.description}) has no rows")
    # quantiles are not additive: per segment value they take the main statement's own pass over the
    # answers; over everyone, the light scan has read them already
    unit_rows = None if kept is None else lambda build, keys, cells: kept.rows(build, keys, since, until, cells)
    agg = stage_aggregates(logs, shadow=stage.is_shadow, segments=segments, measures=needs.measures,
                           quantiles=with_bound_levels(plan, stage, needs, facts) if per_segment_quantiles else [],
                           since=since, until=until, quantile_segments=per_segment_quantiles, unit_rows=unit_rows,
                           design=design_requests(needs, facts) if unit_rows is None else [])
    parts = kept.parts.get(ANSWERS_TABLE) if kept is not None and ranked else None
    reader = None if parts is None else Ranked(logs, parts, kept.summed[ANSWERS_TABLE], ranked)  # type: ignore[union-attr]
    if ranked:
        asked = light_quantiles(needs)
        found = [] if reader is None else reader.quantiles([
            (arm, r.column, r.levels) for r in asked for arm in ARMS])
        facts = window_facts(logs, since=since, until=until, shadow=stage.is_shadow, quantiled=asked) if reader is None \
            else replace(facts, answers={(arm, r.column): n for (arm, r), (n, _) in zip(_pairs(asked), found)},
                         quantiles={(arm, r.column): dict(zip(r.levels, values))
                                    for (arm, r), (_, values) in zip(_pairs(asked), found)})
    if not per_segment_quantiles:
        quantiles_from_facts(agg, needs, facts)
    populations = list(segment_populations(agg, segments))
    read_design_effects(logs, stage, needs, agg, populations, segments, since, until,
                        whole=None if reader is None else reader.sums)
    read_quantile_levels(logs, plan, stage, needs, agg, populations, segments, since, until,
                         whole=None if reader is None else reader.levels, units_known=facts.no_unit_rows == 0,
                         window_known=facts.every_row_in_window)
    quality = None if counted is None else counted.quality
    if quality is None:
        quality = data_quality(logs, since=since, until=until, outcome_events=events,
                               counted=None if counted is not None else (facts.window_rows, facts.unknown_arm_rows),
                               whole_source=counted is None and facts.every_row_in_window,
                               outcomes_counted=agg.outcome_rows)
    return facts, agg, quality


def silent_outcomes(logs: Logs, needs: StageNeeds, agg: Aggregates, since: datetime, until: datetime
                    ) -> dict[str, str]:
    """Metric -> why its guards are not judged: not one of its outcome events joined an answered unit of
    either arm (docs/data.md, "No outcome data"). Zero events among units whose events do join is evidence;
    no joined event at all is a pipeline that stalled, a misspelled event or unit ids that match none,
    and would read as a rate of 0. `since`: the window's start (the first answer when none was given)."""
    whole = agg.cells.get(None, {})
    silent = {}
    for m in needs.measures:
        if m.level != "outcome":
            continue
        if m.op == "event_any":  # units with an event
            joined = sum(cell.sums[m.key].sum_x for cell in whole.values() if m.key in cell.sums)
        else:  # events with a value (a sum of 0 may be events worth 0)
            joined = sum(cell.outcome_values.get(m.key, 0) for cell in whole.values())
        if not joined:
            silent[m.metric] = _no_outcome_words(logs, m, since, until)
    return silent


def _no_outcome_words(logs: Logs, m: Measure, since: datetime, until: datetime) -> str:
    """Which of those it is, in words an on-call engineer can act on (one light count of the outcomes)."""
    outs = logs.outcomes
    assert outs is not None  # read_stage refuses outcome measures without outcomes
    params = SqlParams()
    is_event = f"{outs.column('event', 'text')} = {params.add(m.event)}"
    value = outs.column("value", "number") if m.op == "event_sum" else "1"
    in_window = ts_filter(outs.column("ts", "timestamp"), since, until, params)
    row = logs.query(f"SELECT count(*), count(*) FILTER (WHERE {is_event}), count({value}) FILTER (WHERE {is_event}) "
                     f"FROM {outs.from_item(params)} WHERE {in_window}", params)[0]
    rows, events, valued = (int(n or 0) for n in row)
    where, column = f"outcomes {outs.description}", outs.roles.get
    if not rows:
        return f"no outcome events '{m.event}' in the window ({where} has no rows in it)"
    if not events:
        return f"no outcome events '{m.event}' in the window ({where} has {rows} rows in it, none of event '{m.event}')"
    if not valued:
        return (f"none of the {events} outcome events '{m.event}' in the window ({where}) has a value "
                f"(column '{column('value', 'value')}')")
    within = f" within {format_duration(m.window_s)}" if m.window_s is not None else ""
    return (f"none of the {events} outcome events '{m.event}' in the window ({where}) follows an answer to "
            f"its unit (column '{column('unit_id', 'unit_id')}'){within}")


def _empty(logs: Logs, source: BoundSource) -> bool:
    """Whether `source` has no row: one row read at most (a count reads every row group's header)."""
    params = SqlParams()
    return not logs.query(f"SELECT 1 FROM {source.from_item(params)} LIMIT 1", params)


def _pairs(asked: tuple[QuantileRead, ...]) -> list[tuple[str, QuantileRead]]:
    return [(arm, r) for r in asked for arm in ARMS]


def segment_populations(agg: Aggregates, segments: list[str]) -> list[tuple[str, Any]]:
    """Every (segment, value) seen, in the plan's segment order, then by value."""
    found = [p for p in agg.cells if p is not None]
    order = {name: i for i, name in enumerate(segments)}
    return sorted(found, key=lambda p: (order.get(p[0], len(order)), str(p[1])))
