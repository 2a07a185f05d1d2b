"""Each answer's rank within its unit, kept beside the per-unit rows: the design effect of a relative
quantile guard (and its bound levels) without grouping every answer by unit at each look.

Contract (docs/incremental.md, "Ranked answers"):
- `ranked_answers(columns, since, until)` is a per-unit companion of `units.UnitTable`: over the
  window's answers of a traffic stage (served, arm baseline or candidate, with a unit, in
  [since, until]) one row per finite value of each column: `unit`, `arm`, `q` (the column's index
  in `columns`), `v` (the value), `y` (the unit's finite values of that column in that arm) and `k`
  (the value's rank among them, 1 = smallest). A unit's rows depend on that unit's answers only, so
  the table is kept, and recomputed for the units a look touches, exactly as the per-unit rows are.
- `TOTALS`: the kept sums of those rows per arm and column (logcache/sums.py): units, values, Σy.
- `ranked_sums(logs, relation, columns, requests)`: for each request (one arm of the whole
  population, thresholds t) the sums `data.scans.indicator_sums` gives, from those rows: a unit's
  values at or below t are its first x by rank (ties sit on the same side of t), so
  Σx = #{v <= t}, Σx² = Σ_{v <= t} (2k - 1), Σxy = Σ_{v <= t} y, and n, Σy, Σy² are the rows with
  k = 1, the rows, Σ y. One filtered scan of the kept rows, no grouping: exact integers.
- `ranked_quantiles`, `ranked_levels`: the quantiles at levels over the same rows (the same multiset
  of values as the answers, so the same `quantile_cont`): the light scan's observed quantiles and
  the bound levels of the whole population.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from rollout_cli.data.aggregates import IndicatorSums
from rollout_cli.data.finite import finite_or_null
from rollout_cli.data.queries import ts_filter
from rollout_cli.data.scans import IndicatorRequest, LevelRequest
from rollout_cli.data.source import Logs, SqlParams
from rollout_cli.logcache.sums import Summary
from rollout_cli.logcache.units import ALIAS, Companion

TABLE = "unit_answers"  # the companion's table in the cache (logcache/cache.py drops it on reset)
FENCES = f"{ALIAS}.main.unit_answer_fences"  # per arm and column, a value below the upper ranks last read


def _totals(rows: str) -> str:
    return (f"SELECT arm, q, count(*) FILTER (WHERE k = 1) AS units, count(*) AS n, sum(y) AS squares "
            f"FROM {rows} GROUP BY ALL")


TOTALS = Summary(_totals, "n")  # kept beside the ranked rows, moved by differences (logcache/sums.py)


def ranked_answers(columns: Sequence[str], since: datetime | None, until: datetime) -> Companion:
    """The companion SELECT builder (over, params, unit expression) -> SQL; see the module contract."""
    def build(over: Logs, params: SqlParams, unit: str) -> str:
        preds = over.predictions
        ts, arm = preds.column("ts", "timestamp"), preds.column("arm", "text")
        served, unit_id = preds.column("served", "boolean"), preds.column("unit_id", "any")
        branches = []
        for q, name in enumerate(columns):
            c = preds.column(f"column of a quantile metric ({name})", "number", column=name)
            branches.append(
                f"SELECT {unit} AS unit, {arm} AS arm, {q} AS q, {finite_or_null(c)} AS v "
                f"FROM {preds.from_item(params)} WHERE {served} AND {arm} IN ('baseline', 'candidate') "
                f"AND {unit_id} IS NOT NULL AND {ts_filter(ts, since, until, params)}")
        return (f"SELECT unit, arm, q, v, count(*) OVER (PARTITION BY unit, arm, q) AS y, "
                f"row_number() OVER (PARTITION BY unit, arm, q ORDER BY v) AS k "
                f"FROM ({' UNION ALL '.join(branches)}) WHERE v IS NOT NULL")
    return build


@dataclass
class Ranked:
    """One look's reads of the ranked rows: `parts` (the kept rows, the kept rows of the units the look
    recomputes or None, the look's own rows of those units or None) and `summed` (a FROM item of
    their TOTALS); see the module contract. The rows read are kept - gone + look: each part is
    filtered first and carries a sign `s`, so a read of the upper tail reads the tail only and never
    joins on the unit. Order statistics in the upper
    tail come from the largest values only: those at or above a fence, kept in the cache from the
    previous look (a hint: used when it holds enough values, else found again with one selection),
    then a top-N — exact either way."""

    logs: Logs
    parts: tuple[str, str | None, str | None]
    summed: str
    columns: list[str]
    _totals: dict[tuple[str, int], tuple[int, int, int]] | None = None  # units, Σy, Σy²
    _fences: dict[tuple[str, int], float] = field(default_factory=dict)  # kept by the last look
    _kept: dict[tuple[str, int], float] = field(default_factory=dict)  # … and by this one

    def signed(self, where: str) -> str:
        """A FROM item of the parts' rows satisfying `where`, each with its sign `s` (-1: a gone row)."""
        kept, gone, look = self.parts
        parts = [f"SELECT *, 1 AS s FROM {kept} WHERE {where}"]
        if gone is not None:
            parts.append(f"SELECT *, -1 AS s FROM {gone} WHERE {where}")
        if look is not None:
            parts.append(f"SELECT *, 1 AS s FROM {look} WHERE {where}")
        return "(" + " UNION ALL BY NAME ".join(parts) + ")"

    def rows(self, where: str) -> str:
        """A FROM item of the look's ranked rows satisfying `where` (for a selection over all of an arm's
        values: the kept rows of the touched units left out by a join on the unit)."""
        kept, gone, look = self.parts
        if gone is None and look is None:
            return f"(SELECT * FROM {kept} WHERE {where})"
        parts = [f"SELECT * FROM (SELECT * FROM {kept} WHERE {where}) ANTI JOIN (SELECT DISTINCT unit FROM {gone}) "
                 "USING (unit)" if gone is not None else f"SELECT * FROM {kept} WHERE {where}"]
        if look is not None:
            parts.append(f"SELECT * FROM {look} WHERE {where}")
        return "(" + " UNION ALL BY NAME ".join(parts) + ")"

    def totals(self) -> dict[tuple[str, int], tuple[int, int, int]]:
        """(arm, q) -> units with a value, values (Σy), Σy²: the kept sums, moved by what changed."""
        if self._totals is None:
            try:
                self._fences = {(arm, int(q)): float(v) for arm, q, v in self.logs.connection.execute(
                    f"SELECT arm, q, v FROM {FENCES}").fetchall()}
            except duckdb.Error:
                self._fences = {}
            found = self.logs.query(f"SELECT arm, q, units, n, squares FROM {self.summed}", SqlParams())
            self._totals = {(arm, int(q)): (int(units), int(n), int(squares or 0)) for arm, q, units, n, squares in found}
        return self._totals

    def sums(self, requests: Sequence[IndicatorRequest]) -> list[IndicatorSums]:
        """The design sums of whole-population `requests` (in order): the totals, less the values above
        each threshold (the upper tail: few rows, where a design effect's quantile is high)."""
        totals = self.totals()
        params = SqlParams()
        asked = [(r.arm, self.columns.index(r.column), t) for r in requests for t in r.thresholds]
        if any(r.population is not None for r in requests):
            raise ValueError("ranked answers hold the whole population only")
        row: list[int] = [0] * (3 * len(asked))
        if asked:  # the values above each threshold: a join with the few thresholds, over the tail only
            values = ", ".join(f"({j}, {params.add(arm)}, {q}, {params.add(t)})" for j, (arm, q, t) in enumerate(asked))
            lowest = params.add(min(t for _, _, t in asked))
            for j, n_above, sq_above, y_above in self.logs.query(
                    f"SELECT j, sum(s), sum(s * (2 * k - 1)), sum(s * y) FROM {self.signed(f'v > {lowest}')} a "
                    f"JOIN (VALUES {values}) t(j, arm, q, t) ON a.arm = t.arm AND a.q = t.q AND a.v > t.t GROUP BY j",
                    params):
                row[3 * j:3 * j + 3] = [int(n_above or 0), int(sq_above or 0), int(y_above or 0)]
        out, at = [], 0
        for r in requests:
            units, answers, squares = totals.get((r.arm, self.columns.index(r.column)), (0, 0, 0))
            below = []
            for _ in r.thresholds:  # Σ over all values: Σy, Σ(2k - 1) = Σy², Σ y = Σy²
                n_above, sq_above, y_above = row[at:at + 3]
                below.append((float(answers - n_above), float(squares - sq_above), float(squares - y_above)))
                at += 3
            out.append(IndicatorSums(units, float(answers), float(squares), tuple(below)))
        return out

    def quantiles(self, asked: Sequence[tuple[str, str, Sequence[float]]]) -> list[tuple[int, list[float | None]]]:
        """For each (arm, column, levels): the number of values and their quantiles at `levels`, as
        `quantile_cont` gives them: the order statistics around (n - 1) * level, interpolated."""
        out: list[tuple[int, list[float | None]]] = []
        for arm, column, levels in asked:
            key = (arm, self.columns.index(column))
            n = self.totals().get(key, (0, 0, 0))[1]
            if n == 0:
                out.append((0, [None for _ in levels]))
                continue
            ranks = {rank for level in levels for rank in _around((n - 1) * level)}
            value = self._top(key, n, ranks)
            if value is None:  # a low quantile: DuckDB's own selection
                params = SqlParams()
                where = f"arm = {params.add(arm)} AND q = {key[1]}"
                found = self.logs.query(f"SELECT quantile_cont(v, {params.add(list(levels))}) FROM {self.rows(where)}",
                                        params)[0][0]
                out.append((n, [None if v is None else float(v) for v in found]))
            else:
                out.append((n, [_interpolated(value, (n - 1) * level) for level in levels]))
        return out

    def levels(self, requests: Sequence[LevelRequest]) -> list[list[float | None]]:
        """The quantiles of whole-population `requests` at their levels (in order)."""
        return [values for _, values in self.quantiles([(r.arm, r.column, r.levels) for r in requests])]

    def _top(self, key: tuple[str, int], n: int, ranks: set[int]) -> dict[int, float] | None:
        """The values at `ranks` (0 = smallest) from the largest values, or None when they are not in the tail."""
        depth = n - min(ranks)
        if depth > n // 2:
            return None
        want = min(n, depth + max(16, n // 200))  # a margin: the fence kept holds the next look's ranks too
        places = sorted({n - rank for rank in ranks} | {want})  # 1 = the largest value
        fence = self._fences.get(key)
        found = [] if fence is None else self._tail(key, fence, places)
        if not found or found[0][2] < depth:  # no fence, or too few values above it: a value at rank n - want
            select = SqlParams()
            level = select.add((n - want) / (n - 1) if n > 1 else 0.0)
            where = f"arm = {select.add(key[0])} AND q = {key[1]}"
            fence = float(self.logs.query(f"SELECT quantile_cont(v, {level}) FROM {self.rows(where)}", select)[0][0])
            found = self._tail(key, fence, places)
        top = {int(i): float(v) for i, v, _ in found}
        if not found or found[0][2] < depth:
            return None
        kept, above = self._fences.get(key), int(found[0][2])
        if kept is None or kept > top[max(top)] or above > 2 * want:  # else the kept fence still serves: no write
            self._keep_fence(key, top[max(top)])
        return {rank: top[n - rank] for rank in ranks}

    def _tail(self, key: tuple[str, int], fence: float, places: list[int]) -> list[tuple[int, float, int]]:
        """(place, value, values at or above `fence`) of the values at `places` (1 = the largest)."""
        params = SqlParams()
        where = f"arm = {params.add(key[0])} AND q = {key[1]} AND v >= {params.add(fence)}"
        if self.parts[1:] == (None, None):
            sql = (f"SELECT i, v, c FROM (SELECT v, row_number() OVER (ORDER BY v DESC) AS i, count(*) OVER () AS c "
                   f"FROM {self.rows(where)}) WHERE i IN ({', '.join(map(str, places))})")
        else:  # kept - gone + look as a multiset: each value's count, then the places by cumulative count
            sql = (f"WITH t AS (SELECT v, sum(s) AS c FROM {self.signed(where)} GROUP BY v HAVING sum(s) > 0), "
                   f"r AS (SELECT v, c, sum(c) OVER (ORDER BY v DESC ROWS UNBOUNDED PRECEDING) AS upto FROM t) "
                   f"SELECT p.i, r.v, (SELECT sum(c) FROM t) FROM r JOIN (VALUES {', '.join(f'({i})' for i in places)}) "
                   f"p(i) ON p.i > r.upto - r.c AND p.i <= r.upto ORDER BY p.i")
        return [(int(i), float(v), int(c)) for i, v, c in self.logs.query(sql, params)]

    def _keep_fence(self, key: tuple[str, int], value: float) -> None:
        """Keep the lowest fence this look used for `key` (every tail it read, down to the companion level)."""
        value = min(value, self._kept.get(key, value))
        self._kept[key] = value
        try:  # a hint only: a look that cannot keep it selects again
            con = self.logs.connection
            con.execute(f"CREATE TABLE IF NOT EXISTS {FENCES} (arm VARCHAR, q INTEGER, v DOUBLE)")
            con.execute(f"DELETE FROM {FENCES} WHERE arm = ? AND q = ?", list(key))
            con.execute(f"INSERT INTO {FENCES} VALUES (?, ?, ?)", [*key, value])
        except duckdb.Error:
            pass


def _around(position: float) -> tuple[int, int]:
    return (math.floor(position), math.ceil(position))


def _interpolated(value: dict[int, float], position: float) -> float:
    """quantile_cont's interpolation between the order statistics around `position`."""
    low, high = _around(position)
    if low == high:
        return value[low]
    return value[low] + (position - low) * (value[high] - value[low])
