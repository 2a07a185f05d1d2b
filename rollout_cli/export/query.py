"""The export's one statement: requests (or units) joined with outcomes and labelled with the
stage and split in force (docs/export.md).

Same rules as data/queries.py: user values (globs, events, windows, times) are named
parameters; columns are quoted identifiers checked against the source. The statement is a
plain SELECT, so it can be COPY'd (streamed) or DESCRIBE'd (the data dictionary).

- Period: the index of the stage period (state/timeline.py) a row's time falls in, by a CASE
  over the periods' starts — a projection, no join over the big table; -1 before the first.
- `judged`: the answer falls in the window the stage's evaluation judged — from the period's
  start plus the plan's settling time, never after a rollback. Units are built from judged
  answers only.
- Units are taken per (unit, period), as the evaluation of that stage took them: the unit's arm
  and segments come from its first served answer in the period (`first_exposure` marks that
  request), `crossover` says it was served by both arms there, and an outcome counts for a
  metric when first exposure <= outcome time <= last served answer + the metric's window, before
  the period ends (and not after --until).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from rollout_cli.data.source import BoundSource, Logs, SqlParams, TypeClass, quote_identifier, utc_naive
from rollout_cli.errors import DataError
from rollout_cli.plan.model import Metric, Plan
from rollout_cli.state.timeline import StagePeriod

Per = Literal["request", "unit"]
ARMS = ("baseline", "candidate")
# Optional per-answer roles: exported for each arm when the prediction log has them.
ANSWER_ROLES: tuple[tuple[str, TypeClass], ...] = (("prediction", "number_or_text"), ("latency_ms", "number"), ("error", "flag"))


@dataclass(frozen=True)
class ExportQuery:
    sql: str
    params: SqlParams
    segments: dict[str, str]  # output column -> the plan's segment column
    outcomes: dict[str, Metric]  # output column -> the outcome metric
    answer_roles: tuple[str, ...]  # the optional roles present


def outcome_metrics(plan: Plan) -> list[Metric]:
    """The plan's metrics counted from outcome events (attributed per unit)."""
    return [m for m in plan.metrics.values() if m.kind in ("proportion", "mean") and m.event is not None]


def _has(source: BoundSource, role: str) -> bool:
    """Whether the source has the column mapped to `role` (optional roles are exported when present)."""
    return source.roles.get(role, role) in source.columns


def _period_case(ts: str, periods: list[StagePeriod], params: SqlParams) -> str:
    if not periods:
        return "-1"
    arms = " ".join(f"WHEN {ts} >= {params.add(utc_naive(p.start))} THEN {i}"
                    for i, p in reversed(list(enumerate(periods))))
    return f"CASE {arms} ELSE -1 END"


def _judged_case(ts: str, periods: list[StagePeriod], settling_s: float, params: SqlParams) -> str:
    """Whether an answer is in the window its stage's evaluation judged: from the split's start plus
    the plan's settling time (controller.judged_since), and never after a rollback."""
    if not periods:
        return "FALSE"
    arms = []
    for i, p in reversed(list(enumerate(periods))):
        start = utc_naive(p.start)
        arms.append(f"WHEN {ts} >= {params.add(start + timedelta(seconds=settling_s))} THEN {'TRUE' if p.stage else 'FALSE'}")
        arms.append(f"WHEN {ts} >= {params.add(start)} THEN FALSE")
    return f"CASE {' '.join(arms)} ELSE FALSE END"


PERIOD_FIELDS = {"stage": "VARCHAR", "candidate_traffic": "DOUBLE", "shadow": "DOUBLE", "period_end": "TIMESTAMP"}


def _period_value(period: str, periods: list[StagePeriod], name: str, params: SqlParams) -> str:
    """The stage, split or end (`name`) of the period numbered `period`, as a CASE: a lookup in the
    projection. A join with a VALUES list of periods would hide the row counts from DuckDB's
    planner (it estimates one row after it) and make it build its hash tables on the big side."""
    sql_type = PERIOD_FIELDS[name]
    values = [utc_naive(p.end) if p.end is not None else None for p in periods] if name == "period_end" \
        else [getattr(p, name) for p in periods]
    arms = " ".join(f"WHEN {i} THEN {params.add(v)}::{sql_type}" for i, v in enumerate(values) if v is not None)
    return f"CASE {period} {arms} ELSE NULL::{sql_type} END" if arms else f"NULL::{sql_type}"


def export_query(plan: Plan, logs: Logs, periods: list[StagePeriod], *, per: Per, since: datetime | None,
                 until: datetime | None, only_periods: list[int] | None = None) -> ExportQuery:
    """The statement (see the module contract); DataError when a needed column is missing."""
    params = SqlParams()
    preds = logs.predictions
    rid, unit = preds.column("request_id", "any"), preds.column("unit_id", "any")
    ts, arm = preds.column("ts", "timestamp"), preds.column("arm", "text")
    served = preds.column("served", "boolean")
    roles = tuple(role for role, _ in ANSWER_ROLES if _has(preds, role))
    role_cols = {role: preds.column(role, expect) for role, expect in ANSWER_ROLES if role in roles}
    reserved = {"request_id", "ts", "unit_id", "stage", "candidate_traffic", "shadow", "served_arm", "unit_arm",
                "first_exposure", "crossover", "first_ts", "last_ts", "requests"}
    segments = {(f"segment_{s}" if s in reserved else s): s for s in plan.segments}
    seg_cols = {out: preds.column("segment", "any", column=s) for out, s in segments.items()}
    metrics = outcome_metrics(plan)
    outcomes = {f"outcome_{m.name}": m for m in metrics}

    until_n = utc_naive(until) if until is not None else None
    bounds = [f"{ts} >= {params.add(utc_naive(since))}"] if since is not None else []
    bounds += [f"{ts} <= {params.add(until_n)}"] if until_n is not None else []
    window = " AND ".join(bounds) or "TRUE"
    if outcomes and logs.outcomes is not None and _has(logs.outcomes, "unit_id") \
            and logs.outcomes.type_of("unit_id") != preds.type_of("unit_id"):
        unit = f"CAST({unit} AS VARCHAR)"  # join keys of different types meet as text, as in evaluation
    period = _period_case(f"CAST({ts} AS TIMESTAMP)", periods, params)
    keep = f" AND ({period}) IN ({', '.join(str(i) for i in only_periods)})" if only_periods is not None else ""
    q = quote_identifier
    role_names = [q("r_" + role) for role in roles]
    # `answers` is scanned where it is used (NOT MATERIALIZED): a materialised copy of every answer
    # would cost more memory (or spill) than reading the file again with only the needed columns.
    sql = [f"""WITH answers AS NOT MATERIALIZED (
  SELECT {rid} AS request_id, {unit} AS unit_id, CAST({ts} AS TIMESTAMP) AS ts, {arm} AS arm, {served} AS served,
         {period} AS period, {_judged_case(f"CAST({ts} AS TIMESTAMP)", periods, plan.decision.settling_s, params)} AS judged
         {''.join(f', {c} AS {q("r_" + role)}' for role, c in role_cols.items())}
         {''.join(f', {c} AS {q(out)}' for out, c in seg_cols.items())}
  FROM {preds.from_item(params)}
  WHERE {arm} IN ('baseline', 'candidate') AND {window}{keep}
), units AS (
  SELECT unit_id, period, arg_min(arm, ts) AS unit_arm, min(ts) AS first_ts, max(ts) AS last_ts,
         arg_min(request_id, ts) AS first_request, count(*) AS requests,
         bool_or(arm = 'candidate') AND bool_or(arm = 'baseline') AS crossover
         {''.join(f', arg_min({q(out)}, ts) AS {q(out)}' for out in segments)}
  FROM answers WHERE served AND judged AND unit_id IS NOT NULL GROUP BY unit_id, period
)"""]
    if outcomes:
        sql.append(_outcome_part(logs, outcomes, until_n, periods, params))

    def split(alias: str) -> str:
        return ", ".join(f"{_period_value(f'{alias}.period', periods, name, params)} AS {name}"
                         for name in ("stage", "candidate_traffic", "shadow"))

    outcome_select = "".join(f", coalesce(o.{q(out)}, 0) AS {q(out)}" for out in outcomes)
    outcome_join = " LEFT JOIN outcome_units o ON o.unit_id = u.unit_id AND o.period = u.period" if outcomes else ""
    if per == "unit":
        sql.append(f"""
SELECT u.unit_id, {split('u')}, u.unit_arm
       {''.join(f', u.{q(out)}' for out in segments)}, u.first_ts, u.last_ts, u.requests, u.crossover{outcome_select}
FROM units u{outcome_join}""")
        return ExportQuery("".join(sql), params, segments, outcomes, roles)
    # A request is its served answer paired with the mirrored (unserved) answer of the same request_id:
    # a join whose build side is the mirrored answers only — none at all in a stage without shadow —
    # instead of grouping every answer by request. Answers without a request_id cannot be paired.
    per_arm = "".join(f", CASE WHEN s.arm = '{a}' THEN s.{name} WHEN m.arm = '{a}' THEN m.{name} END "
                      f"AS {q(f'{a}_{role}')}" for role, name in zip(roles, role_names) for a in ARMS)
    sql.append(f""", unit_facts AS (
  SELECT u.unit_id, u.period, u.unit_arm, u.first_request, u.crossover{outcome_select}
  FROM units u{outcome_join}
), requests AS (
  SELECT coalesce(s.request_id, m.request_id) AS request_id, coalesce(s.period, m.period) AS period,
         coalesce(s.ts, m.ts) AS ts, coalesce(s.unit_id, m.unit_id) AS unit_id, s.arm AS served_arm,
         coalesce(s.judged, m.judged) AS judged{per_arm}
         {''.join(f', coalesce(s.{q(out)}, m.{q(out)}) AS {q(out)}' for out in segments)}
  FROM (SELECT * FROM answers WHERE served AND request_id IS NOT NULL) s
  FULL JOIN (SELECT * FROM answers WHERE NOT served AND request_id IS NOT NULL) m ON m.request_id = s.request_id
)
SELECT r.request_id, r.ts, r.unit_id, {split('r')}, r.served_arm
       {''.join(f', r.{q(f"{a}_{role}")}' for role in roles for a in ARMS)}
       {''.join(f', r.{q(out)}' for out in segments)},
       r.judged, f.unit_arm,
       r.request_id IS NOT DISTINCT FROM f.first_request AND f.unit_id IS NOT NULL AS first_exposure,
       f.crossover{''.join(f', f.{q(out)}' for out in outcomes)}
FROM requests r
LEFT JOIN unit_facts f ON f.unit_id = r.unit_id AND f.period = r.period""")
    return ExportQuery("".join(sql), params, segments, outcomes, roles)


def _outcome_part(logs: Logs, outcomes: dict[str, Metric], until: datetime | None, periods: list[StagePeriod],
                  params: SqlParams) -> str:
    outs = logs.outcomes
    if outs is None:
        names = ", ".join(m.name for m in outcomes.values())
        raise DataError(f"the plan's metrics {names} count outcome events but data.outcomes is not set")
    o_unit, o_ts, o_event = outs.column("unit_id", "any"), outs.column("ts", "timestamp"), outs.column("event", "text")
    if outs.type_of("unit_id") != logs.predictions.type_of("unit_id"):
        o_unit = f"CAST({o_unit} AS VARCHAR)"
    needs_value = any(m.kind == "mean" for m in outcomes.values())
    o_value = outs.column("value", "number") if needs_value else "NULL"
    events = ", ".join(params.add(e) for e in dict.fromkeys(m.event for m in outcomes.values()))
    aggs = []
    for out, m in outcomes.items():
        cond = f"o.event = {params.add(m.event)}"
        if m.window_s is not None:
            cond += f" AND o.ts <= u.last_ts + to_seconds({params.add(m.window_s)})"
        if m.kind == "proportion":
            aggs.append(f"max(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {quote_identifier(out)}")
        else:
            aggs.append(f"sum(CASE WHEN {cond} THEN coalesce(CAST(o.value AS DOUBLE), 0) ELSE 0 END) "
                        f"AS {quote_identifier(out)}")
    capped = f" AND o.ts <= {params.add(until)}" if until is not None else ""
    end = _period_value("u.period", periods, "period_end", params)
    return f""", outcome_units AS (
  SELECT u.unit_id, u.period, {', '.join(aggs)}
  FROM units u JOIN (
    SELECT {o_unit} AS unit_id, CAST({o_ts} AS TIMESTAMP) AS ts, {o_event} AS event, {o_value} AS value
    FROM {outs.from_item(params)} WHERE {o_event} IN ({events})
  ) o ON o.unit_id = u.unit_id AND o.ts >= u.first_ts AND (({end}) IS NULL OR o.ts < ({end})){capped}
  GROUP BY u.unit_id, u.period
)"""
