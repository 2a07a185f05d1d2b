"""What `stable_hash` (DuckDB's hash in Spark's Python workers) costs the shadow comparison on Spark.

Usage: python benchmarks/bench_spark_shadow.py [--requests 1000000] [--repeat 2] [--master local[2]]

The logs and plan of benchmarks/bench_shadow.py (N baseline requests over 24 hours, the
candidate's answer to 99% of them, 1M users, two segments, two features). In ONE process and one
Spark session (its start-up reported apart), alternating:
- `compare_shadow` on Spark as built: the units' random groups and the examples' order from
  `stable_hash`, computed with DuckDB in Spark's Python workers (data/stable_hash.py);
- the same comparison with `stable_hash` rendered as Spark's own `xxhash64` (the engine's native
  64-bit hash — what the comparison did before; its figures then differ from DuckDB's);
- the hash alone over the N baseline rows: `sum(stable_hash(user_id) & 1)` against `xxhash64`;
- `compare_shadow` on DuckDB (the default engine), whose figures the first must equal.
Results to benchmarks/results/spark_shadow.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
RESULTS = HERE / "results" / "spark_shadow.md"

from bench_shadow import generate, plan_text

CONF = {"spark.sql.shuffle.partitions": "8", "spark.driver.memory": "3g"}
NOW = datetime(2026, 1, 6, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    from rollout_cli.data import transpile
    from rollout_cli.data.spark import spark_session
    from rollout_cli.plan import load_plan
    from rollout_cli.plan.model import SparkSpec
    from rollout_cli.shadow import compare_shadow

    folder = HERE / "data" / f"shadow-{args.requests}"
    generate(folder, args.requests)
    (folder / "plan.yaml").write_text(plan_text(folder))
    plan = load_plan(folder / "plan.yaml")
    spec = SparkSpec(master=args.master, conf=CONF)
    spark_plan = dataclasses.replace(plan, data=dataclasses.replace(plan.data, engine="spark", spark=spec))

    began = time.perf_counter()
    session = spark_session(spec)
    startup = time.perf_counter() - began
    session.read.parquet(str(folder / "predictions.parquet")).createOrReplaceTempView("bench_predictions")
    from rollout_cli.data import stable_hash

    stable_hash.register(session)
    built = transpile.spark_statement

    def native(sql: str, params: Any, tables: Any = None) -> transpile.SparkStatement:
        statement = built(sql, params, tables)
        return dataclasses.replace(statement, sql=re.sub(r"\bSTABLE_HASH\(", "XXHASH64(", statement.sql, flags=re.IGNORECASE),
                                   stable_hash=False)

    def with_native_hash() -> Any:
        transpile.spark_statement = native  # type: ignore[assignment]
        try:
            return compare_shadow(spark_plan, now=NOW, examples=10)
        finally:
            transpile.spark_statement = built  # type: ignore[assignment]

    base = "FROM bench_predictions WHERE arm = 'baseline' AND served"
    work: dict[str, Callable[[], Any]] = {
        "stable": lambda: compare_shadow(spark_plan, now=NOW, examples=10),
        "native": with_native_hash,
        "hash_stable": lambda: session.sql(f"SELECT sum(stable_hash(user_id) & 1) {base}").collect(),
        "hash_native": lambda: session.sql(f"SELECT sum(xxhash64(user_id) & 1) {base}").collect(),
        "duckdb": lambda: compare_shadow(plan, now=NOW, examples=10),
    }
    times: dict[str, list[float]] = {k: [] for k in work}
    results: dict[str, Any] = {}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat + 1):  # the first round warms the JVM and the workers up and is not counted
        for name, run in work.items():
            t = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - t)
    measured = {k: v[1:] for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in measured.items()}
    duck, on, old = results["duckdb"], results["stable"], results["native"]
    units = [(name, r.agreement.units) for name, r in (("duckdb", duck), ("spark", on), ("xxhash64", old))]
    bounds = [(name, r.agreement.interval) for name, r in (("duckdb", duck), ("spark", on), ("xxhash64", old))]
    same = on.examples == duck.examples and on.agreement.units == duck.agreement.units
    per_million = (med["hash_stable"] - med["hash_native"]) / (args.requests / 1e6)
    walls = {k: [round(x, 2) for x in v] for k, v in measured.items()}
    lines = [
        "# The shadow comparison on Spark: `stable_hash` (DuckDB's hash in the Python workers) against Spark's own",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, pyspark {session.version}, master `{args.master}`, configuration {CONF}; "
        f"`python benchmarks/bench_spark_shadow.py --requests {args.requests} --repeat {args.repeat}`. One process, "
        f"one Spark session (its start-up: {startup:.1f} s, not in the figures); a warm-up round, then the median of "
        f"{args.repeat} alternating rounds. 1-minute load average before -> after: {load_before:.1f} -> "
        f"{os.getloadavg()[0]:.1f} on 2 cores shared with other work: wall times are inflated and scattered; "
        "the ratios come from the same rounds.",
        "",
        f"Logs: benchmarks/bench_shadow.py's, {args.requests:,} baseline requests (about {2 * args.requests:,} rows).",
        "",
        "| | wall (runs) | ratio |",
        "| --- | --- | ---: |",
        f"| `compare_shadow` on Spark, `stable_hash` in the Python workers (as built) | {med['stable']:.2f} s "
        f"({walls['stable']}) | {med['stable'] / med['native']:.2f}x |",
        f"| `compare_shadow` on Spark, `xxhash64` in its place (the engine's own hash) | {med['native']:.2f} s "
        f"({walls['native']}) | 1.00x |",
        f"| `compare_shadow` on DuckDB (the default) | {med['duckdb']:.2f} s ({walls['duckdb']}) "
        f"| {med['duckdb'] / med['native']:.2f}x |",
        f"| the hash alone over the baseline rows: `stable_hash(user_id)` | {med['hash_stable']:.2f} s "
        f"({walls['hash_stable']}) | {med['hash_stable'] / med['hash_native']:.2f}x |",
        f"| the hash alone: `xxhash64(user_id)` | {med['hash_native']:.2f} s ({walls['hash_native']}) | 1.00x |",
        "",
        f"`stable_hash` costs {per_million:.2f} s of wall time per million hashed ids here (2 cores). The same units "
        f"and examples on Spark (`stable_hash`) as on DuckDB: {same}. Units counted: {units}; the agreement's "
        f"interval: {bounds}.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print(RESULTS.read_text())
    session.stop()


if __name__ == "__main__":
    main()
