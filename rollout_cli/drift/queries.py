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

import numpy as np

from rollout_cli.data.source import BoundSource, Logs, SqlParams, quote_identifier
from rollout_cli.drift.bins import DECILES, MAX_CATEGORIES, ColumnBins, Kind
from rollout_cli.errors import DataError
from rollout_cli.stats.shift import GroupCross


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


# A window's units are spread over this many random groups (the low bits of the unit's hash,
# data/stable_hash.py) for the design effect of its bin shares (stats.shift.design_effect).
# 64 groups: the cross-products cost bins^2 * 64 per window and column, and the design effect they
# give has 63 degrees of freedom, enough for the decision's error bound (docs/statistics.md, "Drift").
GROUPS = 64
assert GROUPS & (GROUPS - 1) == 0, "a group is the low bits of the hash: a power of two"

Cells = dict[tuple[int, int], list[int]]
Crosses = dict[tuple[int, int], GroupCross]


def _counts(logs: Logs, bins: Sequence[ColumnBins], conditions: Sequence[Rows], source: BoundSource,
            window_s: float | None, span: Rows | None = None, unit: str | None = None) -> tuple[Cells, Crosses]:
    """(column index, window index) -> counts per bin; window index 0 when window_s is None.
    `span` (its time range) limits the scan for every column at once. With `unit` (a quoted column),
    also each (column, window)'s cross-products of bin counts over GROUPS random groups of units."""
    if not bins:
        return {}, {}
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
    picks = ", ".join(f"b{i}" for i in range(len(bins)))
    if unit is None:
        sets = ", ".join(f"(w, b{i})" for i in range(len(bins)))
        sql = (f"SELECT w, {picks}, count(*) FROM (SELECT {key} AS w, {', '.join(exprs)} "
               f"FROM {source.from_item(params)} WHERE {where}) GROUP BY GROUPING SETS ({sets})")
        counts: Cells = {}
        for row in logs.query(sql, params):
            window, picked, n = row[0], row[1:-1], int(row[-1])
            for i, value in enumerate(picked):
                if value is not None and value >= 0:
                    cell = counts.setdefault((i, int(window)), [0] * len(bins[i].labels))
                    cell[int(value)] += n
        return counts, {}
    # One scan: the rows grouped by (window, group of units, bin) for each column — at most
    # windows x columns x GROUPS x bins cells, fetched as they are; the bin counts and the groups'
    # cross-products are then small matrix products here (a self-join of the cells in SQL cost more
    # than the products: docs/statistics.md, "Drift").
    sets = ", ".join(f"(w, g, b{i})" for i in range(len(bins)))
    which = " ".join(f"WHEN b{i} IS NOT NULL THEN {i}" for i in range(len(bins)))
    group = f"stable_hash({unit}) & {GROUPS - 1}"
    sql = (f"WITH cells AS (SELECT w, g, {picks}, count(*) AS n FROM (SELECT {key} AS w, {group} AS g, "
           f"{', '.join(exprs)} FROM {source.from_item(params)} WHERE {where}) GROUP BY GROUPING SETS ({sets})) "
           f"SELECT w, CASE {which} END AS c, g, coalesce({picks}) AS b, n FROM cells WHERE coalesce({picks}) >= 0 "
           "ORDER BY w, c")
    found = np.array(logs.query(sql, params), dtype=np.int64).reshape(-1, 5)
    counts = {}
    crosses: Crosses = {}
    # the rows where (window, column) changes: each run of rows is one window of one column
    starts = [int(i) for i in np.flatnonzero(np.r_[True, np.any(found[1:, :2] != found[:-1, :2], axis=1)])] \
        if len(found) else []
    for first, last in zip(starts, [*starts[1:], len(found)]):
        window, column = int(found[first, 0]), int(found[first, 1])
        cells = found[first:last]
        per_group = np.zeros((GROUPS, len(bins[column].labels)))
        np.add.at(per_group, (cells[:, 2], cells[:, 3]), cells[:, 4].astype(float))
        counts[(column, window)] = [int(v) for v in per_group.sum(axis=0)]
        crosses[(column, window)] = GroupCross(per_group.T @ per_group, GROUPS)
    return counts, crosses


def reference_counts(logs: Logs, bins: Sequence[ColumnBins], rows: Sequence[Rows]) -> list[list[int]]:
    """Each column's reference counts per bin (rows of one source, per-column conditions)."""
    if not bins:
        return []
    found, _ = _counts(logs, bins, rows, rows[0].source, None)
    return [found.get((i, 0), [0] * len(b.labels)) for i, b in enumerate(bins)]


def window_counts(logs: Logs, bins: Sequence[ColumnBins], rows: Sequence[Rows], window_s: float,
                  since: datetime | None, until: datetime | None) -> tuple[Cells, Crosses]:
    """(column index, window index) -> counts per bin over the predictions in [since, until), windows
    of window_s seconds aligned on the epoch (window k covers [k * window_s, (k + 1) * window_s)),
    and -> the random groups of the window's units (`unit_id`), for the design effect of its shares.
    Predictions without a unit_id column give no groups: their rows are taken as independent."""
    span = Rows(logs.predictions, since=since, until=until)
    unit = logs.predictions.column("unit_id") if logs.predictions.has_role("unit_id") else None
    return _counts(logs, bins, rows, logs.predictions, window_s, span, unit)
