"""The light scans around the main statement: row counts and freshness before it, and the
quantiles at the bound levels of per-segment relative quantile guards after it, and the per-unit
counts at a quantile that give its design effect (requests clustered in units) for segment values
(the whole population's are read by the main statement, data/design_counts.py).

Same rules as queries.py: user values are parameters, columns are checked quoted identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rollout_cli.data.aggregates import IndicatorSums, Population
from rollout_cli.data.finite import finite_or_null
from rollout_cli.data.queries import ts_filter
from rollout_cli.data.source import BoundSource, Logs, SqlParams


@dataclass(frozen=True)
class WindowFacts:
    total_rows: int  # in the source
    window_rows: int
    first_ts: datetime | None  # in the window
    last_ts: datetime | None  # in the window
    last_upto: datetime | None  # the newest row at or before `until` (freshness)
    answers: dict[tuple[str, str], int]  # (arm, column) -> non-null values among the window's answers
    no_unit_rows: int = 0  # window rows whose unit_id is NULL (left out of every statistic)
    # window rows in no arm (arm NULL or not baseline/candidate): data/quality.py's count, read here so
    # that the quality screen needs no pass of its own for it
    unknown_arm_rows: int = 0
    # (arm, column) -> {level: the quantile of those answers} for the `quantiled` levels
    quantiles: dict[tuple[str, str], dict[float, float | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class QuantileRead:
    """Per arm, the answers with a value in `column` and their quantiles at `levels`."""

    column: str
    metric: str  # for messages
    levels: tuple[float, ...]


def window_facts(logs: Logs, *, since: datetime | None, until: datetime, shadow: bool = False,
                 counted: tuple[str, ...] = (), quantiled: tuple[QuantileRead, ...] = ()) -> WindowFacts:
    """Row counts and time bounds (one light scan), and per arm the number of answers with a value in
    each `counted` column, and in each `quantiled` column with their quantiles — the observed
    quantiles over everyone, what their bounds and design counts need before the main statement."""
    preds = logs.predictions
    ts, unit, arm = preds.column("ts", "timestamp"), preds.column("unit_id", "any"), preds.column("arm", "text")
    params = SqlParams()
    in_window = ts_filter(ts, since, until, params)
    upto = ts_filter(ts, None, until, params)
    counts = []
    if counted or quantiled:
        served = preds.column("served", "boolean")
        which = {"baseline": f"{arm} = 'baseline' AND {served} AND {unit} IS NOT NULL",
                 "candidate": f"{arm} = 'candidate' AND {'NOT ' if shadow else ''}{served} AND {unit} IS NOT NULL"}
        named = [(column, f"a quantile metric ({column})") for column in counted]
        for column, what in named + [(r.column, f"metric {r.metric}") for r in quantiled]:
            c = preds.column(f"column of {what}", "number", column=column)
            counts += [(key, column, f"count({finite_or_null(c)}) FILTER (WHERE {in_window} AND {which[key]})")
                       for key in which]  # the values the quantiles are taken over: finite ones
        for r in quantiled:
            c = preds.column(f"column of metric {r.metric}", "number", column=r.column)
            read = f"quantile_cont({finite_or_null(c)}, {params.add(list(r.levels))})"
            counts += [(key, r.column, f"{read} FILTER (WHERE {in_window} AND {which[key]})") for key in which]
    sql = (f"SELECT count(*), count(*) FILTER (WHERE {in_window}),"
           f" CAST(min({ts}) FILTER (WHERE {in_window}) AS TIMESTAMP),"
           f" CAST(max({ts}) FILTER (WHERE {in_window}) AS TIMESTAMP),"
           f" CAST(max({ts}) FILTER (WHERE {upto}) AS TIMESTAMP),"
           f" count(*) FILTER (WHERE {in_window} AND {unit} IS NULL),"
           f" count(*) FILTER (WHERE {in_window} AND ({arm} IS NULL OR {arm} NOT IN ('baseline', 'candidate')))"
           f"{''.join(', ' + expr for _, _, expr in counts)}"
           f" FROM {preds.from_item(params)}")
    row = logs.query(sql, params)[0]
    n_counts = 2 * (len(counted) + len(quantiled))
    answers = {(arm_name, column): int(value or 0) for (arm_name, column, _), value in zip(counts, row[7:7 + n_counts])}
    quantiles: dict[tuple[str, str], dict[float, float | None]] = {}
    at = [r.levels for r in quantiled for _ in range(2)]  # both arms of each column
    for (arm_name, column, _), values, levels in zip(counts[n_counts:], row[7 + n_counts:], at):
        quantiles.setdefault((arm_name, column), {}).update(
            {level: None if values is None or values[k] is None else float(values[k]) for k, level in enumerate(levels)})
    return WindowFacts(int(row[0]), int(row[1]), row[2], row[3], row[4], answers, no_unit_rows=int(row[5] or 0),
                       unknown_arm_rows=int(row[6] or 0), quantiles=quantiles)


def count_rows(logs: Logs, source: BoundSource) -> int:
    params = SqlParams()
    return int(logs.query(f"SELECT count(*) FROM {source.from_item(params)}", params)[0][0])


@dataclass(frozen=True)
class LevelRequest:
    """Empirical quantiles of `column` at `levels` for one arm in one population."""

    population: Population
    arm: str
    key: str  # the metric
    column: str
    levels: tuple[float, ...]


def quantiles_at_levels(logs: Logs, *, shadow: bool, segments: list[str], requests: list[LevelRequest],
                        since: datetime | None, until: datetime) -> list[list[float | None]]:
    """One scan answering every request (filtered aggregates), in order; values follow `levels`."""
    params = SqlParams()
    answers, cols = _answers(logs, shadow=shadow, segments=segments, columns={r.column: f"column of metric {r.key}" for r in requests},
                             since=since, until=until, params=params)
    aggregates = [f"quantile_cont({cols[r.column]}, {params.add(list(r.levels))}) "
                  f"FILTER (WHERE {_condition(r.arm, r.population, segments, params)})" for r in requests]
    sql = f"WITH answers AS ({answers}) SELECT {', '.join(aggregates)} FROM answers"
    row = logs.query(sql, params)[0]
    return [[float(v) if v is not None else None for v in (values or [None] * len(r.levels))]
            for r, values in zip(requests, row)]


@dataclass(frozen=True)
class IndicatorRequest:
    """Per-unit counts of one arm's answers at or below each threshold (a quantile's design effect)."""

    population: Population
    arm: str
    key: str  # the metric
    column: str
    thresholds: tuple[float, ...]


def indicator_sums(logs: Logs, *, shadow: bool, segments: list[str], requests: list[IndicatorRequest],
                   since: datetime | None, until: datetime) -> list[IndicatorSums]:
    """One scan answering every request, in order: answers grouped by unit once, then summed."""
    params = SqlParams()
    answers, cols = _answers(logs, shadow=shadow, segments=segments, columns={r.column: f"column of metric {r.key}" for r in requests},
                             since=since, until=until, params=params)
    per_unit, sums = [], []
    for i, r in enumerate(requests):
        c = cols[r.column]
        condition = _condition(r.arm, r.population, segments, params)
        per_unit.append(f"count({c}) FILTER (WHERE {condition}) AS y{i}")
        sums.append(f"count(*) FILTER (WHERE y{i} > 0), sum(y{i}), sum(y{i} * y{i})")
        for j, threshold in enumerate(r.thresholds):
            per_unit.append(f"count({c}) FILTER (WHERE {condition} AND {c} <= {params.add(threshold)}) AS x{i}_{j}")
            sums.append(f"sum(x{i}_{j}), sum(x{i}_{j} * x{i}_{j}), sum(x{i}_{j} * y{i})")
    sql = (f"WITH answers AS ({answers}), "
           f"per_unit AS (SELECT {', '.join(per_unit)} FROM answers GROUP BY unit) "
           f"SELECT {', '.join(sums)} FROM per_unit")
    row = [float(v or 0) for v in logs.query(sql, params)[0]]
    out, at = [], 0
    for r in requests:
        units, requests_sum, requests_sq = row[at:at + 3]
        below = tuple(tuple(row[at + 3 + 3 * j:at + 6 + 3 * j]) for j in range(len(r.thresholds)))
        out.append(IndicatorSums(int(units), requests_sum, requests_sq, below))  # type: ignore[arg-type]
        at += 3 + 3 * len(r.thresholds)
    return out


def _answers(logs: Logs, *, shadow: bool, segments: list[str], columns: dict[str, str], since: datetime | None,
             until: datetime, params: SqlParams) -> tuple[str, dict[str, str]]:
    """The answers the main statement judges (served, in an arm, with a unit, in the window), as a
    SELECT of unit, arm, s0…, and each column (non-finite values as NULL; `columns`: column -> what it is
    for, in messages); with the columns' quoted names."""
    preds = logs.predictions
    ts, arm, served = preds.column("ts", "timestamp"), preds.column("arm", "text"), preds.column("served", "boolean")
    unit = preds.column("unit_id", "any")
    cols = {c: preds.column(what, "number", column=c) for c, what in columns.items()}
    seg_select = "".join(f", {preds.column('segment', 'any', column=s)} AS s{i}" for i, s in enumerate(segments))
    col_select = "".join(f", {finite_or_null(c)} AS {c}" for c in dict.fromkeys(cols.values()))
    which = (f"((({arm}) = 'baseline' AND {served}) OR (({arm}) = 'candidate' AND NOT {served}))" if shadow
             else f"{served} AND {arm} IN ('baseline', 'candidate')")
    return (f"SELECT {unit} AS unit, {arm} AS arm{seg_select}{col_select} FROM {preds.from_item(params)} "
            f"WHERE {which} AND {unit} IS NOT NULL AND {ts_filter(ts, since, until, params)}"), cols


def _condition(arm: str, population: Population, segments: list[str], params: SqlParams) -> str:
    condition = f"arm = {params.add(arm)}"
    if population is not None:
        condition += f" AND s{segments.index(population[0])} IS NOT DISTINCT FROM {params.add(population[1])}"
    return condition
