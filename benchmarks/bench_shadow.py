"""How long `rollout shadow` takes next to the bare DuckDB query any shadow comparison must run.

Usage: python benchmarks/bench_shadow.py [--requests 10000000] [--repeat 3] [--reference DIR]

Data (generated once into benchmarks/data/shadow-N/, which git ignores, by DuckDB itself): N
baseline requests served over 24 hours with busy and quiet hours, the candidate's unserved answer
to 99% of them (3% far from the baseline's score), 1M users, segments country and platform,
features price and query_length, and a 50,000-row training reference. Then, alternating, in fresh
processes:
- `rollout shadow PLAN --json --examples 10` (process start to exit): every figure of
  docs/shadow.md and four shadow guards (agreement per segment, coverage, score_shift, paired
  latency), and
- the bare query: the pairing join (baseline served answers LEFT JOIN candidate unserved answers on
  the request id), the paired and agreeing counts, and the two score histograms — in a
  `python -c` process that imports duckdb and runs it.
- with `--reference DIR` (an earlier tree of this repository, e.g. unpacked by `git archive`), the
  same `rollout shadow` command run from that tree: the "before" of a change, measured in the same
  run as the "after" and the bare query.
Wall time, CPU time and peak memory (the child's maximum resident set, from wait4) of each;
results to benchmarks/results/shadow.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "shadow.md"

PLAN = """version: 1
name: bench-shadow
description: shadow benchmark
owner: bench
models: {baseline: ranker-v41, candidate: ranker-v42}
router: {adapter: file, options: {path: router.json}}
data:
  predictions: predictions.parquet
  training: training.parquet
  columns: {unit_id: user_id}
segments: [country, platform]
metrics:
  agreement: {kind: agreement, tolerance: 0.05}
  coverage: {kind: coverage, timeout: 0.5s}
  shift: {kind: score_shift}
  latency: {kind: mean, column: latency_ms}
  latency_p99: {kind: quantile, column: latency_ms, q: 0.99}
guards:
  - {metric: latency_p99, max: 250}
stages:
  - name: shadow
    shadow: 100%
    guards:
      - {metric: agreement, min: 90%, per_segment: true}
      - {metric: coverage, min: 95%}
      - {metric: shift, max: 0.1}
      - {metric: latency, max_increase: 10%}
  - {name: full, traffic: 100%}
drift:
  features: [price, query_length]
teams:
  oncall: [alice]
rollback:
  authority: [team:oncall]
  max_duration: 20m
  steps:
    - route: baseline
"""


def plan_text(root: Path) -> str:
    """PLAN with its logs and router in `root`, through the project's one plan writer."""
    from rollout_cli.plan.document import plan_yaml, yaml_value

    doc = yaml_value(PLAN)
    doc["router"]["options"]["path"] = f"{root}/router.json"
    doc["data"].update(predictions=f"{root}/predictions.parquet", training=f"{root}/training.parquet")
    return plan_yaml(doc)

GENERATE = """
COPY (
  WITH r AS (
    SELECT i, TIMESTAMP '2026-01-05' + to_microseconds(CAST(86400e6 * (i / $n
                 + 0.15 * sin(6.283 * i / $n * 4) / 25.13) AS BIGINT)) AS ts,
           (hash(i) % 1000000) / 1e6 AS score, hash(i * 7 + 1) % 100 AS roll
    FROM range($n) t(i)
  )
  SELECT 'r' || i AS request_id, 'u' || (hash(i * 3) % 1000000) AS user_id, ts, 'baseline' AS arm, true AS served,
         score AS prediction, 40 + (hash(i * 5) % 4000) / 100.0 AS latency_ms, roll = 0 AND hash(i) % 5 = 0 AS error,
         ['US', 'DE', 'GB', 'FR', 'IN', 'BR'][CAST(1 + hash(i * 11) % 6 AS BIGINT)] AS country,
         ['android', 'ios', 'web'][CAST(1 + hash(i * 13) % 3 AS BIGINT)] AS platform,
         (hash(i * 17) % 50000) / 100.0 AS price, hash(i * 19) % 12 AS query_length
  FROM r
  UNION ALL
  SELECT 'r' || i, 'u' || (hash(i * 3) % 1000000), ts + INTERVAL 1 MILLISECOND, 'candidate', false,
         CASE WHEN roll < 3 THEN 1 - score ELSE score + (hash(i * 23) % 1000) / 1e5 - 0.005 END,
         42 + (hash(i * 29) % 4000) / 100.0, roll = 1 AND hash(i) % 5 = 0,
         ['US', 'DE', 'GB', 'FR', 'IN', 'BR'][CAST(1 + hash(i * 11) % 6 AS BIGINT)], ['android', 'ios', 'web'][CAST(1 + hash(i * 13) % 3 AS BIGINT)],
         (hash(i * 17) % 50000) / 100.0, hash(i * 19) % 12
  FROM r WHERE roll <> 99
) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)
"""

BARE = """
import duckdb, sys
path = sys.argv[1]
con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
con.execute("SET enable_progress_bar = false")
edges = [k / 20 for k in range(1, 20)]
row = con.execute('''
WITH b AS (SELECT request_id, prediction FROM read_parquet($path) WHERE arm = 'baseline' AND served),
     c AS (SELECT request_id, prediction FROM read_parquet($path) WHERE arm = 'candidate' AND NOT served),
     p AS (SELECT b.prediction AS bp, c.prediction AS cp FROM b LEFT JOIN c USING (request_id))
SELECT count(*), count(cp), count(*) FILTER (WHERE abs(cp - bp) <= 0.05),
       histogram(bp, $edges), histogram(cp, $edges) FROM p''', {"path": path, "edges": edges}).fetchone()
print(row[0], row[1], row[2])
"""


def generate(folder: Path, requests: int) -> float:
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "predictions.parquet").is_file():
        return 0.0
    started = time.perf_counter()
    con = duckdb.connect()
    tmp = folder / "predictions.parquet.tmp"
    con.execute(GENERATE.format(path=str(tmp).replace("'", "''")), {"n": requests})
    con.execute(f"COPY (SELECT (hash(i * 17) % 40000) / 100.0 AS price, hash(i * 19) % 10 AS query_length "
                f"FROM range(50000) t(i)) TO '{folder / 'training.parquet'}' (FORMAT parquet)")
    con.close()
    tmp.rename(folder / "predictions.parquet")
    return time.perf_counter() - started


def measure(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> dict[str, float]:
    """One fresh process. `python -m` puts its working folder first on sys.path: `cwd` picks the tree."""
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    out = child.stdout.read().decode() if child.stdout else ""
    err = child.stderr.read().decode() if child.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 3):
        raise SystemExit(f"{argv[:4]} failed ({code}): {err[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024, "out": out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", type=Path, help="an earlier tree to run `rollout shadow` from, for comparison")
    args = parser.parse_args()
    folder = HERE / "data" / f"shadow-{args.requests}"
    generated = generate(folder, args.requests)
    (folder / "plan.yaml").write_text(plan_text(folder))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ROLLOUT_NOW": "2026-01-06T00:00:00Z"}
    load_before = os.getloadavg()[0]
    command = [sys.executable, "-m", "rollout_cli", "shadow", str(folder / "plan.yaml"), "--json", "--examples", "10"]
    runs: dict[str, list[dict[str, float]]] = {"shadow": [], "bare": []}
    if args.reference:
        runs["before"] = []
    for _ in range(args.repeat):
        runs["shadow"].append(measure(command, env))
        runs["bare"].append(measure([sys.executable, "-c", BARE, str(folder / "predictions.parquet")], env))
        if args.reference:
            tree = args.reference.resolve()
            before = measure(command, {**env, "PYTHONPATH": str(tree)}, cwd=tree)
            counts = ("baseline_requests", "paired", "missing", "late", "errored")
            old, new = (json.loads(r["out"])["coverage"] for r in (before, runs["shadow"][-1]))
            if [old[k] for k in counts] != [new[k] for k in counts]:
                raise SystemExit("the reference tree counts other pairs: not the same comparison")
            runs["before"].append(before)
    load_after = os.getloadavg()[0]
    doc = json.loads(runs["shadow"][-1]["out"])
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("wall", "cpu")} for k, v in runs.items()}
    peak = {k: max(r["rss_mb"] for r in v) for k, v in runs.items()}
    ratio, cpu_ratio = med["shadow"]["wall"] / med["bare"]["wall"], med["shadow"]["cpu"] / med["bare"]["cpu"]
    walls = {k: ", ".join(f"{r['wall']:.2f}" for r in v) for k, v in runs.items()}
    before = ""
    if args.reference:
        b = med["before"]
        before = f"""
The same command from the earlier tree ({args.reference.name}), in the same run:

| | before | after (`rollout shadow` above) | after / before | before / bare |
| --- | ---: | ---: | ---: | ---: |
| wall time (median; runs) | {b['wall']:.2f} s ({walls['before']}) | {med['shadow']['wall']:.2f} s | \
{med['shadow']['wall'] / b['wall']:.2f}x | {b['wall'] / med['bare']['wall']:.2f}x |
| CPU time (median) | {b['cpu']:.2f} s | {med['shadow']['cpu']:.2f} s | {med['shadow']['cpu'] / b['cpu']:.2f}x | \
{b['cpu'] / med['bare']['cpu']:.2f}x |
| peak memory | {peak['before']:.0f} MB | {peak['shadow']:.0f} MB | {peak['shadow'] / peak['before']:.2f}x | \
{peak['before'] / peak['bare']:.2f}x |
"""
    text = f"""# `rollout shadow` against the bare pairing query

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, Python \
{platform.python_version()}; `python benchmarks/bench_shadow.py --requests {args.requests} --repeat {args.repeat}\
{f' --reference {args.reference.name}' if args.reference else ''}`. \
Median of {args.repeat} alternating runs, each a fresh process; CPU is user + system time; peak memory is the \
child's maximum resident set. 1-minute load average {load_before:.1f} -> {load_after:.1f} (2 cores shared with \
other work: compare the ratios, measured in the same run).

| | `rollout shadow --json` | bare query | ratio |
| --- | ---: | ---: | ---: |
| wall time (median; runs) | {med['shadow']['wall']:.2f} s ({walls['shadow']}) | {med['bare']['wall']:.2f} s \
({walls['bare']}) | **{ratio:.2f}x** |
| CPU time (median) | {med['shadow']['cpu']:.2f} s | {med['bare']['cpu']:.2f} s | {cpu_ratio:.2f}x |
| peak memory | {peak['shadow']:.0f} MB | {peak['bare']:.0f} MB | {peak['shadow'] / peak['bare']:.2f}x |

{args.requests:,} baseline requests, {doc['coverage']['paired']:,} paired, agreement \
{100 * doc['agreement']['value']:.2f}%, {len(doc['segment_rows'])} segment values, {len(doc['checks'])} guard checks, \
verdict {doc['verdict']}. Goal: within 1.5x of the bare query. Data generated in {generated:.1f} s (0 = reused).
{before}"""
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
