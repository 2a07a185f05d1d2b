"""The outcome join of a traffic stage's statement: each unit's outcome events after its first answer,
within each metric's window (docs/data.md, "Window"), read as distinct rows — an outcome row logged
twice counts once — and, where the grouping key is the duplicate screen's, counted with their copies
so that the quality screen need not read the outcomes again (`counts_outcome_rows`)."""

from __future__ import annotations

from datetime import datetime

from rollout_cli.data.aggregates import Measure
from rollout_cli.data.finite import finite_or_null
from rollout_cli.data.source import Logs, SqlParams, ts_filter
from rollout_cli.errors import DataError


def counts_outcome_rows(logs: Logs) -> bool:
    """Whether the stage statement can count the outcome rows and their exact repeats itself, as
    data/quality.py's screen would (key: unit, time, event, value): the rows it groups on are those
    rows as logged — the unit not cast to meet the predictions', the time a plain TIMESTAMP (a cast
    from nanoseconds would merge times the screen keeps apart)."""
    outs = logs.outcomes
    return (outs is not None and outs.type_of("unit_id") == logs.predictions.type_of("unit_id")
            and outs.columns.get(outs.roles.get("ts", "ts")) == "TIMESTAMP")


def outcome_units_sql(logs: Logs, outcome_measures: list[tuple[int, Measure]], since: datetime | None,
                   until: datetime, params: SqlParams, counted: bool = False) -> str:
    """`outcome_units` (each unit's events after its first answer, within each metric's window)
    and `joined` (every unit, with 0 where it had none). `counted` (when `counts_outcome_rows`):
    the window's outcome rows are grouped with their number of copies in `outcome_rows`, which the
    join reads and the statement's `outcome_rows` part counts — one read of the outcomes instead of two."""
    preds, outs = logs.predictions, logs.outcomes
    if outs is None:
        raise DataError("the plan's metrics count outcome events but data.outcomes is not set")
    o_unit, o_ts = outs.column("unit_id", "any"), outs.column("ts", "timestamp")
    o_event = outs.column("event", "text")
    if outs.type_of("unit_id") != preds.type_of("unit_id"):
        o_unit = f"CAST({o_unit} AS VARCHAR)"
    needs_value = any(m.op == "event_sum" for _, m in outcome_measures)
    o_value = outs.column("value", "number") if needs_value else "NULL"
    if counted and outs.has_role("value"):  # the screen's key holds the value whenever there is one
        o_value = outs.column("value", "any")
    events = ", ".join(params.add(e) for e in dict.fromkeys(m.event for _, m in outcome_measures))
    windows = [m.window_s for _, m in outcome_measures]
    reach = "" if any(w is None for w in windows) else \
        f" AND o.ts <= u.last_ts + to_seconds({params.add(max(w for w in windows if w is not None))})"
    aggs = []
    for i, m in outcome_measures:
        cond = f"o.event = {params.add(m.event)}"
        if m.window_s is not None:
            cond += f" AND o.ts <= u.last_ts + to_seconds({params.add(m.window_s)})"
        value = "1" if m.op == "event_any" else f"coalesce({finite_or_null('CAST(o.value AS DOUBLE)')}, 0)"
        agg = "max" if m.op == "event_any" else "sum"
        per_unit = f"{agg}(CASE WHEN {cond} THEN {value} ELSE 0 END)"
        if m.cap is not None:  # a unit's total, winsorised at the metric's cap
            per_unit = f"least({per_unit}, {params.add(m.cap)})"
        aggs.append(f"{per_unit} AS m{i}_x")
        if m.op == "event_sum":  # values that are NaN or infinite count as 0, and are counted
            aggs.append(f"count(*) FILTER (WHERE {cond} AND NOT isfinite(CAST(o.value AS DOUBLE))) AS ov{i}, "
                        f"count(*) FILTER (WHERE {cond} AND isfinite(CAST(o.value AS DOUBLE))) AS ovn{i}")
    key = f"{o_unit} AS unit, CAST({o_ts} AS TIMESTAMP) AS ts, {o_event} AS event, {o_value} AS value"
    rows = f"""FROM {outs.from_item(params)}
    WHERE {o_event} IN ({events}) AND {ts_filter(o_ts, since, until, params)}"""
    if counted:  # an outcome row logged twice counts once (data/quality.py), and is counted
        grouped = f""", outcome_rows AS MATERIALIZED (
  SELECT {key}, count(*) AS copies
  {rows}
  GROUP BY ALL
)"""
        distinct = "outcome_rows"
    else:  # DISTINCT: an outcome row logged twice counts once (data/quality.py)
        grouped, distinct = "", f"(\n    SELECT DISTINCT {key}\n    {rows}\n  )"
    return f"""{grouped}, outcome_units AS (
  SELECT u.unit, {', '.join(aggs)}
  FROM units u JOIN {distinct} o ON o.unit = u.unit AND o.ts >= u.first_ts{reach}
  GROUP BY u.unit
), joined AS (
  SELECT units.* {''.join(f', coalesce(outcome_units.m{i}_x, 0) AS m{i}_x' for i, _ in outcome_measures)}
         {''.join(f', coalesce(outcome_units.ov{i}, 0) AS ov{i}, coalesce(outcome_units.ovn{i}, 0) AS ovn{i}'
                  for i, m in outcome_measures if m.op == 'event_sum')}
  FROM units LEFT JOIN outcome_units USING (unit)
)"""
