"""The SQL of drift: reference profiles, reference counts and per-window counts (DuckDB).

Every user value (globs, times, edges, categories) is a statement parameter; column names are
quoted identifiers checked against the source first (`bins.kind_of`, `BoundSource.column`).
Each function is one scan: all columns' bins are counted together with GROUPING SETS, so 20
features cost one pass over the logs, not 20.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rollout_cli.data.source import BoundSource, Logs, SqlParams, quote_identifier
from rollout_cli.drift.bins import DECILES, MAX_CATEGORIES, ColumnBins, Kind
from rollout_cli.errors import DataError


@dataclass(frozen=True)
class Rows:
    """Which rows of a source a column is read from: all, or a model's answers, or served requests,
    optionally within [since, until)."""

    source: BoundSource
    arm: str | None = None  # only this model's answers (served or mirrored)
    served_only: bool = False  # only answers users got: each request once
    since: datetime | None = None
    until: datetime | None = None

    def condition(self, params: SqlParams) -> str:
        parts = ["TRUE"]
        if self.arm is not None:
            parts.append(f"{self.source.column('arm', 'text')} = {params.add(self.arm)}")
        if self.served_only:
            parts.append(f"{self.source.column('served', 'boolean')}")
        if self.since is not None:
            parts.append(f"{self.source.column('ts', 'timestamp')} >= {params.add(self.since)}")
        if self.until is not None:
            parts.append(f"{self.source.column('ts', 'timestamp')} < {params.add(self.until)}")
        return " AND ".join(parts)


def first_answer(logs: Logs, arm: str | None) -> datetime | None:
    """When the predictions log starts (for one model's answers, or served requests)."""
    params = SqlParams()
    rows = Rows(logs.predictions, arm=arm, served_only=arm is None)
    ts = logs.predictions.column("ts", "timestamp")
    sql = f"SELECT min({ts}) FROM {logs.predictions.from_item(params)} WHERE {rows.condition(params)}"
    value = logs.query(sql, params)[0][0]
    return value if isinstance(value, datetime) else None


def profile(logs: Logs, columns: Sequence[tuple[str, str, Kind]], rows: Rows, what: str) -> list[ColumnBins]:
    """Bins for each (name, column, kind) from the reference `rows`: one scan for the counts and
    every numeric column's deciles, one small GROUP BY per categorical column."""
    params = SqlParams()
    levels = params.add(DECILES)
    aggregates = ["count(*)"]
    for _, column, kind in columns:
        quoted = quote_identifier(column)
        aggregates.append(f"count({quoted})")
        aggregates.append(f"quantile_cont(CAST({quoted} AS DOUBLE), {levels})" if kind == "numeric" else "NULL")
    sql = f"SELECT {', '.join(aggregates)} FROM {rows.source.from_item(params)} WHERE {rows.condition(params)}"
    row = logs.query(sql, params)[0]
    found = []
    for i, (name, column, kind) in enumerate(columns):
        total, present = int(row[0]), int(row[1 + 2 * i])
        if total == 0:
            raise DataError(f"the reference ({what}) has no rows to compare {name!r} with",
                            hint="check data.training, or drift.reference and the time range of the logs")
        if present == 0:
            raise DataError(f"{name!r} is NULL in every one of the {total} rows of the reference ({what})",
                            hint="a column with no values cannot show drift; fix the reference or drop the feature")
        if kind == "numeric":
            found.append(ColumnBins(name=name, column=column, kind=kind,
                                    edges=tuple(sorted({float(x) for x in row[2 + 2 * i]}))))
        else:
            found.append(_categories(logs, name, column, rows))
    return found


def _categories(logs: Logs, name: str, column: str, rows: Rows) -> ColumnBins:
    params = SqlParams()
    quoted = quote_identifier(column)
    sql = (f"SELECT CAST({quoted} AS VARCHAR) AS v, count(*) AS n FROM {rows.source.from_item(params)} "
           f"WHERE {rows.condition(params)} AND {quoted} IS NOT NULL GROUP BY v ORDER BY n DESC, v "
           f"LIMIT {MAX_CATEGORIES + 1}")
    values = [r[0] for r in logs.query(sql, params)]
    return ColumnBins(name=name, column=column, kind="categorical", categories=tuple(values[:MAX_CATEGORIES]),
                      capped=len(values) > MAX_CATEGORIES)


def _binned(bins: Sequence[ColumnBins], conditions: Sequence[Rows], params: SqlParams, *, shared: bool) -> list[str]:
    """Each column's bin index, or -1 for a row the column does not read (unless every column
    reads the same rows: then the caller filters once in WHERE)."""
    exprs = []
    for i, (column, rows) in enumerate(zip(bins, conditions, strict=True)):
        expr = column.expression(quote_identifier(column.column), params)
        exprs.append(f"{expr} AS b{i}" if shared else f"CASE WHEN {rows.condition(params)} THEN {expr} ELSE -1 END AS b{i}")
    return exprs


def _counts(logs: Logs, bins: Sequence[ColumnBins], conditions: Sequence[Rows], source: BoundSource,
            window_s: float | None, span: Rows | None = None) -> dict[tuple[int, int], list[int]]:
    """(column index, window index) -> counts per bin; window index 0 when window_s is None.
    `span` (its time range) limits the scan for every column at once."""
    if not bins:
        return {}
    params = SqlParams()
    where = span.condition(params) if span is not None else "TRUE"
    shared = all(rows == conditions[0] for rows in conditions)  # e.g. every feature reads served requests
    if shared:
        where = f"{where} AND {conditions[0].condition(params)}"
    key = "0"
    if window_s is not None:
        ts = source.column("ts", "timestamp")
        key = f"CAST(floor(epoch({ts}) / {params.add(window_s)}) AS BIGINT)"
    exprs = _binned(bins, conditions, params, shared=shared)
    sets = ", ".join(f"(w, b{i})" for i in range(len(bins)))
    picks = ", ".join(f"b{i}" for i in range(len(bins)))
    sql = (f"SELECT w, {picks}, count(*) FROM (SELECT {key} AS w, {', '.join(exprs)} "
           f"FROM {source.from_item(params)} WHERE {where}) GROUP BY GROUPING SETS ({sets})")
    counts: dict[tuple[int, int], list[int]] = {}
    for row in logs.query(sql, params):
        window, picked, n = row[0], row[1:-1], int(row[-1])
        for i, value in enumerate(picked):
            if value is not None and value >= 0:
                cell = counts.setdefault((i, int(window)), [0] * len(bins[i].labels))
                cell[int(value)] += n
    return counts


def reference_counts(logs: Logs, bins: Sequence[ColumnBins], rows: Sequence[Rows]) -> list[list[int]]:
    """Each column's reference counts per bin (rows of one source, per-column conditions)."""
    if not bins:
        return []
    found = _counts(logs, bins, rows, rows[0].source, None)
    return [found.get((i, 0), [0] * len(b.labels)) for i, b in enumerate(bins)]


def window_counts(logs: Logs, bins: Sequence[ColumnBins], rows: Sequence[Rows], window_s: float,
                  since: datetime | None, until: datetime | None) -> dict[tuple[int, int], list[int]]:
    """(column index, window index) -> counts per bin over the predictions in [since, until), windows
    of window_s seconds aligned on the epoch (window k covers [k * window_s, (k + 1) * window_s))."""
    span = Rows(logs.predictions, since=since, until=until)
    return _counts(logs, bins, rows, logs.predictions, window_s, span)
