"""The metric SQL: one statement per stage computes every measure for both arms and all segments.

Contract:
- Each statement has one shape: the window's answers -> a per-unit relation (`units`, or
  `unit_arm` in shadow; outcome events joined in as `joined`) -> sums per arm × segment
  (data/rollup.py), beside the observed quantiles per arm. The types are data/aggregates.py.
- `stage_aggregates` returns, for every population (the whole, and each value of each segment
  column) and each arm, the unit count and the sufficient statistics of every measure, plus
  the observed quantiles asked for (`quantiles`: the evaluator asks only per-segment ones, the light
  scan reads the others) and, for each `DesignCounts`, the per-unit counts behind a quantile's
  design effect (data/design_counts.py), counted in the per-unit relation's own pass.
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

from rollout_cli.data import design_counts
from rollout_cli.data.aggregates import (  # noqa: F401 - the statement's types, imported from here by callers
    Aggregates,
    ArmCell,
    DesignCounts,
    IndicatorSums,
    Measure,
    MeasureOp,
    Population,
    QuantileSpec,
    Sums,
)
from rollout_cli.data.engine import DuckDBEngine
from rollout_cli.data.finite import checked_select, unit_value_counts, value_stats
from rollout_cli.data.join_sides import as_written, outcomes_build
from rollout_cli.data.rollup import cell_sums, grouping_columns, grouping_sets, read_rows, rolled_up, unit_sums
from rollout_cli.data.segment_codes import STRAY, SegmentCodes, read_codes
from rollout_cli.data.outcome_join import counts_outcome_rows, outcome_units_sql
from rollout_cli.data.source import BoundSource, Logs, SqlParams, TypeClass, ts_filter  # noqa: F401 - ts_filter imported from here by callers
from rollout_cli.errors import DataError


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


def _quantile_select(quantiles: list[QuantileSpec], columns: dict[str, str], params: SqlParams) -> str:
    return "".join(f", quantile_cont({columns[q.column]}, {params.add([q.q, *q.levels] if q.levels else q.q)}) "
                   f"AS q{i}, count({columns[q.column]}) AS qn{i}" for i, q in enumerate(quantiles))


def _quantile_part(quantiles: list[QuantileSpec], columns: dict[str, str], params: SqlParams, rows: str,
                   n_segments: int) -> str:
    """Observed quantiles per arm (and per segment value only when a quantile guard is per segment:
    quantiles are not additive, so each grouping set costs a pass over the answers)."""
    if not quantiles:
        return ""
    return (f"\nUNION ALL BY NAME\nSELECT 'quantiles' AS part, arm{grouping_columns(n_segments)}"
            f"{_quantile_select(quantiles, columns, params)}\n"
            f"FROM {rows} GROUP BY GROUPING SETS ({grouping_sets('arm', n_segments)})")


def _columns_needed(preds: BoundSource, measures: list[Measure], quantiles: list[QuantileSpec],
                    design: list[DesignCounts]) -> dict[str, str]:
    """Plan column name -> quoted identifier, each checked to be a number (or a flag)."""
    needed: dict[str, str] = {}
    for m in measures:
        if m.column is not None:
            expect: TypeClass = "flag" if m.op == "column_mean" else "number"
            needed[m.column] = preds.column(f"column of metric {m.metric or m.key}", expect, column=m.column)
    for key, column in [(q.key, q.column) for q in quantiles] + [(d.key, d.column) for d in design]:
        needed[column] = preds.column(f"column of metric {key}", "number", column=column)
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

    def first_answer(self, codes: SegmentCodes | None = None) -> tuple[str, str | None]:
        """A traffic unit's arm and segment values, those of its first answer: (the per-unit
        aggregates, the column the roll-up reads them from, or None for plain `arm`). With
        segments, one arg_min over their codes (data/segment_codes.py) or else over a struct: each
        arg_min is a state of the largest hash aggregate of the evaluation, and one struct costs less
        than three (benchmarks/README.md)."""
        arm = "CASE WHEN arg_min(cand, ts) THEN 'candidate' ELSE 'baseline' END AS arm"
        if not self.segments:
            return arm, None
        if codes is not None:
            return "arg_min(code_, ts) AS first_answer", "first_answer"
        fields = ", ".join(["'cand': cand"] + [f"'s{i}': s{i}" for i in range(len(self.segments))])
        return f"arg_min({{{fields}}}, ts) AS first_answer", "first_answer"


def _prediction_columns(preds: BoundSource, segments: list[str], measures: list[Measure],
                        quantiles: list[QuantileSpec], design: list[DesignCounts]) -> _PredictionColumns:
    unit, ts, arm = preds.column("unit_id", "any"), preds.column("ts", "timestamp"), preds.column("arm", "text")
    served = preds.column("served", "boolean")
    segs = [preds.column("segment", "any", column=s) for s in segments]
    measured = _columns_needed(preds, measures, quantiles, design)
    numeric = list(dict.fromkeys(q for name, q in measured.items() if preds.type_of("column", column=name) == "number"))
    return _PredictionColumns(unit, ts, arm, served, segs, measured, numeric)


# Per-unit rows kept elsewhere (the evaluation cache, docs/incremental.md): called with a builder of the
# per-unit SELECT over any Logs, the unit key expressions (predictions, outcomes) and a builder of the
# cells' sums over per-unit rows (rollup.cell_sums with `counted`); returns a FROM item holding the cells'
# sums of the rows that SELECT gives over the whole logs.
UnitRows = Callable[[Callable[[Logs, SqlParams], str], tuple[str, str | None], Callable[[str], str]], str]


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
    c = _prediction_columns(logs.predictions, segments, measures, [], [])
    outcome_measures = [(i, m) for i, m in enumerate(measures) if m.level == "outcome"]
    sql = _served_units(logs, c, measures, [], bool(outcome_measures), since, until, params)
    if outcome_measures:
        return sql + outcome_units_sql(logs, outcome_measures, since, until, params) + "\nSELECT * FROM joined"
    return sql + "\nSELECT * FROM units"


def traffic_sql(logs: Logs, *, segments: list[str], measures: list[Measure], quantiles: list[QuantileSpec],
                since: datetime | None, until: datetime, params: SqlParams, quantile_segments: bool = False,
                unit_rows: UnitRows | None = None, design: list[DesignCounts] | None = None,
                codes: SegmentCodes | None = None, count_outcomes: bool = False) -> str:
    """A traffic stage's statement: served answers -> units (first arm, crossover, request sums)
    -> their outcome events within each metric's window -> sums per arm and segment, and quantiles.
    `codes`: the first answer's arm and segment values as one integer (data/segment_codes.py).
    `count_outcomes` (see data/outcome_join.py): a row of part `outcome_rows` says how many outcome
    rows the window holds (`n`) and how many of them are distinct (`kept`).
    `unit_rows`: the per-unit rows come from there (the same rows, kept by the evaluation cache; they
    carry no design counts, whose thresholds move from look to look: pass none with them)."""
    design = design or []
    if unit_rows is not None and design:
        raise ValueError("kept per-unit rows carry no design counts")
    c = _prediction_columns(logs.predictions, segments, measures, quantiles, design)
    outcome_measures = [(i, m) for i, m in enumerate(measures) if m.level == "outcome"]
    stats = [("count(*)", "n"), ("sum(crossed)", "crossed")] + unit_sums(measures, ("request", "outcome"))
    stats += value_stats(len(c.numeric), [i for i, m in outcome_measures if m.op == "event_sum"])
    stats += design_counts.rolled_stats(design)
    first = c.first_answer(codes)[1]
    if unit_rows is not None:
        if codes is not None:
            raise ValueError("kept per-unit rows carry the first answer's values, not their codes")
        def build(over: Logs, into: SqlParams) -> str:
            return traffic_unit_sql(over, segments=segments, measures=measures, since=since, until=until, params=into)

        def cells(source: str) -> str:
            return cell_sums(source, stats, len(c.segments), first=first, counted=True)

        relation = unit_rows(build, unit_keys(logs, measures), cells)
        sql = [_served_units(logs, c, measures, design, bool(outcome_measures), since, until, params, served_only=True),
               "\n" + rolled_up("units", relation, stats, len(c.segments), summed=True)]
    else:
        sql = [_served_units(logs, c, measures, design, bool(outcome_measures), since, until, params, codes=codes)]
        counted = count_outcomes and bool(outcome_measures)
        if outcome_measures:
            sql.append(outcome_units_sql(logs, outcome_measures, since, until, params, counted=counted))
        sql.append("\n" + rolled_up("units", "joined" if outcome_measures else "units", stats, len(c.segments),
                                     first=first, codes=codes))
        if counted:
            sql.append("\nUNION ALL BY NAME\nSELECT 'outcome_rows' AS part, sum(copies) AS n, count(*) AS kept "
                       "FROM outcome_rows")
    sql.append(_quantile_part(quantiles, c.measured, params, "served", len(c.segments) if quantile_segments else 0))
    return "".join(sql)


def _served_units(logs: Logs, c: _PredictionColumns, measures: list[Measure], design: list[DesignCounts],
                  joins_outcomes: bool, since: datetime | None, until: datetime, params: SqlParams,
                  served_only: bool = False, codes: SegmentCodes | None = None) -> str:
    """`served` (the window's served answers) and `units` (one row per unit; not with `served_only`)."""
    preds = logs.predictions
    first, _ = c.first_answer(codes)
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
  SELECT unit, {first},
         min(ts) AS first_ts, max(ts) AS last_ts, CAST(bool_or(cand) AND NOT bool_and(cand) AS INTEGER) AS crossed
         {''.join(', ' + p for p in _request_aggregates(measures, c.measured, params))}{unit_value_counts(c.numeric)}
         {design_counts.unit_counts(design, c.measured, params, _is_arm_traffic)}
  FROM {"served" if codes is None else f"({codes.coded('served')})"} GROUP BY unit
)"""


def _is_arm_traffic(arm: str) -> str:
    return "cand" if arm == "candidate" else "NOT cand"


def shadow_sql(logs: Logs, *, segments: list[str], measures: list[Measure], quantiles: list[QuantileSpec],
               since: datetime | None, until: datetime, params: SqlParams, quantile_segments: bool = False,
               design: list[DesignCounts] | None = None) -> str:
    """A shadow stage's statement: baseline answers served and candidate answers mirrored, per
    unit and arm, and the paired requests (coverage, agreement) per baseline unit."""
    preds = logs.predictions
    design = design or []
    c = _prediction_columns(preds, segments, measures, quantiles, design)
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
         {design_counts.unit_counts(design, c.measured, params, lambda arm: f"arm = '{arm}'")}
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
    stats = [("count(*)", "n"), ("sum(crossed)", "crossed")] + unit_sums(measures, ("request",))
    stats += value_stats(len(c.numeric), []) + design_counts.rolled_stats(design)
    sql.append("\n" + rolled_up("units", "unit_arm", stats, len(c.segments)))
    pair_stats = [("count(*) FILTER (WHERE paired > 0)", "n"), ("sum(base_requests)", "base_requests"),
                  ("sum(paired)", "paired")] + unit_sums(measures, ("pairs",))
    sql.append("\nUNION ALL BY NAME\n" + rolled_up("pairs", "pairs", pair_stats, len(c.segments), arm="'candidate'"))
    sql.append(_quantile_part(quantiles, c.measured, params, "answers", len(c.segments) if quantile_segments else 0))
    return "".join(sql)


def stage_aggregates(logs: Logs, *, shadow: bool, segments: list[str], measures: list[Measure],
                     quantiles: list[QuantileSpec], since: datetime | None, until: datetime,
                     quantile_segments: bool = False, unit_rows: UnitRows | None = None,
                     design: list[DesignCounts] | None = None, coded: bool = True) -> Aggregates:
    """Run the stage's one statement and collect its rows by population and arm (a traffic stage's
    per-unit rows from `unit_rows` when given: the evaluation cache's, docs/incremental.md). A traffic
    stage read whole codes its units' first answers first (`coded`, data/segment_codes.py)."""
    params = SqlParams()
    design = design or []
    c = _prediction_columns(logs.predictions, segments, measures, quantiles, design)
    if shadow:
        sql = shadow_sql(logs, segments=segments, measures=measures, quantiles=quantiles, since=since, until=until,
                         params=params, quantile_segments=quantile_segments, design=design)
    else:
        codes = None
        if coded and unit_rows is None:
            codes = read_codes(logs, segments, params)
        # on DuckDB the outcome rows are counted where they are read (Spark's quality scan counts them there)
        count_outcomes = unit_rows is None and isinstance(logs.engine, DuckDBEngine) and counts_outcome_rows(logs)
        sql = traffic_sql(logs, segments=segments, measures=measures, quantiles=quantiles, since=since, until=until,
                          params=params, quantile_segments=quantile_segments, unit_rows=unit_rows, design=design,
                          codes=codes, count_outcomes=count_outcomes)
    # a full traffic read with outcomes: the outcome join built on the outcome rows where they are fewer
    build_outcomes = not shadow and unit_rows is None and any(m.level == "outcome" for m in measures) \
        and outcomes_build(logs)
    try:
        with as_written(logs, build_outcomes):
            rows = logs.query(sql, params)
    except DataError as error:
        if STRAY not in str(error):
            raise
        # a segment value the first statement did not see: the logs changed between the two; the struct way
        return stage_aggregates(logs, shadow=shadow, segments=segments, measures=measures, quantiles=quantiles,
                                since=since, until=until, quantile_segments=quantile_segments, design=design,
                                coded=False)
    names = logs.last_columns
    numeric_names = [next(name for name, quoted in c.measured.items() if quoted == q) for q in c.numeric]
    return read_rows(rows, names, segments=segments, measures=measures, quantiles=quantiles,
                     numeric_names=numeric_names, design=design)
