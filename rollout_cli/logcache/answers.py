"""Each answer's rank within its unit, kept beside the per-unit rows: the design effect of a relative
quantile guard (and its bound levels) without grouping every answer by unit at each look.

Contract (docs/incremental.md, "Ranked answers"):
- `ranked_answers(columns, since, until)` is a per-unit companion of `units.UnitTable`: over the
  window's answers of a traffic stage (served, arm baseline or candidate, with a unit, in
  [since, until]) one row per finite value of each column: `unit`, `arm`, `q` (the column's index
  in `columns`), `v` (the value), `y` (the unit's finite values of that column in that arm) and `k`
  (the value's rank among them, 1 = smallest). A unit's rows depend on that unit's answers only, so
  the table is kept, and recomputed for the units a look touches, exactly as the per-unit rows are.
- `TOTALS`: the kept sums of those rows per arm, column and value bin (logcache/sums.py): units,
  values, Σy; summed over the bins, the totals; their running counts, which bin holds each rank.
- `ranked_sums(logs, relation, columns, requests)`: for each request (one arm of the whole
  population, thresholds t) the sums `data.scans.indicator_sums` gives, from those rows: a unit's
  values at or below t are its first x by rank (ties sit on the same side of t), so
  Σx = #{v <= t}, Σx² = Σ_{v <= t} (2k - 1), Σxy = Σ_{v <= t} y, and n, Σy, Σy² are the rows with
  k = 1, the rows, Σ y. One filtered scan of the kept rows, no grouping: exact integers.
- `Ranked.quantiles`, `Ranked.levels`: the quantiles at levels over the same rows (the same multiset
  of values as the answers, interpolated as `quantile_cont` does): the light scan's observed
  quantiles and the bound levels of the whole population; each order statistic read from the values
  of its bin only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rollout_cli.data.aggregates import IndicatorSums
from rollout_cli.data.finite import finite_or_null
from rollout_cli.data.queries import ts_filter
from rollout_cli.data.scans import IndicatorRequest, LevelRequest
from rollout_cli.data.source import Logs, SqlParams
from rollout_cli.errors import DataError
from rollout_cli.logcache.sums import Summary
from rollout_cli.logcache.units import ALIAS, Companion

TABLE = "unit_answers"  # the companion's table in the cache (logcache/cache.py drops it on reset)


# A value's bin: monotone in v (as the platform's asinh is), about 0.1% of |v| wide away from 0 and
# 1/1024 wide near it, so a bin holds few of the values whatever their scale or sign.
BIN_SCALE = 1024
BIN = f"CAST(floor(asinh(v) * {BIN_SCALE}) AS BIGINT)"


def _totals(rows: str) -> str:
    return (f"SELECT arm, q, {BIN} AS b, count(*) FILTER (WHERE k = 1) AS units, count(*) AS n, sum(y) AS squares "
            f"FROM {rows} GROUP BY ALL")


# Kept beside the ranked rows, moved by differences (logcache/sums.py): per arm, column and value bin,
# the units whose first value (k = 1) is there, the values and Σy. Summed over the bins: the totals.
TOTALS = Summary(_totals, "n")


def _edge(b: int) -> float:
    """A value at or below every value of bin `b` (at or above, for the bin before it): a bin's values
    are read by `v BETWEEN _edge(b - 1) AND _edge(b + 2)` (a superset, bins are far wider than rounding)
    and then by their bin."""
    try:
        return math.sinh(b / BIN_SCALE)
    except OverflowError:
        return math.inf if b > 0 else -math.inf


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
    their TOTALS by value bin); see the module contract. The rows read are kept - gone + look: each
    part is filtered first and carries a sign `s`, so a read of the upper tail or of a few bins reads
    those only and never joins on the unit."""

    logs: Logs
    parts: tuple[str, str | None, str | None]
    summed: str
    columns: list[str]
    _totals: dict[tuple[str, int], tuple[int, int, int]] | None = None  # units, Σy, Σy²

    def signed(self, where: str) -> str:
        """A FROM item of the parts' rows satisfying `where`, each with its sign `s` (-1: a gone row)."""
        kept, gone, look = self.parts
        parts = [f"SELECT *, 1 AS s FROM {kept} WHERE {where}"]
        if gone is not None:
            parts.append(f"SELECT *, -1 AS s FROM {gone} WHERE {where}")
        if look is not None:
            parts.append(f"SELECT *, 1 AS s FROM {look} WHERE {where}")
        return "(" + " UNION ALL BY NAME ".join(parts) + ")"

    def totals(self) -> dict[tuple[str, int], tuple[int, int, int]]:
        """(arm, q) -> units with a value, values (Σy), Σy²: the kept sums, moved by what changed."""
        if self._totals is None:
            found = self.logs.query(f"SELECT arm, q, sum(units), sum(n), sum(squares) FROM {self.summed} GROUP BY ALL",
                                    SqlParams())
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
        `quantile_cont` gives them: the order statistics around (n - 1) * level, interpolated. Each
        order statistic is found in its value bin (the kept counts per bin, BINS), and read from the
        values of that bin only."""
        wanted: dict[tuple[str, int], set[int]] = {}
        for arm, column, levels in asked:
            key = (arm, self.columns.index(column))
            n = self.totals().get(key, (0, 0, 0))[1]
            wanted.setdefault(key, set()).update(rank for level in levels for rank in _around((n - 1) * level))
        values = self._order_statistics({key: ranks for key, ranks in wanted.items() if self.totals().get(key)})
        out: list[tuple[int, list[float | None]]] = []
        for arm, column, levels in asked:
            key = (arm, self.columns.index(column))
            n = self.totals().get(key, (0, 0, 0))[1]
            if n == 0:
                out.append((0, [None for _ in levels]))
            else:
                out.append((n, [_interpolated(values[key], (n - 1) * level) for level in levels]))
        return out

    def levels(self, requests: Sequence[LevelRequest]) -> list[list[float | None]]:
        """The quantiles of whole-population `requests` at their levels (in order)."""
        return [values for _, values in self.quantiles([(r.arm, r.column, r.levels) for r in requests])]

    def _order_statistics(self, wanted: dict[tuple[str, int], set[int]]) -> dict[tuple[str, int], dict[int, float]]:
        """(arm, q) -> rank (0 = smallest) -> value: the bins' counts say which bin holds each rank and
        where in it; one filtered read of those bins' values (each bin a narrow range of v) gives them."""
        if not wanted:
            return {}
        bins: dict[tuple[str, int], list[tuple[int, int]]] = {}
        for arm, q, b, c in self.logs.query(f"SELECT arm, q, b, n FROM {self.summed} ORDER BY b", SqlParams()):
            bins.setdefault((arm, int(q)), []).append((int(b), int(c)))
        place: dict[tuple[str, int, int], tuple[int, int]] = {}  # (arm, q, rank) -> (bin, offset in the bin)
        for key, ranks in wanted.items():
            at, pending = 0, sorted(ranks)
            for b, c in bins.get(key, []):
                while pending and pending[0] < at + c:
                    rank = pending.pop(0)
                    place[(*key, rank)] = (b, rank - at)
                at += c
            if pending:
                self._disagree()
        expanded: dict[tuple[str, int, int], list[float]] = {}
        for arm, q in wanted:  # one read per arm and column: a plain range of v (a filter of the scan), then bins
            needed = sorted({b for (a, c, _), (b, _) in place.items() if (a, c) == (arm, q)})
            if not needed:
                continue
            params = SqlParams()
            where = (f"arm = {params.add(arm)} AND q = {q} AND v BETWEEN {params.add(_edge(needed[0] - 1))} "
                     f"AND {params.add(_edge(needed[-1] + 2))}")
            for b, v, c in self.logs.query(
                    f"SELECT b, v, sum(s) FROM (SELECT v, s, {BIN} AS b FROM {self.signed(where)}) "
                    f"WHERE b IN ({', '.join(map(str, needed))}) GROUP BY ALL HAVING sum(s) > 0 ORDER BY b, v", params):
                expanded.setdefault((arm, q, int(b)), []).extend([float(v)] * int(c))
        out: dict[tuple[str, int], dict[int, float]] = {}
        for (arm, q, rank), (b, offset) in place.items():
            if offset >= len(expanded.get((arm, q, b), ())):
                self._disagree()
            out.setdefault((arm, q), {})[rank] = expanded[(arm, q, b)][offset]
        return out

    def _disagree(self) -> None:
        """Kept counts that disagree with the kept rows (a damaged file): never a figure from them. The
        kept per-unit rows are marked stale, so the next look computes them again."""
        self.logs.connection.execute(f"DROP TABLE IF EXISTS {ALIAS}.unit_meta")
        raise DataError("the evaluation cache's kept value counts disagree with its rows: they are computed "
                        "again at the next look (or run with --full)")


def _around(position: float) -> tuple[int, int]:
    return (math.floor(position), math.ceil(position))


def _interpolated(value: dict[int, float], position: float) -> float:
    """quantile_cont's interpolation between the order statistics around `position`."""
    low, high = _around(position)
    if low == high:
        return value[low]
    return value[low] + (position - low) * (value[high] - value[low])
