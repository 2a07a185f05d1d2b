"""The light scans around the main statement: row counts and freshness before it, and the
quantiles at the bound levels of per-segment relative quantile guards after it, and the per-unit
counts at a quantile that give its design effect (requests clustered in units) for segment values
(the whole population's are read by the main statement, data/design_counts.py).

Same rules as queries.py: user values are parameters, columns are checked quoted identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn

from rollout_cli.data.aggregates import IndicatorSums, Population
from rollout_cli.data.finite import finite_or_null
from rollout_cli.data.row_group_stats import all_in_window
from rollout_cli.data.source import BoundSource, Logs, SqlParams, ts_filter
from rollout_cli.errors import DataError


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
    odd_flags: bool = False  # a window row holds a value other than 0 and 1 in a `flags` column

    @property
    def every_row_in_window(self) -> bool:
        """No row of the source lies outside the window (or lacks a time): later reads may skip that test."""
        return self.window_rows == self.total_rows


@dataclass(frozen=True)
class QuantileRead:
    """Per arm, the answers with a value in `column` and their quantiles at `levels`."""

    column: str
    metric: str  # for messages
    levels: tuple[float, ...]


def numeric_flags(source: BoundSource, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The true/false columns among `columns` that are numbers: only 0 and 1 may be read as false and true."""
    return tuple(c for c in dict.fromkeys(columns) if c in source.columns and source.type_of("column", column=c) == "number")


def flag_check(column: str) -> str:
    """True where the quoted flag `column` holds another value than 0 and 1 (NULL: no value)."""
    return f"{column} NOT IN (0, 1)"


def refuse_odd_flags(logs: Logs, flags: tuple[str, ...], *, since: datetime | None, until: datetime | None) -> NoReturn:
    """Raise the DataError for flag columns holding other values than 0 and 1 in the window (rows from
    `since`, up to `until` unless None), naming the column, the files and the values: a second read,
    on this path only (the scans that found it keep one boolean per look)."""
    preds = logs.predictions
    params = SqlParams()
    ts = preds.column("ts", "timestamp")
    window = ts_filter(ts, since, until, params) if until is not None else f"{ts} >= {params.add(since)}" \
        if since is not None else "true"
    glob = preds.glob
    source = f"{glob[0]}({params.add(glob[1])}, filename = true)" if glob else preds.from_item(params)
    for name in flags:
        column = preds.column(f"flag {name}", "flag", column=name)
        found = logs.query(f"SELECT {'filename' if glob else 'NULL'} AS f, count(*), min({column}), max({column}) "
                           f"FROM {source} WHERE {window} AND {flag_check(column)} GROUP BY ALL ORDER BY f", params)
        if not found:
            continue
        rows, low, high = sum(r[1] for r in found), min(r[2] for r in found), max(r[3] for r in found)
        where = f"in {found[0][0]}" + (f" and {len(found) - 1} more files" if len(found) > 1 else "") if glob \
            else f"in predictions ({preds.description})"
        values = f"{low:g}" if low == high else f"from {low:g} to {high:g}"
        raise DataError(f"column '{name}' in predictions ({preds.description}) is a true/false column but {rows} rows "
                        f"of the window hold other values than 0 and 1 ({values}), {where}",
                        hint="write the flag as a boolean or as 0/1 (docs/data.md)")
    raise DataError(f"a true/false column in predictions ({preds.description}) held values other than 0 and 1, "
                    "which a second read no longer found: the logs changed while they were read",
                    hint="run the command again")


def window_facts(logs: Logs, *, since: datetime | None, until: datetime, shadow: bool = False,
                 counted: tuple[str, ...] = (), quantiled: tuple[QuantileRead, ...] = (),
                 flags: tuple[str, ...] = (), proved: bool = True) -> WindowFacts:
    """Row counts and time bounds (one light scan), and per arm the number of answers with a value in
    each `counted` column, and in each `quantiled` column with their quantiles — the observed
    quantiles over everyone, what their bounds and design counts need before the main statement.

    One grouped pass with plain aggregates: the rows fall into a few groups (arm or none, served or
    not, in the window / before it / after it, with a unit or not) and every count is
    a sum over some of them. Eleven FILTERed aggregates over the whole file cost ~1.6x as much
    (each FILTER evaluates its own condition on every row; benchmarks/README.md).

    When the parquet statistics prove every row whole and in the window (data/row_group_stats.py), the
    pass reads neither the unit nor the time column; `proved=False` reads them whatever the statistics say.

    `flags`: numeric true/false columns (numeric_flags); a window row holding another value than 0 and 1
    in one of them raises DataError (refuse_odd_flags). One more boolean aggregate in the same pass."""
    preds = logs.predictions
    ts, unit, arm = preds.column("ts", "timestamp"), preds.column("unit_id", "any"), preds.column("arm", "text")
    params = SqlParams()
    proof = all_in_window(logs, preds, since=since, until=until) if proved else None
    # baseline, candidate or none (NULL): one group for every odd value (an arm role mapped to a request
    # id would otherwise make millions, each with a quantile); `IN` costs 0.03 CPU s less than `= … OR = …`
    keys = [f"CASE WHEN {arm} IN ('baseline', 'candidate') THEN {arm} END AS a"]
    if proof is None:
        # up to `until` (freshness) and, with `since`, from it (both: in the window); NULL: no time. Plain
        # comparisons as keys: a CASE sorting the rows into before / in / after costs 0.1 CPU s at 2M units
        keys += [f"{unit} IS NULL AS no_unit", f"{ts_filter(ts, None, until, params)} AS upto"]
        if since is not None:
            keys.append(f"{ts} >= {params.add(since)} AS from_since")
    in_window = "" if proof is not None else " AND upto" + (" AND from_since" if since is not None else "") + \
        " AND NOT no_unit"
    columns: dict[str, str] = {}  # column -> its alias in the rows read (finite values only)
    answer = ""  # the condition of an answer each arm is judged on: served (in shadow, the candidate's mirrored)
    if counted or quantiled:
        served = preds.column("served", "boolean")
        keys.append(f"{served} AS served")
        answer = "served <> (a = 'candidate')" if shadow else "served AND a IS NOT NULL"
        named = [(column, f"a quantile metric ({column})") for column in counted]
        for column, what in named + [(r.column, f"metric {r.metric}") for r in quantiled]:
            preds.column(f"column of {what}", "number", column=column)
            columns.setdefault(column, f"v{len(columns)}")
    values = "".join(f", {finite_or_null(preds.column('value', 'number', column=c))} AS {alias}"
                     for c, alias in columns.items())
    values += "".join(f", {flag_check(preds.column('flag', 'flag', column=c))} AS o{k}" for k, c in enumerate(flags))
    aggregates = [f"count({alias})" for alias in columns.values()]
    # only the answers' values are collected (a group of other rows would be sorted for nothing)
    aggregates += [f"quantile_cont({columns[r.column]}, {params.add(list(r.levels))}) "
                   f"FILTER (WHERE {answer}{in_window})" for r in quantiled]
    aggregates += [f"bool_or(o{k})" for k in range(len(flags))]  # last: read as row[-len(flags):]
    names = [key.rsplit(" AS ", 1)[1] for key in keys]
    times = "" if proof is not None else ", CAST(min(ts) AS TIMESTAMP), CAST(max(ts) AS TIMESTAMP)"
    read = preds.from_item(params) if proof is None else preds.relation.replace("?", params.add(list(proof.files)))
    sql = (f"SELECT {', '.join(names)}, count(*){times}{''.join(', ' + a for a in aggregates)} "
           f"FROM (SELECT {', '.join(keys)}{'' if proof is not None else f', {ts} AS ts'}{values} FROM {read}) "
           "GROUP BY ALL")
    total = window = no_unit = unknown = 0
    odd = False
    first: datetime | None = None
    last: datetime | None = None
    last_upto: datetime | None = None
    answers = {(a, column): 0 for column in columns for a in ("baseline", "candidate")}
    quantiles: dict[tuple[str, str], dict[float, float | None]] = {}
    for r in quantiled:
        for a in ("baseline", "candidate"):
            quantiles.setdefault((a, r.column), {}).update(dict.fromkeys(r.levels))
    found_at = len(keys) + (1 if proof is not None else 3)
    for row in logs.query(sql, params):
        key = dict(zip(names, row))
        a = key["a"]
        without_unit = bool(key.get("no_unit"))
        # as the quantiles' FILTER: a served answer (in shadow, a baseline's served or a candidate's mirrored one)
        is_answer = key.get("served") is (a == "baseline" or not shadow)
        rows = int(row[len(keys)])
        total += rows
        if proof is None:
            low, high = row[len(keys) + 1], row[len(keys) + 2]
            if key["upto"] is not True:  # after the window, or no time
                continue
            last_upto = high if last_upto is None or (high is not None and high > last_upto) else last_upto
            if since is not None and key["from_since"] is not True:
                continue
            first = low if first is None or (low is not None and low < first) else first
            last = high if last is None or (high is not None and high > last) else last
        window += rows
        odd = odd or (bool(flags) and any(row[-len(flags):]))
        no_unit += rows if without_unit else 0
        unknown += rows if a is None else 0
        if a is None or not is_answer or without_unit:
            continue
        found = row[found_at:]
        for column, n in zip(columns, found):
            answers[(a, column)] += int(n or 0)
        for r, at_levels in zip(quantiled, found[len(columns):]):
            quantiles[(a, r.column)].update({level: None if at_levels is None or at_levels[k] is None
                                             else float(at_levels[k]) for k, level in enumerate(r.levels)})
    if proof is not None:
        if total != proof.rows:  # a file rewritten since its statistics were read: read the columns after all
            return window_facts(logs, since=since, until=until, shadow=shadow, counted=counted, quantiled=quantiled,
                                flags=flags, proved=False)
        first, last, last_upto = proof.first_ts, proof.last_ts, proof.last_ts
    if odd:
        refuse_odd_flags(logs, flags, since=since, until=until)
    return WindowFacts(total, window, first, last, last_upto, answers, no_unit_rows=no_unit, unknown_arm_rows=unknown,
                       quantiles=quantiles)


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
                        since: datetime | None, until: datetime, units_known: bool = False,
                        window_known: bool = False) -> list[list[float | None]]:
    """One scan answering every request (filtered aggregates), in order; values follow `levels`.
    `units_known`: the light scan counted no window row without a unit, so that condition is not
    evaluated again (reading the unit column only to test it costs as much as the quantiles);
    `window_known`: it counted no row outside the window, so the time column is not read either."""
    if all(r.population is None for r in requests):
        return _whole_quantiles(logs, shadow=shadow, requests=requests, since=since, until=until,
                                units_known=units_known, window_known=window_known)
    params = SqlParams()
    answers, cols = _answers(logs, shadow=shadow, segments=segments, columns={r.column: f"column of metric {r.key}" for r in requests},
                             since=since, until=until, params=params)
    aggregates = [f"quantile_cont({cols[r.column]}, {params.add(list(r.levels))}) "
                  f"FILTER (WHERE {_condition(r.arm, r.population, segments, params)})" for r in requests]
    sql = f"WITH answers AS ({answers}) SELECT {', '.join(aggregates)} FROM answers"
    row = logs.query(sql, params)[0]
    return [[float(v) if v is not None else None for v in (values or [None] * len(r.levels))]
            for r, values in zip(requests, row)]


def _whole_quantiles(logs: Logs, *, shadow: bool, requests: list[LevelRequest], since: datetime | None,
                     until: datetime, units_known: bool, window_known: bool) -> list[list[float | None]]:
    """`quantiles_at_levels` for the whole population only: grouped by arm, every level of a column in one
    list (one sort per arm and column; a level's value does not depend on the others in the list), where
    FILTERed aggregates per arm cost ~2.5x as much at 2M units (benchmarks/README.md)."""
    params = SqlParams()
    answers, cols = _answers(logs, shadow=shadow, segments=[], columns={r.column: f"column of metric {r.key}"
                                                                        for r in requests},
                             since=since, until=until, params=params, by_arm=True, units_known=units_known,
                             window_known=window_known)
    levels = {c: sorted({level for r in requests if r.column == c for level in r.levels}) for c in cols}
    aggregates = "".join(f", quantile_cont({cols[c]}, {params.add(at)})" for c, at in levels.items())
    found = {row[0]: row[1:] for row in logs.query(f"SELECT arm{aggregates} FROM ({answers}) GROUP BY arm", params)}
    out = []
    for r in requests:
        values = found.get(r.arm, (None,) * len(levels))[list(levels).index(r.column)]
        at = levels[r.column]
        out.append([None if values is None or values[at.index(level)] is None else float(values[at.index(level)])
                    for level in r.levels])
    return out


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
             until: datetime, params: SqlParams, by_arm: bool = False, units_known: bool = False,
             window_known: bool = False) -> tuple[str, dict[str, str]]:
    """The answers the main statement judges (served, in an arm, with a unit, in the window), as a
    SELECT of unit, arm, s0…, and each column (non-finite values as NULL; `columns`: column -> what it is
    for, in messages); with the columns' quoted names. `by_arm`: the caller groups by arm, so rows of
    another arm value need no condition to leave them out; `units_known`: no window row lacks a unit;
    `window_known`: every row of the source is in the window (the light scan found none outside it)."""
    preds = logs.predictions
    ts, arm, served = preds.column("ts", "timestamp"), preds.column("arm", "text"), preds.column("served", "boolean")
    unit = preds.column("unit_id", "any")
    cols = {c: preds.column(what, "number", column=c) for c, what in columns.items()}
    seg_select = "".join(f", {preds.column('segment', 'any', column=s)} AS s{i}" for i, s in enumerate(segments))
    col_select = "".join(f", {finite_or_null(c)} AS {c}" for c in dict.fromkeys(cols.values()))
    which = (f"((({arm}) = 'baseline' AND {served}) OR (({arm}) = 'candidate' AND NOT {served}))" if shadow
             else served if by_arm else f"{served} AND {arm} IN ('baseline', 'candidate')")
    with_unit = "" if units_known else f" AND {unit} IS NOT NULL"
    in_window = "" if window_known else f" AND {ts_filter(ts, since, until, params)}"
    return (f"SELECT {unit} AS unit, {arm} AS arm{seg_select}{col_select} FROM {preds.from_item(params)} "
            f"WHERE {which}{with_unit}{in_window}"), cols


def _condition(arm: str, population: Population, segments: list[str], params: SqlParams) -> str:
    condition = f"arm = {params.add(arm)}"
    if population is not None:
        condition += f" AND s{segments.index(population[0])} IS NOT DISTINCT FROM {params.add(population[1])}"
    return condition
