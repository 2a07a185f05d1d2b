"""`data.engine: spark` in local mode next to a bare Spark query doing the minimum work, with DuckDB beside.

Usage: python benchmarks/bench_spark.py [--units 1000000] [--repeat 2] [--master local[2]]

The logs and plan of benchmarks/bench_evaluate.py (simulated parquet in benchmarks/data/, 50/50,
segments country and platform, four guards). In ONE process and one Spark session (started once,
its start-up reported apart), alternating:
- `evaluate_stage` on the plan with `engine: spark` (every statement of an evaluation: the light
  scan, the main statement, the data-quality counts; only aggregated rows collected);
- the bare Spark query: per-unit first exposure, the outcome join within the window, arm ×
  segment sums (GROUPING SETS) and each arm's exact p99 — written by hand for Spark SQL;
- `evaluate_stage` on the same plan with DuckDB (the default engine).
Also the rows and values each evaluation brought back to the CLI (data/engine.py counts them).
Results to benchmarks/results/spark.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
RESULTS = HERE / "results" / "spark.md"

from bench_evaluate import START, generate

CONF = {"spark.sql.shuffle.partitions": "8", "spark.driver.memory": "3g"}

BARE = """
WITH served AS (
  SELECT user_id, ts, arm, country, platform, latency_ms, error FROM bare_predictions WHERE served
), units AS (
  SELECT user_id, min_by(arm, ts) AS arm, min(ts) AS first_ts, max(ts) AS last_ts,
         min_by(country, ts) AS country, min_by(platform, ts) AS platform,
         count(*) AS requests, sum(CAST(error AS INT)) AS errors
  FROM served GROUP BY user_id
), bought AS (
  SELECT u.user_id, 1 AS converted, sum(o.value) AS revenue
  FROM units u JOIN bare_outcomes o
    ON o.user_id = u.user_id AND o.event = 'purchase' AND o.ts >= u.first_ts AND o.ts <= u.last_ts + INTERVAL 1 HOUR
  GROUP BY u.user_id
)
SELECT arm, country, platform, count(*), sum(coalesce(converted, 0)), sum(coalesce(revenue, 0)),
       sum(power(coalesce(revenue, 0), 2)), sum(errors), sum(requests), sum(errors * requests), sum(power(requests, 2))
FROM units LEFT JOIN bought USING (user_id)
GROUP BY GROUPING SETS ((arm), (arm, country), (arm, platform))
"""
BARE_P99 = "SELECT arm, percentile(latency_ms, 0.99) FROM bare_predictions WHERE served GROUP BY arm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    from rollout_cli.data.spark import SparkEngine, spark_session
    from rollout_cli.evaluation.stage import evaluate_stage
    from rollout_cli.plan import load_plan
    from rollout_cli.plan.model import SparkSpec

    root = generate(args.units)
    plan = load_plan(root / "plan.yaml")
    spec = SparkSpec(master=args.master, conf=CONF)
    spark_plan = dataclasses.replace(plan, data=dataclasses.replace(plan.data, engine="spark", spark=spec))
    stage, until = plan.stage("ramp-50"), START + timedelta(hours=6)

    began = time.perf_counter()
    session = spark_session(spec)
    startup = time.perf_counter() - began
    session.read.parquet(str(root / "predictions*.parquet")).createOrReplaceTempView("bare_predictions")
    session.read.parquet(str(root / "outcomes*.parquet")).createOrReplaceTempView("bare_outcomes")

    returned: list[tuple[int, int]] = []
    run = SparkEngine.run

    def counting(self: SparkEngine, sql: str, params: object) -> object:
        names, rows = run(self, sql, params)  # type: ignore[arg-type]
        returned.append((len(rows), len(rows) * len(names)))
        return names, rows

    SparkEngine.run = counting  # type: ignore[method-assign]

    def bare() -> int:
        return len(session.sql(BARE).collect()) + len(session.sql(BARE_P99).collect())

    times: dict[str, list[float]] = {"spark": [], "bare": [], "duckdb": []}
    verdicts = set()
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat + 1):  # the first round warms the JVM up and is not counted
        returned.clear()
        for name, work in (("spark", lambda: evaluate_stage(spark_plan, stage, until=until, now=until)),
                           ("bare", bare), ("duckdb", lambda: evaluate_stage(plan, stage, until=until, now=until))):
            t = time.perf_counter()
            result = work()
            times[name].append(time.perf_counter() - t)
            if name != "bare":
                verdicts.add((name, result.verdict.value))
    rows_back, values_back = sum(r for r, _ in returned), sum(v for _, v in returned)
    measured = {k: v[1:] for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in measured.items()}
    lines = [
        "# `data.engine: spark` (local mode) against a bare Spark query, DuckDB beside",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, pyspark {session.version}, master `{args.master}`, configuration {CONF}; "
        f"`python benchmarks/bench_spark.py --units {args.units} --repeat {args.repeat}`. One process, one Spark "
        f"session (its start-up: {startup:.1f} s, not in the figures); a warm-up round, then the median of "
        f"{args.repeat} alternating rounds. 1-minute load average before -> after: {load_before:.1f} -> "
        f"{os.getloadavg()[0]:.1f} on 2 cores shared with other work: wall times are inflated and scattered; "
        "the ratios come from the same rounds.",
        "",
        f"Logs: benchmarks/bench_evaluate.py's, {args.units:,} units (about {2 * args.units:,} prediction rows), "
        "50/50, segments country (6 values) and platform (3); plan stage ramp-50 with four guards.",
        "",
        "| | wall (runs) | ratio to the bare Spark query |",
        "| --- | --- | ---: |",
        f"| evaluate on Spark (`engine: spark`) | {median['spark']:.2f} s ({[round(x, 2) for x in measured['spark']]}) "
        f"| {median['spark'] / median['bare']:.2f}x |",
        f"| bare Spark query (first exposure, outcome join, arm x segment sums, p99) | {median['bare']:.2f} s "
        f"({[round(x, 2) for x in measured['bare']]}) | 1.00x |",
        f"| evaluate on DuckDB (the default) | {median['duckdb']:.2f} s ({[round(x, 2) for x in measured['duckdb']]}) "
        f"| {median['duckdb'] / median['bare']:.2f}x |",
        "",
        f"Verdicts: {sorted(verdicts)}. Brought back to the CLI by one Spark evaluation: {rows_back} rows, "
        f"{values_back} values — the cells (arms x segment values) times the statistics, whatever the number of "
        "units (tests/spark/test_parity.py asserts the same count at 1,000 and 4,000 units).",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print(RESULTS.read_text())
    session.stop()


if __name__ == "__main__":
    main()
