"""How long `rollout export` takes, and how much memory, next to a bare COPY of the same query.

Usage: python benchmarks/bench_export.py [--requests 2000000 20000000] [--repeat 2] [--before DIR]

--before DIR: also measure the code in DIR (a copy of an earlier version of the repository, e.g.
`git archive COMMIT | tar -x -C DIR`): its export and its own bare COPY, alternating with this
version's in the same run, so the change is compared under the same load.

For each size: prediction logs of that many requests (one served answer each; 4 requests per
unit on average; a 50/50 split; segments country and platform) and purchase outcomes for about
one unit in five, generated once by DuckDB into benchmarks/data/export/ (git ignores it); a
state store whose audit trail says the rollout started in shadow and advanced to ramp-50
(written through the store's API, as the controller would record it). Then, alternating, in
fresh processes:
- `rollout export PLAN --out FILE.parquet --force` (process start to exit: plan, state, the
  dictionary's DESCRIBE, the COPY under the export's memory limit, the rename), and
- the bare COPY: the same statement (built by rollout_cli.export.query) COPY'd to parquet on a
  default DuckDB connection — no memory limit, no spill folder, no temporary name, no dictionary.
Wall time and peak memory (maximum resident set of the child, from wait4) of each; results to
benchmarks/results/export.md. Goals: peak memory under 1 GB at 20M requests; wall time within
1.5x of the bare COPY.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "export"
RESULTS = HERE / "results" / "export.md"
START = datetime(2026, 1, 5, tzinfo=UTC)

PLAN = """version: 1
name: bench-export
models: {baseline: ranker-v41, candidate: ranker-v42}
router: {adapter: file, options: {path: router.json}}
data:
  predictions: predictions.parquet
  outcomes: outcomes.parquet
  columns: {unit_id: user_id}
segments: [country, platform]
metrics:
  conversion: {kind: proportion, event: purchase, window: 1h}
  revenue:    {kind: mean, event: purchase, window: 1h}
  latency_p99: {kind: quantile, column: latency_ms, q: 0.99}
guards:
  - {metric: conversion, max_drop: 2%, per_segment: true}
stages:
  - {name: shadow, shadow: 100%, guards: [{metric: latency_p99, max: 250}]}
  - {name: ramp-50, traffic: 50%}
  - {name: full, traffic: 100%}
teams:
  oncall: [alice]
rollback:
  authority: [team:oncall]
  max_duration: 5m
  steps: [{route: baseline}, {verify: router}]
"""


def plan_text(root: Path, n: int) -> str:
    """PLAN for `n` units with its logs and router in `root`, through the project's one plan writer."""
    from rollout_cli.plan.document import plan_yaml, yaml_value

    doc = yaml_value(PLAN)
    doc["name"] = f"bench-export-{n}"
    doc["router"]["options"]["path"] = f"{root}/router.json"
    doc["data"].update(predictions=f"{root}/predictions.parquet", outcomes=f"{root}/outcomes.parquet")
    return plan_yaml(doc)

BARE = """
import sys, duckdb
from rollout_cli.data.source import open_logs
from rollout_cli.export.query import export_query
from rollout_cli.plan import load_plan
from rollout_cli.state.store import StateStore
from rollout_cli.state.timeline import stage_periods
plan = load_plan(sys.argv[1])
periods = stage_periods(StateStore.open(sys.argv[2]).events(plan.name))
with open_logs(plan.data) as logs:
    query = export_query(plan, logs, periods, per="request", since=None, until=None)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"COPY ({query.sql}) TO '{sys.argv[3]}' (FORMAT parquet, COMPRESSION zstd)", query.params.values)
"""


def generate(n: int) -> Path:
    import duckdb

    root = DATA / f"r{n}"
    if (root / "outcomes.parquet").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    units = n // 4
    started = time.monotonic()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    span_s = 48 * 3600  # two days of traffic
    con.execute(f"""COPY (
      SELECT 'r' || i AS request_id, TIMESTAMP '2026-01-05 00:00:00' + to_microseconds(CAST(i * {span_s * 1e6 / n} AS BIGINT)) AS ts,
             'u' || (hash(i) % {units}) AS user_id,
             CASE WHEN hash(hash(i) % {units}) % 2 = 0 THEN 'baseline' ELSE 'candidate' END AS arm, TRUE AS served,
             (hash(i * 7) % 1000) / 1000.0 AS prediction, 20 + (hash(i * 11) % 5000) / 50.0 AS latency_ms,
             hash(i * 13) % 500 = 0 AS error,
             ['us', 'de', 'fr', 'jp', 'br', 'in'][CAST(1 + hash(hash(i) % {units}) % 6 AS BIGINT)] AS country,
             ['ios', 'android', 'web'][CAST(1 + (hash(hash(i) % {units}) // 7) % 3 AS BIGINT)] AS platform
      FROM range({n}) t(i)) TO '{root}/predictions.parquet' (FORMAT parquet)""")
    con.execute(f"""COPY (
      SELECT user_id, ts + INTERVAL 10 MINUTE AS ts, 'purchase' AS event, 5 + hash(request_id) % 50 AS value
      FROM '{root}/predictions.parquet' WHERE hash(request_id) % 20 = 0) TO '{root}/outcomes.parquet' (FORMAT parquet)""")
    print(f"generated {n:,} requests in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return root


def prepare(n: int, root: Path) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT))
    from rollout_cli.plan import load_plan
    from rollout_cli.state.store import StateStore

    plan_path = root / "plan.yaml"
    plan_path.write_text(plan_text(root, n))
    state = root / "state"
    if not (state / "state.db").exists():
        plan = load_plan(plan_path)
        store = StateStore.open(state)
        from rollout_cli.state.records import RolloutState

        with store.write() as conn:
            store.put(conn, RolloutState(plan.name, "running", "ramp-50", START + timedelta(hours=1), 50.0, 0.0))
            store.record_event(plan, "start", "alice", True, "bench", None, "shadow",
                               {"transition": 1, "split": {"candidate_traffic": 0.0, "shadow": 100.0}},
                               at=START, conn=conn)
            store.record_event(plan, "advance", "controller", True, "bench", "shadow", "ramp-50",
                               {"transition": 2, "split": {"candidate_traffic": 50.0, "shadow": 0.0}},
                               at=START + timedelta(hours=1), conn=conn)
        store.close()
    return plan_path, state


def measure(argv: list[str], code: Path = ROOT) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak resident MB of one child process running
    the code in `code`."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    started = time.monotonic()
    # run from `code`: `python -m` and `-c` put the working directory before PYTHONPATH
    child = subprocess.Popen(argv, env=env, cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        raise SystemExit(f"{argv[:4]} failed: {child.stderr.read().decode() if child.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _summary(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), max(r[2] for r in runs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, nargs="+", default=[2_000_000, 20_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--before", type=Path, help="an earlier version's repository, measured in the same run")
    args = parser.parse_args()
    versions = [("this version", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    rows = []
    load_before = os.getloadavg()[0]
    for n in args.requests:
        root = generate(n)
        plan_path, state = prepare(n, root)
        runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for _ in range(args.repeat):
            for name, code in versions:
                runs.setdefault((name, "export"), []).append(measure(
                    [sys.executable, "-m", "rollout_cli", "export", str(plan_path), "--state-dir", str(state),
                     "--out", str(root / "export.parquet"), "--force"], code))
                runs.setdefault((name, "bare"), []).append(measure(
                    [sys.executable, "-c", BARE, str(plan_path), str(state), str(root / "bare.parquet")], code))
        for name, _ in versions:
            rows.append((n, name, runs[(name, "export")], runs[(name, "bare")]))
            print(f"{n:,} {name}: export {runs[(name, 'export')]} / bare {runs[(name, 'bare')]}", file=sys.stderr)
    lines = [(f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}; `python benchmarks/bench_export.py`; median of {args.repeat} "
              f"alternating runs, fresh processes; load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}."), "",
             ("| requests | version | wall: export / bare COPY (runs) | wall ratio | CPU: export / bare | CPU ratio "
              "| peak memory: export / bare COPY |"), "| ---: | --- | --- | ---: | --- | ---: | --- |"]
    for n, name, ours, bare in rows:
        (wall_o, cpu_o, mem_o), (wall_b, cpu_b, mem_b) = _summary(ours), _summary(bare)
        lines.append(f"| {n:,} | {name} | {wall_o:.2f} s / {wall_b:.2f} s ({[round(r[0], 2) for r in ours]} / "
                     f"{[round(r[0], 2) for r in bare]}) | {wall_o / wall_b:.2f}x | {cpu_o:.2f} s / {cpu_b:.2f} s "
                     f"| {cpu_o / cpu_b:.2f}x | {mem_o:.0f} MB / {mem_b:.0f} MB |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
