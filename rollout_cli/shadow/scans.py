"""The aggregates of `rollout shadow`, each one pass over the `pairs` table (on the plan's engine).

Contract:
- `unit_sums(con, ...)`: per population (everyone, and each value of each segment column, a
  request counting in its own row's value) the units (linear counting over slot bits) and, for
  every named ratio (x over y per request), Σx, Σy and their totals per random group of units
  (GROUPS of them, by the unit's hash) — what `stats.random_groups` needs for a delta-method,
  always-valid interval without a row per unit.
- `request_figures`: what is read request by request: the window's first time, the agreement
  counts of requests flagged unusual against the rest, and for scores the difference distribution
  and both score distributions (quantiles and the baseline's bin edges from log-spaced
  histograms, `shadow.histograms`; moments exactly).
- `score_bins`: joint counts in bins at the baseline's quantiles (it needs their edges first).
- `load_buckets`: one statement grouped by minute and latency bin; minutes ranked by their
  baseline requests into five buckets (`ntile`, in the same statement), with each arm's latency
  quantiles (histograms) and the paired log-latency ratio (mean, variance, n) per bucket, and each
  arm's latency quantiles over the whole window.
- `confusion`, `examples`: polars frames (rows handled in Python).
SQL texts are built from fixed fragments; user values (timeouts, edges) are parameters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rollout_cli.data.engine import EngineConnection, FetchedRows
from rollout_cli.shadow import histograms

Population = tuple[str, Any] | None
LOAD_BUCKETS = 5


def _run(con: EngineConnection, sql: str, params: dict[str, Any]) -> FetchedRows:
    """Execute with just the parameters the statement names (DuckDB refuses extra ones)."""
    used = {k: v for k, v in params.items() if re.search(rf"\${re.escape(k)}\b", sql)}
    return con.execute(sql, used)


# Units are spread over this many random groups (the low bits of their hash) for the variances
# (docs/statistics.md, "random groups"); each group has SLOTS bits for counting its units. Only the
# hash's bits are read (`&`, `>>`): they are the same on every engine (data/stable_hash.py).
# 1,024 groups: 4,096 cost a third more CPU (the cells outgrew the cache) for a width that varies
# 2% instead of 4% between samples.
GROUPS = 1024
assert GROUPS & (GROUPS - 1) == 0, "a group is the low bits of the hash: a power of two"
SLOT_WORDS = 8  # 32-bit words per group: GROUPS * 256 = 262,144 slots (linear counting to ~2M units)


@dataclass(frozen=True)
class RatioSums:
    """One ratio over one population: units (counted), Σx, Σy, and the per-group totals."""
    n: int
    sx: float
    sy: float
    x: Any  # numpy arrays of length GROUPS
    y: Any


def unit_sums(con: EngineConnection, segments: Sequence[str], ratios: dict[str, tuple[str, str]],
              params: dict[str, Any]) -> dict[Population, dict[str, RatioSums]]:
    """Per population, per ratio name: Σx and Σy per random group of units (see the module contract).

    One pass over the requests groups them by (group, segment values, state: which of the ratios'
    conditions hold, as bits) — a hash aggregate of some hundred thousand cells instead of one per
    unit — then grouping sets roll the cells up to each group for everyone and for each value of each
    segment column, counting each condition from the states. A unit's slot bits are OR-ed on
    the way, so the units of every population are counted without grouping by unit."""
    import numpy as np

    from rollout_cli.stats.random_groups import linear_count

    k = len(segments)
    exprs = list(dict.fromkeys(e for pair in ratios.values() for e in pair))
    col = {e: f"e{i}" for i, e in enumerate(exprs)}
    probe = _run(con, "SELECT " + ", ".join(f"{e} AS {col[e]}" for e in exprs) + " FROM pairs LIMIT 0", params)
    flags = [e for e, d in zip(exprs, probe.description or []) if str(d[1]).upper() in ("BOOLEAN", "BOOL")]
    numbers = [e for e in exprs if e != "1" and e not in flags]
    # The conditions enter the cell's key as bits of one small integer (a request's "state"), so each
    # cell carries a count and the few sums only: a dozen conditions counted with FILTER cost more than
    # the ten-odd states per cell (docs/shadow.md, "How it reads the logs"). The roll-up counts each
    # condition back from the states.
    state = " + ".join(f"CASE WHEN {e} THEN {1 << j} ELSE 0 END" for j, e in enumerate(flags)) or "0"
    sums = "".join(f", sum(CAST({e} AS DOUBLE)) AS {col[e]}" for e in numbers)
    words, bits = _slot_bits(con)
    segs = "".join(f", s{i}" for i in range(k))
    sets = ", ".join(["(k)"] + [f"(k, s{i})" for i in range(k)])
    grouping = "".join(f", GROUPING(s{i}) AS g{i}" for i in range(k))
    rolled = ", ".join(("sum(n)" if e == "1" else f"sum(n) FILTER (WHERE (st_ >> {flags.index(e)}) & 1 = 1)"
                        if e in flags else f"sum({col[e]})") + f" AS {col[e]}" for e in exprs)
    sql = (f"WITH cells AS (SELECT unit & {GROUPS - 1} AS k{segs}, {state} AS st_, count(*) AS n{sums}, {words} "
           f"FROM (SELECT *, CAST((unit >> 56) & 255 AS INTEGER) AS slot_ FROM pairs) GROUP BY ALL) "
           f"SELECT k{segs}{grouping}, {rolled}, {bits} AS bits FROM cells GROUP BY GROUPING SETS ({sets})")
    cursor = _run(con, sql, params)
    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    cells: dict[Population, list[tuple[Any, ...]]] = {}
    for raw in rows:
        row = dict(zip(names, raw))
        population: Population = None
        for i, segment in enumerate(segments):
            if row[f"g{i}"] == 0:
                population = (segment, row[f"s{i}"])
        cells.setdefault(population, []).append(raw)
    index = {name: i for i, name in enumerate(names)}
    out: dict[Population, dict[str, RatioSums]] = {}
    for population, found in cells.items():
        groups = np.array([int(r[index["k"]]) for r in found])
        dense = {}
        for e in exprs:
            values = np.zeros(GROUPS)
            np.add.at(values, groups, [float(r[index[col[e]]] or 0.0) for r in found])
            dense[e] = values
        requests = float(dense["1"].sum()) if "1" in dense else math.inf
        units = min(linear_count(sum(int(r[index["bits"]] or 0) for r in found), GROUPS * 32 * SLOT_WORDS),
                    int(requests) if math.isfinite(requests) else 2 ** 62)
        out[population] = {name: RatioSums(units, float(dense[x].sum()), float(dense[y].sum()), dense[x], dense[y])
                           for name, (x, y) in ratios.items()}
    return out


def _slot_bits(con: EngineConnection) -> tuple[str, str]:
    """The cell's slot bits (`slot_`, 0-255) as aggregates, and their occupied count after the roll-up.
    DuckDB keeps them in one 256-bit string (`bitstring_agg`: a fifth less CPU for the whole pass than
    eight words); Spark has no bit strings, so there they are SLOT_WORDS 32-bit words. Same slots."""
    if getattr(con.engine, "name", "") == "duckdb":
        return f"bitstring_agg(slot_, 0, {32 * SLOT_WORDS - 1}) AS w0", "CAST(bit_count(bit_or(w0)) AS INTEGER)"
    words = ", ".join(f"bit_or(CASE WHEN slot_ >> 5 = {w} THEN CAST(1 AS BIGINT) << (slot_ & 31) ELSE 0 END) AS w{w}"
                      for w in range(SLOT_WORDS))
    return words, " + ".join(f"CAST(bit_count(bit_or(w{w})) AS INTEGER)" for w in range(SLOT_WORDS))


DIFF_QUANTILES = (0.5, 0.9, 0.99)
SCORE_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


SCORED = "paired AND b_pred IS NOT NULL AND c_pred IS NOT NULL"


def request_figures(con: EngineConnection, *, scores: bool, bins: int, flag: str | None, agree: str,
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


def _score_summary(con: EngineConnection, bins: int) -> dict[str, Any]:
    """Moments and extremes exactly; quantiles from log-spaced histograms (shadow.histograms), one
    GROUP BY with three grouping sets instead of sorting every score at 31 levels."""
    row = con.execute(
        "SELECT count(*), avg(c_pred - b_pred), max(abs(c_pred - b_pred)), corr(b_pred, c_pred), avg(b_pred), avg(c_pred),"
        f" min(b_pred), max(b_pred), min(c_pred), max(c_pred), min(abs(c_pred - b_pred)) FROM pairs WHERE {SCORED}").fetchone()
    assert row is not None
    step = histograms.SCORE_STEP
    sql = (f"SELECT GROUPING(bb), GROUPING(cb), bb, cb, db, count(*) FROM (SELECT {histograms.bin_sql('b_pred', step)} AS bb,"
           f" {histograms.bin_sql('c_pred', step)} AS cb, {histograms.bin_sql('abs(c_pred - b_pred)', step)} AS db"
           f" FROM pairs WHERE {SCORED}) GROUP BY GROUPING SETS ((bb), (cb), (db))")
    found: dict[str, dict[int, int]] = {"b": {}, "c": {}, "d": {}}
    for g_b, g_c, bb, cb, db, n in con.execute(sql).fetchall():
        side, key = ("b", bb) if g_b == 0 else ("c", cb) if g_c == 0 else ("d", db)
        found[side][int(key)] = int(n)
    edges_at = [k / bins for k in range(1, bins)]
    b_lo, b_hi, c_lo, c_hi, d_lo = row[6], row[7], row[8], row[9], row[10]
    base = histograms.quantiles(found["b"], SCORE_QUANTILES, step, b_lo, b_hi)
    cand = histograms.quantiles(found["c"], SCORE_QUANTILES, step, c_lo, c_hi)
    edges = histograms.quantiles(found["b"], edges_at, step, b_lo, b_hi)
    diffs = histograms.quantiles(found["d"], DIFF_QUANTILES, step, d_lo, row[2])
    n = int(row[0] or 0)
    return {"n": n, "mean_difference": row[1], "abs_difference_quantiles": diffs if n else [],
            "max_abs_difference": row[2], "pearson": row[3],
            "baseline_quantiles": base if n else [], "candidate_quantiles": cand if n else [],
            "edges": sorted({e for e in edges if e is not None}) if n else [],
            "baseline_mean": row[4], "candidate_mean": row[5]}


def _bin_expr(column: str, edges: Sequence[float]) -> str:
    """The bin index of `column` for sorted `edges`: (-inf, e0], (e0, e1], ..., (e_last, inf). A binary
    search written as nested CASEs: five comparisons a value for twenty bins, not ten on average (the
    same bin as the first edge at or above the value)."""

    def search(lo: int, hi: int) -> str:  # the bin among lo..hi; bin i ends at edge i, bin len(edges) at inf
        if lo == hi:
            return str(lo)
        mid = (lo + hi) // 2
        return f"CASE WHEN {column} <= $e{mid} THEN {search(lo, mid)} ELSE {search(mid + 1, hi)} END"

    return search(0, len(edges))


def score_bins(con: EngineConnection, edges: Sequence[float]) -> list[tuple[int, int, int]]:
    """(baseline bin, candidate bin, paired requests) on the baseline's edges."""
    params = {f"e{i}": float(e) for i, e in enumerate(edges)}
    return [(int(b), int(c), int(n)) for b, c, n in con.execute(
        f"SELECT {_bin_expr('b_pred', edges)} AS bb, {_bin_expr('c_pred', edges)} AS cb, count(*) FROM pairs "
        "WHERE paired AND b_pred IS NOT NULL AND c_pred IS NOT NULL GROUP BY ALL", params).fetchall()]


def load_buckets(con: EngineConnection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each arm's latency p50/p99 over the window (`baseline_latency`, `candidate_latency`), and per load
    bucket (1 = quietest minutes): minutes, requests per minute, each arm's p50/p99 and error count, and
    the paired log-latency ratio's n, mean and variance (per request).

    One statement: the requests grouped by minute and latency bin (a set per arm); the minutes ranked
    by their requests and cut into buckets by `ntile` (sizes differ by at most one, the larger first);
    then each bucket's figures and each arm's histogram per bucket — a thousand-odd rows instead of the
    two hundred thousand (minute, bin) cells, which cost more to fetch into Python than to roll up here
    (docs/shadow.md, "How it reads the logs"). The quantiles are read from the merged histograms
    (shadow.histograms), the window's from the buckets' summed."""
    step = histograms.LATENCY_STEP
    lr = "CASE WHEN b_lat > 0 AND c_lat > 0 THEN ln(c_lat / b_lat) END"
    rows = con.execute(
        "WITH cells AS (SELECT GROUPING(clb) AS g, minute, blb, clb, count(*) AS n,"
        " count(*) FILTER (WHERE b_err) AS berr, count(*) FILTER (WHERE paired) AS paired,"
        " count(*) FILTER (WHERE c_err) AS cerr, count(lr) AS lr_n, sum(lr) AS lr_s, sum(lr * lr) AS lr_ss"
        f" FROM (SELECT date_trunc('minute', ts) AS minute, {histograms.bin_sql('b_lat', step)} AS blb,"
        f" CASE WHEN paired THEN {histograms.bin_sql('c_lat', step)} END AS clb, b_err, paired, c_err, {lr} AS lr"
        " FROM pairs) GROUP BY GROUPING SETS ((minute, blb), (minute, clb))),"
        " per_minute AS (SELECT minute, sum(n) AS rpm, sum(berr) AS berr, sum(paired) AS paired, sum(cerr) AS cerr,"
        " sum(lr_n) AS lr_n, sum(lr_s) AS lr_s, sum(lr_ss) AS lr_ss FROM cells WHERE g = 1 GROUP BY minute),"
        f" ranked AS (SELECT *, ntile({LOAD_BUCKETS}) OVER (ORDER BY rpm, minute) AS bucket FROM per_minute)"
        " SELECT 0 AS side, bucket, CAST(NULL AS BIGINT) AS lb, count(*) AS minutes, min(rpm) AS min_load,"
        " max(rpm) AS max_load, sum(rpm) AS n, sum(berr) AS berr, sum(paired) AS paired, sum(cerr) AS cerr,"
        " sum(lr_n) AS lr_n, sum(lr_s) AS lr_s, sum(lr_ss) AS lr_ss FROM ranked GROUP BY bucket"
        " UNION ALL SELECT CASE WHEN c.g = 1 THEN 1 ELSE 2 END AS side, r.bucket,"
        " CASE WHEN c.g = 1 THEN c.blb ELSE c.clb END AS lb, NULL, NULL, NULL, sum(c.n), NULL, NULL, NULL, NULL,"
        " CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE) FROM cells c JOIN ranked r ON c.minute = r.minute"
        " WHERE (c.g = 1 AND c.blb IS NOT NULL) OR (c.g = 0 AND c.clb IS NOT NULL) GROUP BY 1, 2, 3").fetchall()
    per_bucket: dict[int, tuple[Any, ...]] = {}
    hists: dict[int, dict[int, list[tuple[int, int]]]] = {1: {}, 2: {}}
    whole: dict[int, dict[int, int]] = {1: {}, 2: {}}
    for row in rows:
        side, bucket = int(row[0]), int(row[1])
        if side == 0:
            per_bucket[bucket] = row
            continue
        b, n = int(row[2]), int(row[6])
        hists[side].setdefault(bucket, []).append((b, n))
        whole[side][b] = whole[side].get(b, 0) + n
    levels = (0.5, 0.99)
    overall = {"baseline_latency": hist_or_none(whole[1], levels, step),
               "candidate_latency": hist_or_none(whole[2], levels, step)}
    buckets = []
    for bucket in sorted(per_bucket):
        _, _, _, minutes, low, high, load, berr, paired, cerr, n, total, squares = per_bucket[bucket]
        n, total, squares = int(n or 0), total or 0.0, squares or 0.0
        buckets.append({"bucket": bucket, "minutes": int(minutes), "min_load": int(low), "max_load": int(high),
                        "requests": int(load), "baseline_latency": hist_or_none(hists[1].get(bucket), levels, step),
                        "candidate_latency": hist_or_none(hists[2].get(bucket), levels, step),
                        "baseline_errors": int(berr or 0), "paired": int(paired or 0),
                        "candidate_errors": int(cerr or 0),
                        "ratio_n": n, "ratio_mean": total / n if n else None,
                        "ratio_var": (squares - total * total / n) / (n - 1) if n and n > 1 else None})
    return overall, buckets


def hist_or_none(counts: Mapping[int, int] | list[tuple[int, int]] | None, levels: Sequence[float], step: float) -> list[Any] | None:
    return histograms.quantiles(counts, levels, step) if counts else None


def confusion(con: EngineConnection) -> Any:
    """Paired label answers: a polars frame (baseline, candidate, n)."""
    return _frame(con.execute("SELECT b_pred AS baseline, c_pred AS candidate, count(*) AS n FROM pairs WHERE paired "
                       "GROUP BY ALL ORDER BY n DESC, baseline, candidate"))


def examples(con: EngineConnection, segments: Sequence[str], limit: int) -> Any:
    """`limit` disagreeing requests, chosen by the hash of the request id (deterministic, spread out, the
    same on every engine: in the order of the hash's high, then low 32 bits, data/stable_hash.py)."""
    segs = "".join(f", s{i} AS {_alias(i)}" for i in range(len(segments)))
    return _frame(con.execute(
        f"SELECT drid AS request_id, ts, b_pred AS baseline, c_pred AS candidate{segs} FROM pairs "
        f"WHERE drid IS NOT NULL ORDER BY (stable_hash(drid) >> 32) & 4294967295, stable_hash(drid) & 4294967295, "
        f"drid LIMIT {int(limit)}"))


def _frame(cursor: FetchedRows) -> Any:
    """The (small) result as a polars frame."""
    import polars as pl

    names = [d[0] for d in cursor.description or []]
    return pl.DataFrame(cursor.fetchall(), schema=names, orient="row", infer_schema_length=None)


def _alias(i: int) -> str:
    return f"segment_{i}"
