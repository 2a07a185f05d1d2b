"""Each answer's rank within its unit, kept beside the per-unit rows: the design effect of a relative
quantile guard (and its bound levels) without grouping every answer by unit at each look.

Contract (docs/incremental.md, "Ranked answers"):
- `ranked_answers(columns, since, until)` is a per-unit companion of `units.UnitTable`: over the
  window's answers of a traffic stage (served, arm baseline or candidate, with a unit, in
  [since, until]) one row per finite value of each column: `unit`, `arm`, `q` (the column's index
  in `columns`), `v` (the value), `y` (the unit's finite values of that column in that arm) and `k`
  (the value's rank among them, 1 = smallest). A unit's rows depend on that unit's answers only, so
  the table is kept, and recomputed for the units a look touches, exactly as the per-unit rows are.
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

from collections.abc import Sequence
from datetime import datetime

from rollout_cli.data.aggregates import IndicatorSums
from rollout_cli.data.finite import finite_or_null
from rollout_cli.data.queries import ts_filter
from rollout_cli.data.scans import IndicatorRequest, LevelRequest
from rollout_cli.data.source import Logs, SqlParams
from rollout_cli.logcache.units import Companion

TABLE = "unit_answers"  # the companion's table in the cache (logcache/cache.py drops it on reset)


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


def ranked_sums(logs: Logs, relation: str, columns: Sequence[str], requests: Sequence[IndicatorRequest]
                ) -> list[IndicatorSums]:
    """The design sums of whole-population `requests` from the ranked rows in `relation` (in order):
    the totals, less the values above each threshold (the upper tail: few rows, where a design
    effect's quantile is high)."""
    totals = _totals(logs, relation)
    params = SqlParams()
    parts, tails = [], []
    for r in requests:
        if r.population is not None:
            raise ValueError("ranked answers hold the whole population only")
        which = f"arm = {params.add(r.arm)} AND q = {columns.index(r.column)}"
        for t in r.thresholds:
            above = f"{which} AND v > {params.add(t)}"
            parts += [f"count(*) FILTER (WHERE {above})", f"sum(2 * k - 1) FILTER (WHERE {above})",
                      f"sum(y) FILTER (WHERE {above})"]
            tails.append(t)
    row: list[int] = []
    if parts:
        lowest = params.add(min(tails))
        row = [int(v or 0) for v in logs.query(f"SELECT {', '.join(parts)} FROM {relation} WHERE v > {lowest}",
                                               params)[0]]
    out, at = [], 0
    for r in requests:
        units, answers, squares = totals.get((r.arm, columns.index(r.column)), (0, 0, 0))
        below = []
        for _ in r.thresholds:  # Σ over all values: Σy, Σ(2k - 1) = Σy², Σ y = Σy²
            n_above, sq_above, y_above = row[at:at + 3]
            below.append((float(answers - n_above), float(squares - sq_above), float(squares - y_above)))
            at += 3
        out.append(IndicatorSums(units, float(answers), float(squares), tuple(below)))
    return out


def _totals(logs: Logs, relation: str) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(arm, q) -> units with a value, values (Σy), Σy² — one scan of three narrow columns, no join."""
    found = logs.query(f"SELECT arm, q, count(*) FILTER (WHERE k = 1), count(*), sum(y) FROM {relation} "
                       "GROUP BY ALL", SqlParams())
    return {(arm, int(q)): (int(units), int(answers), int(squares or 0)) for arm, q, units, answers, squares in found}


def ranked_quantiles(logs: Logs, relation: str, columns: Sequence[str], asked: Sequence[tuple[str, str, Sequence[float]]]
                     ) -> list[tuple[int, list[float | None]]]:
    """For each (arm, column, levels): the number of values and their quantiles at `levels`
    (`quantile_cont`, as the scans take them), from the ranked rows: one scan of three narrow columns."""
    params = SqlParams()
    levels = sorted({level for _, _, wanted in asked for level in wanted})
    found = {(arm, int(q)): (int(n), dict(zip(levels, values))) for arm, q, n, values in logs.query(
        f"SELECT arm, q, count(*), quantile_cont(v, {params.add(levels)}) FROM {relation} GROUP BY ALL", params)}
    out: list[tuple[int, list[float | None]]] = []
    for arm, column, wanted in asked:
        n, values = found.get((arm, columns.index(column)), (0, {}))
        out.append((n, [None if values.get(level) is None else float(values[level]) for level in wanted]))
    return out


def ranked_levels(logs: Logs, relation: str, columns: Sequence[str], requests: Sequence[LevelRequest]
                  ) -> list[list[float | None]]:
    """The quantiles of whole-population `requests` at their levels, from the ranked rows (in order)."""
    found = ranked_quantiles(logs, relation, columns, [(r.arm, r.column, r.levels) for r in requests])
    return [values for _, values in found]
