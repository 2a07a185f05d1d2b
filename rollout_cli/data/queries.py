"""The metric SQL: one statement per stage computes every measure for both arms and all segments.

Contract:
- A `Measure` says what is summed per unit; `stage_aggregates` returns, for every population
  (the whole, and each value of each segment column) and each arm, the unit count and the
  sufficient statistics n, Σx, Σy, Σx², Σy², Σxy of every measure, plus observed quantiles.
  A unit-level measure (an outcome count or sum per unit) has y = 1 for every unit, so every
  measure is a ratio Σx/Σy over units and one delta-method formula serves them all.
- Traffic stages (docs/data.md): a unit's arm and segment values are those of its first served
  answer in the window; its request-level measures cover all its served answers; an outcome
  counts when first exposure <= outcome ts <= last served answer + the metric's window (and
  <= the window's end). Units served by both arms are counted as `crossed` in their first arm.
  Answers without a unit (unit_id NULL) are left out: grouped, they would form one giant unit.
- Shadow stages: answers are the baseline's served ones and the candidate's unserved ones,
  grouped per (unit, arm); agreement pairs them by request_id.
- User strings (globs, events, thresholds) are named parameters; column names are quoted
  identifiers checked against the source (BoundSource.column).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from rollout_cli.data.finite import checked_select, finite_or_null, read_value_counts, unit_value_counts, value_stats
from rollout_cli.data.source import BoundSource, Logs, SqlParams, TypeClass
from rollout_cli.errors import DataError

MeasureOp = Literal["event_any", "event_sum", "column_mean", "column_above", "column_below", "agreement"]
Population = tuple[str, Any] | None  # (segment column, value), or None for everyone


@dataclass(frozen=True)
class Measure:
    key: str
    op: MeasureOp
    column: str | None = None  # prediction-log column (column_* ops)
    event: str | None = None  # outcome event (event_* ops)
    window_s: float | None = None  # outcome window after the last served answer; None: up to `until`
    threshold: float | None = None  # column_above / column_below
    tolerance: float | None = None  # agreement
    cap: float | None = None  # event_sum / column_mean: values capped at this (winsorised)
    metric: str = ""  # the plan's metric name, for messages

    @property
    def level(self) -> str:
        return {"event_any": "outcome", "event_sum": "outcome", "agreement": "pairs"}.get(self.op, "request")


@dataclass(frozen=True)
class QuantileSpec:
    key: str
    column: str
    q: float
    levels: tuple[float, ...] = ()  # more levels to read in the same aggregate (confidence bounds)


@dataclass(frozen=True)
class Sums:
    n: int
    sum_x: float
    sum_y: float
    sum_xx: float
    sum_yy: float
    sum_xy: float
    sum_xxx: float | None = None  # event_sum: the sum of cubes (skewness, minimum-information rule)


@dataclass
class ArmCell:
    units: int = 0
    crossed: int = 0
    sums: dict[str, Sums] = field(default_factory=dict)
    quantiles: dict[str, float | None] = field(default_factory=dict)
    quantile_n: dict[str, int] = field(default_factory=dict)  # observations behind each quantile
    quantile_levels: dict[str, dict[float, float | None]] = field(default_factory=dict)  # level -> value
    quantile_design: dict[str, float] = field(default_factory=dict)  # design effect (stats.quantile)
    # values that are NaN or infinite, left out of every statistic: "column latency_ms" or
    # "value of purchase outcomes" -> (non-finite, finite) counts
    value_counts: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Aggregates:
    cells: dict[Population, dict[str, ArmCell]] = field(default_factory=dict)
    baseline_requests: int = 0  # shadow: served baseline answers
    paired_requests: int = 0  # shadow: of those, with a candidate answer

    def cell(self, population: Population, arm: str) -> ArmCell:
        return self.cells.setdefault(population, {}).setdefault(arm, ArmCell())


def _grouping_sets(prefix: str, n_segments: int) -> str:
    sets = [f"({prefix})"] + [f"({prefix}{', ' if prefix else ''}s{i})" for i in range(n_segments)]
    return ", ".join(sets)


def _grouping_columns(n_segments: int) -> str:
    return "".join(f", GROUPING(s{i}) AS g{i}, s{i}" for i in range(n_segments))


def ts_filter(ts: str, since: datetime | None, until: datetime, params: SqlParams) -> str:
    condition = f"{ts} <= {params.add(until)}"
    if since is not None:
        condition += f" AND {ts} >= {params.add(since)}"
    return condition


def _request_aggregates(measures: list[Measure], columns: dict[str, str], params: SqlParams) -> list[str]:
    """Per-unit numerators and denominators of the request-level measures."""
    parts = []
    for i, m in enumerate(measures):
        if m.level != "request":
            continue
        c = columns[m.column or ""]
        if m.op == "column_mean":
            value = f"CAST({c} AS DOUBLE)" if m.cap is None else f"least(CAST({c} AS DOUBLE), {params.add(m.cap)})"
            parts.append(f"sum({value}) AS m{i}_x, count({c}) AS m{i}_y")
        else:
            op = ">" if m.op == "column_above" else "<"
            parts.append(f"count(*) FILTER (WHERE {c} {op} {params.add(m.threshold)}) AS m{i}_x, count({c}) AS m{i}_y")
    return parts


def _sums(measures: list[Measure], levels: tuple[str, ...]) -> list[tuple[str, str]]:
    """(expression over per-unit rows, alias) of every sufficient statistic of the measures at `levels`."""
    out = []
    for i, m in enumerate(measures):
        if m.level not in levels:
            continue
        out += [(f"sum(m{i}_x)", f"m{i}_sx"), (f"sum(m{i}_x * m{i}_x)", f"m{i}_sxx")]
        if m.op == "event_sum":
            out.append((f"sum(m{i}_x * m{i}_x * m{i}_x)", f"m{i}_sxxx"))
        if m.level in ("request", "pairs"):
            out += [(f"sum(m{i}_y)", f"m{i}_sy"), (f"sum(m{i}_y * m{i}_y)", f"m{i}_syy"),
                    (f"sum(m{i}_x * m{i}_y)", f"m{i}_sxy")]
    return out


def _rolled_up(part: str, source: str, stats: list[tuple[str, str]], n_segments: int, *, arm: str = "arm") -> str:
    """Per-unit rows -> sums per (arm, every segment) in one hash aggregate, then the grouping sets
    over those few cells: the statistics are sums, so rolling them up is exact and the big input is
    aggregated once instead of once per grouping set."""
    segs = "".join(f", s{i}" for i in range(n_segments))
    inner = ", ".join(f"{expr} AS {alias}" for expr, alias in stats)
    outer = ", ".join(f"sum({alias}) AS {alias}" for _, alias in stats)
    return (f"SELECT '{part}' AS part, arm{_grouping_columns(n_segments)}, {outer}\n"
            f"FROM (SELECT {arm} AS arm{segs}, {inner} FROM {source} GROUP BY ALL)\n"
            f"GROUP BY GROUPING SETS ({_grouping_sets('arm', n_segments)})")


def _quantile_select(quantiles: list[QuantileSpec], columns: dict[str, str], params: SqlParams) -> str:
    return "".join(f", quantile_cont({columns[q.column]}, {params.add([q.q, *q.levels] if q.levels else q.q)}) "
                   f"AS q{i}, count({columns[q.column]}) AS qn{i}" for i, q in enumerate(quantiles))


def _quantile_part(quantiles: list[QuantileSpec], columns: dict[str, str], params: SqlParams, rows: str,
                   n_segments: int) -> str:
    """Observed quantiles per arm (and per segment value only when a quantile guard is per segment:
    quantiles are not additive, so each grouping set costs a pass over the answers)."""
    if not quantiles:
        return ""
    return (f"\nUNION ALL BY NAME\nSELECT 'quantiles' AS part, arm{_grouping_columns(n_segments)}"
            f"{_quantile_select(quantiles, columns, params)}\n"
            f"FROM {rows} GROUP BY GROUPING SETS ({_grouping_sets('arm', n_segments)})")


def _columns_needed(preds: BoundSource, measures: list[Measure], quantiles: list[QuantileSpec]) -> dict[str, str]:
    """Plan column name -> quoted identifier, each checked to be a number (or a flag)."""
    needed: dict[str, str] = {}
    for m in measures:
        if m.column is not None:
            expect: TypeClass = "flag" if m.op == "column_mean" else "number"
            needed[m.column] = preds.column(f"column of metric {m.metric or m.key}", expect, column=m.column)
    for q in quantiles:
        needed[q.column] = preds.column(f"column of metric {q.key}", "number", column=q.column)
    return needed


@dataclass(frozen=True)
class _PredictionColumns:
    """The prediction log's columns both stage statements select, each checked and quoted once."""

    unit: str
    ts: str
    arm: str
    served: str
    segments: list[str]  # quoted, in the plan's order; selected as s0, s1, ...
    measured: dict[str, str]  # what the measures and quantiles read (see _columns_needed)
    numeric: list[str] = field(default_factory=list)  # quoted numeric columns among `measured`, as nf0, nf1, ...

    def select_list(self) -> str:
        """`, seg AS s0, … , col AS col, …` for the first CTE; numeric columns through data.finite."""
        segments = "".join(f", {s} AS s{i}" for i, s in enumerate(self.segments))
        plain = "".join(f", {c} AS {c}" for c in dict.fromkeys(self.measured.values()) if c not in self.numeric)
        return segments + plain + checked_select(self.numeric)

    def first_segments(self, alias: str = "") -> str:
        """Each segment value of a unit's first answer (a unit keeps the segment it started in)."""
        return "".join(f", arg_min({alias}s{i}, {alias}ts) AS s{i}" for i in range(len(self.segments)))


def _prediction_columns(preds: BoundSource, segments: list[str], measures: list[Measure],
                        quantiles: list[QuantileSpec]) -> _PredictionColumns:
    unit, ts, arm = preds.column("unit_id", "any"), preds.column("ts", "timestamp"), preds.column("arm", "text")
    served = preds.column("served", "boolean")
    segs = [preds.column("segment", "any", column=s) for s in segments]
    measured = _columns_needed(preds, measures, quantiles)
    numeric = list(dict.fromkeys(q for name, q in measured.items() if preds.type_of("column", column=name) == "number"))
    return _PredictionColumns(unit, ts, arm, served, segs, measured, numeric)


# Per-unit rows kept elsewhere (the evaluation cache, docs/incremental.md): called with a builder of the
# per-unit SELECT over any Logs and the unit key expressions (predictions, outcomes); returns a FROM item
# holding exactly the rows that SELECT gives over the whole logs.
UnitRows = Callable[[Callable[[Logs, SqlParams], str], tuple[str, str | None]], str]


def unit_keys(logs: Logs, measures: list[Measure]) -> tuple[str, str | None]:
    """The unit expressions of the per-unit rows: over predictions, and over outcomes when joined
    (join keys of different types meet as text)."""
    preds, outs = logs.predictions, logs.outcomes
    unit = preds.column("unit_id", "any")
    if not any(m.level == "outcome" for m in measures) or outs is None:
        return unit, None
    o_unit = outs.column("unit_id", "any")
    if preds.type_of("unit_id") != outs.type_of("unit_id"):
        return f"CAST({unit} AS VARCHAR)", f"CAST({o_unit} AS VARCHAR)"
    return unit, o_unit


def traffic_unit_sql(logs: Logs, *, segments: list[str], measures: list[Measure], since: datetime | None,
                     until: datetime, params: SqlParams) -> str:
    """A traffic stage's per-unit rows (what `traffic_sql` rolls up): one row per unit, as a SELECT."""
    c = _prediction_columns(logs.predictions, segments, measures, [])
    outcome_measures = [(i, m) for i, m in enumerate(measures) if m.level == "outcome"]
    sql = _served_units(logs, c, measures, bool(outcome_measures), since, until, params)
    if outcome_measures:
        return sql + _outcome_units(logs, outcome_measures, since, until, params) + "\nSELECT * FROM joined"
    return sql + "\nSELECT * FROM units"


def traffic_sql(logs: Logs, *, segments: list[str], measures: list[Measure], quantiles: list[QuantileSpec],
                since: datetime | None, until: datetime, params: SqlParams, quantile_segments: bool = False,
                unit_rows: UnitRows | None = None) -> str:
    """A traffic stage's statement: served answers -> units (first arm, crossover, request sums)
    -> their outcome events within each metric's window -> sums per arm and segment, and quantiles.
    `unit_rows`: the per-unit rows come from there (the same rows, kept by the evaluation cache)."""
    c = _prediction_columns(logs.predictions, segments, measures, quantiles)
    outcome_measures = [(i, m) for i, m in enumerate(measures) if m.level == "outcome"]
    stats = [("count(*)", "n"), ("sum(crossed)", "crossed")] + _sums(measures, ("request", "outcome"))
    stats += value_stats(len(c.numeric), [i for i, m in outcome_measures if m.op == "event_sum"])
    if unit_rows is not None:
        def build(over: Logs, into: SqlParams) -> str:
            return traffic_unit_sql(over, segments=segments, measures=measures, since=since, until=until, params=into)

        relation = unit_rows(build, unit_keys(logs, measures))
        sql = [_served_units(logs, c, measures, bool(outcome_measures), since, until, params, served_only=True),
               "\n" + _rolled_up("units", relation, stats, len(c.segments))]
    else:
        sql = [_served_units(logs, c, measures, bool(outcome_measures), since, until, params)]
        if outcome_measures:
            sql.append(_outcome_units(logs, outcome_measures, since, until, params))
        sql.append("\n" + _rolled_up("units", "joined" if outcome_measures else "units", stats, len(c.segments)))
    sql.append(_quantile_part(quantiles, c.measured, params, "served", len(c.segments) if quantile_segments else 0))
    return "".join(sql)


def _served_units(logs: Logs, c: _PredictionColumns, measures: list[Measure], joins_outcomes: bool,
                  since: datetime | None, until: datetime, params: SqlParams, served_only: bool = False) -> str:
    """`served` (the window's served answers) and `units` (one row per unit; not with `served_only`)."""
    preds = logs.predictions
    unit_expr = unit_keys(logs, measures)[0] if joins_outcomes else c.unit  # the cache's key is the same
    # NOT MATERIALIZED: the quantile part reads `served` again rather than a copy of every answer (GBs at 20M)
    served = f"""WITH served AS NOT MATERIALIZED (
  SELECT {unit_expr} AS unit, CAST({c.ts} AS TIMESTAMP) AS ts, {c.arm} AS arm, {c.arm} = 'candidate' AS cand
         {c.select_list()}
  FROM {preds.from_item(params)}
  WHERE {c.served} AND {c.arm} IN ('baseline', 'candidate') AND {c.unit} IS NOT NULL
        AND {ts_filter(c.ts, since, until, params)}
)"""
    if served_only:
        return served
    return served + f""", units AS (
  -- the arm as a boolean: min/max/arg_min over strings cost more than the whole outcome join
  SELECT unit, CASE WHEN arg_min(cand, ts) THEN 'candidate' ELSE 'baseline' END AS arm,
         min(ts) AS first_ts, max(ts) AS last_ts, CAST(bool_or(cand) AND NOT bool_and(cand) AS INTEGER) AS crossed
         {c.first_segments()}
         {''.join(', ' + p for p in _request_aggregates(measures, c.measured, params))}{unit_value_counts(c.numeric)}
  FROM served GROUP BY unit
)"""


def _outcome_units(logs: Logs, outcome_measures: list[tuple[int, Measure]], since: datetime | None,
                   until: datetime, params: SqlParams) -> str:
    """`outcome_units` (each unit's events after its first answer, within each metric's window)
    and `joined` (every unit, with 0 where it had none)."""
    preds, outs = logs.predictions, logs.outcomes
    if outs is None:
        raise DataError("the plan's metrics count outcome events but data.outcomes is not set")
    o_unit, o_ts = outs.column("unit_id", "any"), outs.column("ts", "timestamp")
    o_event = outs.column("event", "text")
    if outs.type_of("unit_id") != preds.type_of("unit_id"):
        o_unit = f"CAST({o_unit} AS VARCHAR)"
    needs_value = any(m.op == "event_sum" for _, m in outcome_measures)
    o_value = outs.column("value", "number") if needs_value else "NULL"
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
    return f""", outcome_units AS (
  SELECT u.unit, {', '.join(aggs)}
  FROM units u JOIN (
    SELECT DISTINCT {o_unit} AS unit, CAST({o_ts} AS TIMESTAMP) AS ts, {o_event} AS event, {o_value} AS value
    FROM {outs.from_item(params)}  -- DISTINCT: an outcome row logged twice counts once (data/quality.py)
    WHERE {o_event} IN ({events}) AND {ts_filter(o_ts, since, until, params)}
  ) o ON o.unit = u.unit AND o.ts >= u.first_ts{reach}
  GROUP BY u.unit
), joined AS (
  SELECT units.* {''.join(f', coalesce(outcome_units.m{i}_x, 0) AS m{i}_x' for i, _ in outcome_measures)}
         {''.join(f', coalesce(outcome_units.ov{i}, 0) AS ov{i}, coalesce(outcome_units.ovn{i}, 0) AS ovn{i}'
                  for i, m in outcome_measures if m.op == 'event_sum')}
  FROM units LEFT JOIN outcome_units USING (unit)
)"""


def shadow_sql(logs: Logs, *, segments: list[str], measures: list[Measure], quantiles: list[QuantileSpec],
               since: datetime | None, until: datetime, params: SqlParams, quantile_segments: bool = False) -> str:
    """A shadow stage's statement: baseline answers served and candidate answers mirrored, per
    unit and arm, and the paired requests (coverage, agreement) per baseline unit."""
    preds = logs.predictions
    c = _prediction_columns(preds, segments, measures, quantiles)
    agreement = [(i, m) for i, m in enumerate(measures) if m.level == "pairs"]
    # coverage (candidate answers per baseline request) is always measured; agreement when guarded
    rid = preds.column("request_id", "any")
    pred = preds.column("prediction", "number_or_text") if agreement else "NULL"
    pair_select = f", {rid} AS rid, {pred} AS pred"
    sql = [f"""WITH answers AS (
  SELECT {c.unit} AS unit, CAST({c.ts} AS TIMESTAMP) AS ts, {c.arm} AS arm{c.select_list()}{pair_select}
  FROM {preds.from_item(params)}
  WHERE ((({c.arm}) = 'baseline' AND {c.served}) OR (({c.arm}) = 'candidate' AND NOT {c.served}))
        AND {c.unit} IS NOT NULL AND {ts_filter(c.ts, since, until, params)}
), unit_arm AS (
  SELECT unit, arm, 0 AS crossed {c.first_segments()}
         {''.join(', ' + p for p in _request_aggregates(measures, c.measured, params))}{unit_value_counts(c.numeric)}
  FROM answers GROUP BY unit, arm
)"""]
    numeric = bool(agreement) and preds.type_of("prediction") == "number"
    agrees = []
    for i, m in agreement:
        same = f"abs(c.pred - b.pred) <= {params.add(m.tolerance or 0.0)}" if numeric else "c.pred = b.pred"
        agrees.append(f", count(*) FILTER (WHERE c.rid IS NOT NULL AND {same}) AS m{i}_x, count(c.rid) AS m{i}_y")
    sql.append(f""", cand AS (
  SELECT rid, any_value(pred) AS pred FROM answers WHERE arm = 'candidate' GROUP BY rid
), pairs AS (
  SELECT b.unit {c.first_segments("b.")},
         count(*) AS base_requests, count(c.rid) AS paired{''.join(agrees)}
  FROM answers b LEFT JOIN cand c ON c.rid = b.rid
  WHERE b.arm = 'baseline' GROUP BY b.unit
)""")
    stats = [("count(*)", "n"), ("sum(crossed)", "crossed")] + _sums(measures, ("request",)) + value_stats(len(c.numeric), [])
    sql.append("\n" + _rolled_up("units", "unit_arm", stats, len(c.segments)))
    pair_stats = [("count(*) FILTER (WHERE paired > 0)", "n"), ("sum(base_requests)", "base_requests"),
                  ("sum(paired)", "paired")] + _sums(measures, ("pairs",))
    sql.append("\nUNION ALL BY NAME\n" + _rolled_up("pairs", "pairs", pair_stats, len(c.segments), arm="'candidate'"))
    sql.append(_quantile_part(quantiles, c.measured, params, "answers", len(c.segments) if quantile_segments else 0))
    return "".join(sql)


def stage_aggregates(logs: Logs, *, shadow: bool, segments: list[str], measures: list[Measure],
                     quantiles: list[QuantileSpec], since: datetime | None, until: datetime,
                     quantile_segments: bool = False, unit_rows: UnitRows | None = None) -> Aggregates:
    """Run the stage's one statement and collect its rows by population and arm (a traffic stage's
    per-unit rows from `unit_rows` when given: the evaluation cache's, docs/incremental.md)."""
    params = SqlParams()
    if shadow:
        sql = shadow_sql(logs, segments=segments, measures=measures, quantiles=quantiles, since=since, until=until,
                         params=params, quantile_segments=quantile_segments)
    else:
        sql = traffic_sql(logs, segments=segments, measures=measures, quantiles=quantiles, since=since, until=until,
                          params=params, quantile_segments=quantile_segments, unit_rows=unit_rows)
    rows = logs.query(sql, params)
    names = logs.last_columns
    c = _prediction_columns(logs.predictions, segments, measures, quantiles)
    numeric_names = [next(name for name, quoted in c.measured.items() if quoted == q) for q in c.numeric]
    outcome_events = {i: str(m.event) for i, m in enumerate(measures) if m.op == "event_sum"}
    result = Aggregates()
    for raw in rows:
        row = dict(zip(names, raw))
        population: Population = None
        for i, segment in enumerate(segments):
            if row.get(f"g{i}") == 0:
                population = (segment, row[f"s{i}"])
        cell = result.cell(population, row["arm"])
        if row["part"] == "quantiles":
            for i, q in enumerate(quantiles):
                value = row.get(f"q{i}")
                if q.levels:  # [q, *levels]
                    values = list(value) if value is not None else [None] * (1 + len(q.levels))
                    value = values[0]
                    cell.quantile_levels[q.key] = {level: None if v is None else float(v)
                                                   for level, v in zip(q.levels, values[1:])}
                cell.quantiles[q.key] = float(value) if value is not None else None
                cell.quantile_n[q.key] = int(row.get(f"qn{i}") or 0)
            continue
        if row["part"] == "pairs" and population is None:
            result.baseline_requests = int(row["base_requests"] or 0)
            result.paired_requests = int(row["paired"] or 0)
        if row["part"] == "units":
            cell.units = int(row["n"] or 0)
            cell.value_counts = read_value_counts(row, numeric_names, outcome_events)
            cell.crossed = int(row["crossed"] or 0)
        level = "pairs" if row["part"] == "pairs" else None
        n = int(row["n"] or 0)
        for i, m in enumerate(measures):
            if (m.level == "pairs") != (level == "pairs") or f"m{i}_sx" not in row or row[f"m{i}_sx"] is None:
                continue
            sx, sxx = float(row[f"m{i}_sx"]), float(row[f"m{i}_sxx"])
            if m.level == "outcome":  # one value per unit: y = 1
                cube = row.get(f"m{i}_sxxx")
                cell.sums[m.key] = Sums(n, sx, float(n), sxx, float(n), sx, None if cube is None else float(cube))
            else:
                cell.sums[m.key] = Sums(n, sx, float(row[f"m{i}_sy"]), sxx, float(row[f"m{i}_syy"]),
                                        float(row[f"m{i}_sxy"]))
    return result

