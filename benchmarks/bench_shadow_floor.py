"""The floor under any `rollout shadow`: what it must spend before computing a single figure.

Usage: python benchmarks/bench_shadow_floor.py [--requests 10000000] [--repeat 3]

Same data as bench_shadow.py (generated once into benchmarks/data/shadow-N/). Alternating, in
fresh processes, CPU time (user + system) and peak memory of:
- `bare`: the bare query of bench_shadow.py (the pairing join, the paired and agreeing counts, two
  score histograms), in a process that imports DuckDB only;
- `imports`: a process importing DuckDB, numpy, polars and scipy.special — what `rollout shadow`
  loads to compute and show its figures — and nothing else;
- `stream`: those imports, the light scan of the window, the listing of the segment values, and
  the pairing join with the narrowest projection the figures could read — the unit's random group
  and counting slot as small integers, the two segment values as one small integer code, the
  request's conditions (paired, agreeing, late, errored, unusual input, latencies present) as bits
  of one byte, the minute as an integer, the two scores and latencies as doubles (sums, moments and
  the joint score bins need them exact), the ids of disagreeing and unanswered requests — consumed
  by one sum per column, nothing written;
- `table`: the same, written into a temporary table (what every later grouped pass would read).
The unusual-input flag here is the features' range test only (the thin-bin test left out), so the
floor is if anything low. Results to benchmarks/results/shadow_floor.md. Figures and what they mean:
docs/shadow.md, "How it reads the logs, and how fast".
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from datetime import UTC, datetime

# run as a script, this folder is first on sys.path: the same data, bare query and measurement
from bench_shadow import BARE, HERE, generate, measure

RESULTS = HERE / "results" / "shadow_floor.md"

CHILD = r'''
import sys
import duckdb
import numpy, polars, scipy.special  # noqa: F401 (what rollout shadow imports for its figures)
path, mode = sys.argv[1], sys.argv[2]
if mode == "imports":
    raise SystemExit
con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
con.execute("SET enable_progress_bar = false")
until = "2026-01-06 00:00:00"
src = "read_parquet($path)"
con.execute(f"""SELECT count(*) FILTER (WHERE arm = 'baseline' AND served AND iw),
  count(*) FILTER (WHERE arm = 'candidate' AND NOT served AND iw), count(*) FILTER (WHERE arm = 'candidate' AND served AND iw),
  count(prediction) FILTER (WHERE arm = 'baseline' AND served AND iw), count(*) FILTER (WHERE arm = 'candidate' AND NOT served)
  FROM (SELECT arm, served, prediction, ts <= TIMESTAMP '{until}' AS iw FROM {src})""", {"path": path}).fetchall()
values = con.execute(f"""SELECT list(DISTINCT country), list(DISTINCT platform) FROM {src}
  WHERE arm = 'baseline' AND served AND ts <= TIMESTAMP '{until}'""", {"path": path}).fetchone()
lo_p, hi_p, lo_q, hi_q = con.execute("SELECT min(price), max(price), min(query_length), max(query_length) "
                                     "FROM read_parquet($t)", {"t": sys.argv[3]}).fetchone()
narrow = f"""SELECT CASE WHEN c.paired AND NOT (abs(c_pred - b_pred) <= 0.05) THEN CAST(b.rid AS VARCHAR) END AS drid,
       CASE WHEN c.paired IS NULL THEN CAST(b.rid AS VARCHAR) END AS urid,
       CAST(b.unit & 1023 AS SMALLINT) AS k, CAST((b.unit >> 56) & 255 AS UTINYINT) AS slot, b.seg, b.minute,
       CAST((CASE WHEN c.paired THEN 1 ELSE 0 END) + (CASE WHEN c.paired AND abs(c_pred - b_pred) <= 0.05 THEN 2 ELSE 0 END)
         + (CASE WHEN c.paired AND coalesce(c_lat > 500, false) THEN 4 ELSE 0 END)
         + (CASE WHEN c.paired AND coalesce(c_err, false) THEN 8 ELSE 0 END) + (CASE WHEN coalesce(b_err, false) THEN 16 ELSE 0 END)
         + (CASE WHEN unusual THEN 32 ELSE 0 END) + (CASE WHEN b_lat IS NOT NULL THEN 64 ELSE 0 END)
         + (CASE WHEN c.paired AND c_lat IS NOT NULL THEN 128 ELSE 0 END) AS UTINYINT) AS st,
       b.b_pred, b.b_lat, c.c_pred, c.c_lat
FROM (
  SELECT request_id AS rid, hash(user_id) AS unit, CAST(epoch(ts) // 60 AS INTEGER) AS minute,
         CAST(prediction AS DOUBLE) AS b_pred, CAST(latency_ms AS DOUBLE) AS b_lat, error AS b_err,
         coalesce(price < $lo_p OR price > $hi_p OR query_length < $lo_q OR query_length > $hi_q, false) AS unusual,
         CAST(coalesce(list_position($v0, country), 0) * 16 + coalesce(list_position($v1, platform), 0) AS SMALLINT) AS seg
  FROM {src} WHERE arm = 'baseline' AND served AND ts <= TIMESTAMP '{until}'
) b FULL JOIN (
  SELECT request_id AS rid, CAST(prediction AS DOUBLE) AS c_pred, CAST(latency_ms AS DOUBLE) AS c_lat, error AS c_err,
         true AS paired
  FROM {src} WHERE arm = 'candidate' AND NOT served
) c ON b.rid = c.rid"""
params = {"path": path, "v0": values[0], "v1": values[1], "lo_p": lo_p, "hi_p": hi_p, "lo_q": lo_q, "hi_q": hi_q}
if mode == "stream":
    con.execute("SELECT count(drid), count(urid), sum(k), sum(slot), sum(seg), sum(minute), sum(st), sum(b_pred), "
                f"sum(b_lat), sum(c_pred), sum(c_lat) FROM ({narrow})", params).fetchall()
else:
    con.execute(f"CREATE TEMP TABLE pairs AS {narrow}", params)
'''

MODES = ("bare", "imports", "stream", "table")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = HERE / "data" / f"shadow-{args.requests}"
    generate(folder, args.requests)
    data, training = str(folder / "predictions.parquet"), str(folder / "training.parquet")
    env = dict(os.environ)
    load_before = os.getloadavg()[0]
    runs: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    for _ in range(args.repeat):
        for mode in MODES:
            code = BARE if mode == "bare" else CHILD
            runs[mode].append(measure([sys.executable, "-c", code, data, mode, training], env))
    load_after = os.getloadavg()[0]
    cpu = {m: statistics.median(r["cpu"] for r in v) for m, v in runs.items()}
    peak = {m: max(r["rss_mb"] for r in v) for m, v in runs.items()}
    each = {m: ", ".join(f"{r['cpu']:.2f}" for r in v) for m, v in runs.items()}
    label = {"bare": "bare query (DuckDB imported)", "imports": "imports only (DuckDB, numpy, polars, scipy.special)",
             "stream": "imports + light scan + segment values + narrow join, consumed",
             "table": "imports + light scan + segment values + narrow join, written to a table"}
    rows = "\n".join(f"| {label[m]} | {cpu[m]:.2f} s ({each[m]}) | {peak[m]:.0f} MB | {cpu[m] / cpu['bare']:.2f}x |"
                     for m in MODES)
    text = f"""# The floor under `rollout shadow` (no figure computed)

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python benchmarks/bench_shadow_floor.py --requests \
{args.requests} --repeat {args.repeat}`: fresh processes, alternating, CPU time (user + system), median of \
{args.repeat}; 1-minute load average {load_before:.1f} -> {load_after:.1f} (2 cores shared with other work: compare \
the ratios, measured in the same run). The goal of 1.5x the bare query is {1.5 * cpu['bare']:.2f} s here.

| process | CPU (median; runs) | peak memory | / bare |
| --- | ---: | ---: | ---: |
{rows}
"""
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
