"""The aggregates of `rollout shadow`, each one pass over the in-memory `pairs` table.

Contract:
- `unit_sums(con, ...)`: per unit first (a unit's segment values are those of its first request),
  then per population (everyone, and each value of each segment column) the unit count and, for
  every named ratio (x over y per request), the sums Σx, Σy, Σx², Σy², Σxy over units — what
  `stats.sequential.ratio_stats` needs for a delta-method, always-valid interval.
- `request_figures`: what is read request by request: the window's first time, the agreement
  counts of requests flagged unusual against the rest, and for scores the difference distribution
  and both score distributions (quantiles, the baseline's bin edges).
- `score_bins`: joint counts in bins at the baseline's quantiles (it needs their edges first).
- `load_buckets`: minutes ranked by their baseline requests into five buckets, with each arm's
  latency quantiles and the paired log-latency ratio (mean, variance, n) per bucket, and each arm's
  latency quantiles over the whole window.
- `confusion`, `examples`: polars frames (rows handled in Python).
SQL texts are built from fixed fragments; user values (timeouts, edges) are parameters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

Population = tuple[str, Any] | None
LOAD_BUCKETS = 5


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """Execute with just the parameters the statement names (DuckDB refuses extra ones)."""
    used = {k: v for k, v in params.items() if re.search(rf"\${re.escape(k)}\b", sql)}
    return con.execute(sql, used)


@dataclass(frozen=True)
class RatioSums:
    n: int
    sx: float
    sy: float
    sxx: float
    syy: float
    sxy: float


def unit_sums(con: duckdb.DuckDBPyConnection, segments: Sequence[str], ratios: dict[str, tuple[str, str]],
              params: dict[str, Any]) -> dict[Population, dict[str, RatioSums]]:
    """Per population, per ratio name: sums over units (see the module contract)."""
    k = len(segments)
    # one per-unit column per distinct expression (ratios share their denominators), then per cell
    # the sums, squares and cross products each ratio needs
    exprs = list(dict.fromkeys(e for pair in ratios.values() for e in pair))
    col = {e: f"e{i}" for i, e in enumerate(exprs)}
    per_unit = ", ".join(("count(*)" if e == "1" else f"sum(CAST({e} AS DOUBLE))") + f" AS {col[e]}" for e in exprs)
    first = "".join(f", arg_min(s{i}, ts) AS s{i}" for i in range(k))
    terms: dict[str, str] = {}
    for name, (x, y) in ratios.items():
        cx, cy = col[x], col[y]
        for suffix, expr in (("sx", cx), ("sy", cy), ("sxx", f"{cx} * {cx}"), ("syy", f"{cy} * {cy}"),
                             ("sxy", f"{cx} * {cy}")):
            terms[f"{name}_{suffix}"] = expr
    distinct = list(dict.fromkeys(terms.values()))
    alias = {expr: f"t{i}" for i, expr in enumerate(distinct)}
    stats = ", ".join(f"sum({expr}) AS {alias[expr]}" for expr in distinct)
    rolled = ", ".join(f"sum({alias[expr]}) AS {alias[expr]}" for expr in distinct)
    segs = "".join(f", s{i}" for i in range(k))
    sets = ", ".join(["()"] + [f"(s{i})" for i in range(k)])
    grouping = "".join(f", GROUPING(s{i}) AS g{i}" for i in range(k))
    sql = (f"WITH units AS (SELECT unit{first}, {per_unit} FROM pairs GROUP BY unit), "
           f"cells AS (SELECT count(*) AS n{segs}, {stats} FROM units GROUP BY ALL) "
           f"SELECT sum(n) AS n{segs}{grouping}, {rolled} FROM cells GROUP BY GROUPING SETS ({sets})")
    cursor = _run(con, sql, params)
    names = [d[0] for d in cursor.description]
    out: dict[Population, dict[str, RatioSums]] = {}
    for raw in cursor.fetchall():
        row = dict(zip(names, raw))
        population: Population = None
        for i, segment in enumerate(segments):
            if row[f"g{i}"] == 0:
                population = (segment, row[f"s{i}"])
        out[population] = {n: RatioSums(int(row["n"] or 0), *(float(row[alias[terms[f"{n}_{s}"]]] or 0.0)
                                                              for s in ("sx", "sy", "sxx", "syy", "sxy")))
                           for n in ratios}
    return out


DIFF_QUANTILES = (0.5, 0.9, 0.99)
SCORE_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


SCORED = "paired AND b_pred IS NOT NULL AND c_pred IS NOT NULL"


def request_figures(con: duckdb.DuckDBPyConnection, *, scores: bool, bins: int, flag: str | None, agree: str,
                    params: dict[str, Any]) -> dict[str, Any]:
    """`first_ts`; with `flag`, the paired and agreeing requests where it holds and elsewhere
    (`flagged_paired`, `flagged_agree`, `rest_paired`, `rest_agree`, `flagged_requests`); with
    `scores`, over paired requests with both scores: `n`, the mean difference (candidate - baseline),
    |difference| quantiles and max, Pearson's correlation, both sides' quantiles and means, and the
    baseline's bin `edges` (its quantiles at k / bins). Two passes: the counts over every request, the
    scores over the scored ones (a FILTER on each quantile cost more than the second pass)."""
    parts = {"first_ts": "min(ts)"}
    if flag:
        parts.update(flagged_paired=f"count(*) FILTER (WHERE paired AND ({flag}))",
                     flagged_agree=f"count(*) FILTER (WHERE paired AND ({flag}) AND ({agree}))",
                     rest_paired=f"count(*) FILTER (WHERE paired AND NOT ({flag}))",
                     rest_agree=f"count(*) FILTER (WHERE paired AND NOT ({flag}) AND ({agree}))",
                     flagged_requests=f"count(*) FILTER (WHERE {flag})")
    row = _run(con, "SELECT " + ", ".join(f"{expr} AS {name}" for name, expr in parts.items()) + " FROM pairs",
               params).fetchone()
    assert row is not None
    out = {name: (value if name == "first_ts" else int(value or 0)) for name, value in zip(parts, row)}
    if scores:
        out.update(_score_summary(con, bins))
    return out


def _score_summary(con: duckdb.DuckDBPyConnection, bins: int) -> dict[str, Any]:
    edges = [k / bins for k in range(1, bins)]
    levels = sorted(set(SCORE_QUANTILES) | set(edges))  # one selection over the baseline's scores for both
    row = con.execute(
        "SELECT count(*), avg(c_pred - b_pred), quantile_cont(abs(c_pred - b_pred), $dq), max(abs(c_pred - b_pred)),"
        " corr(b_pred, c_pred), quantile_cont(b_pred, $bq), quantile_cont(c_pred, $sq), avg(b_pred), avg(c_pred)"
        f" FROM pairs WHERE {SCORED}",
        {"dq": list(DIFF_QUANTILES), "sq": list(SCORE_QUANTILES), "bq": levels}).fetchone()
    assert row is not None
    base = dict(zip(levels, row[5] or []))
    return {"n": int(row[0] or 0), "mean_difference": row[1], "abs_difference_quantiles": row[2] or [],
            "max_abs_difference": row[3], "pearson": row[4],
            "baseline_quantiles": [base[q] for q in SCORE_QUANTILES] if base else [],
            "candidate_quantiles": row[6] or [], "edges": sorted({base[q] for q in edges}) if base else [],
            "baseline_mean": row[7], "candidate_mean": row[8]}


def _bin_expr(column: str, edges: Sequence[float]) -> str:
    """The bin index of `column` for sorted `edges`: (-inf, e0], (e0, e1], ..., (e_last, inf)."""
    if not edges:
        return "0"
    cases = " ".join(f"WHEN {column} <= $e{i} THEN {i}" for i in range(len(edges)))
    return f"CASE {cases} ELSE {len(edges)} END"


def score_bins(con: duckdb.DuckDBPyConnection, edges: Sequence[float]) -> list[tuple[int, int, int]]:
    """(baseline bin, candidate bin, paired requests) on the baseline's edges."""
    params = {f"e{i}": float(e) for i, e in enumerate(edges)}
    return [(int(b), int(c), int(n)) for b, c, n in con.execute(
        f"SELECT {_bin_expr('b_pred', edges)} AS bb, {_bin_expr('c_pred', edges)} AS cb, count(*) FROM pairs "
        "WHERE paired AND b_pred IS NOT NULL AND c_pred IS NOT NULL GROUP BY ALL", params).fetchall()]


def load_buckets(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each arm's latency p50/p99 over the window (`baseline_latency`, `candidate_latency`), and per load
    bucket (1 = quietest minutes): minutes, requests per minute, each arm's p50/p99 and error count, and
    the paired log-latency ratio's n, mean and variance (per request). Two statements: as grouping sets
    of one, DuckDB kept the joined rows for both sets, which cost more than a second scan."""
    row = con.execute("SELECT quantile_cont(b_lat, [0.5, 0.99]), quantile_cont(c_lat, [0.5, 0.99]) FILTER "
                      "(WHERE paired) FROM pairs").fetchone()
    assert row is not None
    rows = con.execute(f"""
WITH minutes AS (SELECT date_trunc('minute', ts) AS minute, count(*) AS load FROM pairs GROUP BY 1),
ranked AS (SELECT minute, load, ntile({LOAD_BUCKETS}) OVER (ORDER BY load, minute) AS bucket FROM minutes)
SELECT r.bucket, count(DISTINCT r.minute), min(r.load), max(r.load), count(*),
       quantile_cont(p.b_lat, [0.5, 0.99]), quantile_cont(p.c_lat, [0.5, 0.99]),
       count(*) FILTER (WHERE p.b_err), count(*) FILTER (WHERE p.paired), count(*) FILTER (WHERE p.c_err),
       count(ln(p.c_lat / p.b_lat)) FILTER (WHERE p.b_lat > 0 AND p.c_lat > 0),
       avg(ln(p.c_lat / p.b_lat)) FILTER (WHERE p.b_lat > 0 AND p.c_lat > 0),
       var_samp(ln(p.c_lat / p.b_lat)) FILTER (WHERE p.b_lat > 0 AND p.c_lat > 0)
FROM pairs p JOIN ranked r ON date_trunc('minute', p.ts) = r.minute
GROUP BY r.bucket ORDER BY r.bucket""").fetchall()
    keys = ("bucket", "minutes", "min_load", "max_load", "requests", "baseline_latency", "candidate_latency",
            "baseline_errors", "paired", "candidate_errors", "ratio_n", "ratio_mean", "ratio_var")
    return {"baseline_latency": row[0], "candidate_latency": row[1]}, [dict(zip(keys, r)) for r in rows]


def confusion(con: duckdb.DuckDBPyConnection) -> Any:
    """Paired label answers: a polars frame (baseline, candidate, n)."""
    return _frame(con.execute("SELECT b_pred AS baseline, c_pred AS candidate, count(*) AS n FROM pairs WHERE paired "
                       "GROUP BY ALL ORDER BY n DESC, baseline, candidate"))


def examples(con: duckdb.DuckDBPyConnection, segments: Sequence[str], limit: int) -> Any:
    """`limit` disagreeing requests, chosen by the hash of the request id (deterministic, spread out)."""
    segs = "".join(f", s{i} AS {_alias(i)}" for i in range(len(segments)))
    return _frame(con.execute(
        f"SELECT drid AS request_id, ts, b_pred AS baseline, c_pred AS candidate{segs} FROM pairs "
        f"WHERE drid IS NOT NULL ORDER BY rh, drid LIMIT {int(limit)}"))


def _frame(cursor: duckdb.DuckDBPyConnection) -> Any:
    """The (small) result as a polars frame."""
    import polars as pl

    names = [d[0] for d in cursor.description or []]
    return pl.DataFrame(cursor.fetchall(), schema=names, orient="row")


def _alias(i: int) -> str:
    return f"segment_{i}"
