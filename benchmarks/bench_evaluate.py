"""How long `rollout evaluate` takes next to the bare DuckDB query any evaluator must run.

Usage: python benchmarks/bench_evaluate.py [--units 2000000 20000000] [--repeat 3] [--before DIR]

For each size: simulated logs (parquet, generated once into benchmarks/data/, which git ignores)
with a 50/50 split, a plan with four guards (conversion per segment, revenue, p99 latency with a
relative and an absolute limit, error rate); then, alternating, in fresh processes:
- `rollout evaluate PLAN --stage ramp-50 --json` (process start to exit), and
- the minimal bare query (`BARE`): per-unit first exposure, the outcome join within the window,
  per arm x segment sums and each arm's p99 — nothing else — in a `python -c` process that imports
  duckdb and runs it; the goal is measured against this one;
- the richer bare query (`BARE_RICH`, the reference of earlier runs): the same plus the squares and
  cross products the delta method needs, kept beside it for comparison.
- with `--before DIR`, `rollout evaluate` run from DIR too (an earlier version of the repository,
  e.g. `git archive main | tar -x -C DIR`), in the same rounds, so before and after share the load.
Wall time, CPU time (user + system) and peak memory (maximum resident set, GNU time) of each, and
the 1-minute load average before and after; results to benchmarks/results/evaluate.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "evaluate"
RESULTS = HERE / "results" / "evaluate.md"
START = datetime(2026, 1, 5, tzinfo=UTC)
CHUNK_UNITS = 1_000_000



def plan_document(units: int, root: Path) -> dict:
    """The benchmark's plan: four guards over logs in `root`."""
    return {
        "version": 1, "name": f"bench-{units}", "description": "evaluate benchmark", "owner": "bench",
        "models": {"baseline": "ranker-v41", "candidate": "ranker-v42"},
        "router": {"adapter": "file", "options": {"path": f"{root}/router.json"}},
        "data": {"predictions": f"{root}/predictions*.parquet", "outcomes": f"{root}/outcomes*.parquet",
                 "columns": {"unit_id": "user_id"}},
        "segments": ["country", "platform"],
        "metrics": {"conversion": {"kind": "proportion", "event": "purchase", "window": "1h"},
                    "revenue": {"kind": "mean", "event": "purchase", "window": "1h"},
                    "latency_p99": {"kind": "quantile", "column": "latency_ms", "q": 0.99},
                    "error_rate": {"kind": "proportion", "column": "error"}},
        "guards": [{"metric": "conversion", "max_drop": "2%", "per_segment": True},
                   {"metric": "revenue", "max_drop": "3%"},
                   {"metric": "latency_p99", "max_increase": "10%", "max": 250},
                   {"metric": "error_rate", "max": "0.5%"}],
        "stages": [{"name": "shadow", "shadow": "100%", "guards": [{"metric": "latency_p99", "max": 250}]},
                   {"name": "ramp-50", "traffic": "50%"}, {"name": "full", "traffic": "100%"}],
        "teams": {"oncall": ["alice"]},
        "rollback": {"authority": ["team:oncall"], "max_duration": "20m", "steps": [{"route": "baseline"}]},
    }


BARE = """
import duckdb, sys
root = sys.argv[1]
con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
con.execute("SET enable_progress_bar = false")
aggregates = con.execute('''
WITH units AS (
  SELECT user_id, arg_min(arm, ts) AS arm, min(ts) AS first_ts, max(ts) AS last_ts,
         arg_min(country, ts) AS country, arg_min(platform, ts) AS platform,
         count(*) AS requests, count(*) FILTER (WHERE error) AS errors
  FROM read_parquet(?) WHERE served GROUP BY user_id
), bought AS (
  SELECT u.user_id, sum(o.value) AS revenue
  FROM units u JOIN read_parquet(?) o
    ON o.user_id = u.user_id AND o.event = 'purchase' AND o.ts >= u.first_ts AND o.ts <= u.last_ts + INTERVAL 1 HOUR
  GROUP BY u.user_id
)
SELECT arm, country, platform, count(*), count(revenue), sum(revenue), sum(errors), sum(requests)
FROM units LEFT JOIN bought USING (user_id)
GROUP BY GROUPING SETS ((arm), (arm, country), (arm, platform))
''', [root + "/predictions*.parquet", root + "/outcomes*.parquet"]).fetchall()
p99 = con.execute("SELECT arm, quantile_cont(latency_ms, 0.99) FROM read_parquet(?) WHERE served GROUP BY arm",
                  [root + "/predictions*.parquet"]).fetchall()
print(len(aggregates), sorted(p99))
"""


BARE_RICH = """
import duckdb, sys
root = sys.argv[1]
con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
con.execute("SET enable_progress_bar = false")
aggregates = con.execute('''
WITH served AS (
  SELECT user_id, ts, arm, country, platform, latency_ms, error FROM read_parquet(?) WHERE served
), units AS (
  SELECT user_id, arg_min(arm, ts) AS arm, min(ts) AS first_ts, max(ts) AS last_ts,
         arg_min(country, ts) AS country, arg_min(platform, ts) AS platform,
         count(*) AS requests, sum(error::INT) AS errors
  FROM served GROUP BY user_id
), bought AS (
  SELECT u.user_id, 1 AS converted, sum(o.value) AS revenue
  FROM units u JOIN read_parquet(?) o
    ON o.user_id = u.user_id AND o.event = 'purchase' AND o.ts >= u.first_ts AND o.ts <= u.last_ts + INTERVAL 1 HOUR
  GROUP BY u.user_id
)
SELECT arm, country, platform, count(*), sum(coalesce(converted, 0)), sum(coalesce(revenue, 0)),
       sum(coalesce(revenue, 0) ^ 2), sum(errors), sum(requests), sum(errors * requests), sum(requests ^ 2)
FROM units LEFT JOIN bought USING (user_id)
GROUP BY GROUPING SETS ((arm), (arm, country), (arm, platform))
''', [root + "/predictions*.parquet", root + "/outcomes*.parquet"]).fetchall()
p99 = con.execute("SELECT arm, quantile_cont(latency_ms, 0.99) FROM read_parquet(?) WHERE served GROUP BY arm",
                  [root + "/predictions*.parquet"]).fetchall()
print(len(aggregates), sorted(p99))
"""


def generate(units: int) -> Path:
    """Logs for `units` units in 1M-unit files (6 hours, 50/50), made once; returns the folder."""
    root = DATA / f"u{units}"
    done = root / "DONE"
    plan_path = root / "plan.yaml"
    root.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(HERE.parent))
    from rollout_cli.plan.document import plan_yaml

    plan_path.write_text(plan_yaml(plan_document(units, root)))
    if done.exists():
        return root
    from rollout_cli.plan import load_plan
    from rollout_cli.sim.logs import Scenario, simulate_stage

    plan = load_plan(plan_path)
    began = time.perf_counter()
    for index, first in enumerate(range(0, units, CHUNK_UNITS)):
        size = min(CHUNK_UNITS, units - first)
        # each chunk is a slice of the same 6 hours with its own units, as a sharded log would be
        scenario = Scenario(units=size, start=START, duration_s=6 * 3600, candidate_pct=50.0)
        simulate_stage(plan, root, scenario=scenario, seed=1000 + index, part=f"-{index:03d}", first_unit=first,
                       training=False)
    done.write_text(f"generated in {time.perf_counter() - began:.1f} s\n")
    return root


def timed(argv: list[str], env: dict[str, str], cwd: Path | None = None
          ) -> tuple[float, float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds (user + system), peak RSS in MB, the process) under GNU time."""
    began = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True, env=env, check=False,
                          cwd=cwd)
    wall = time.perf_counter() - began

    def field(label: str) -> float:
        match = re.search(label + r": ([\d.]+)", done.stderr)
        return float(match.group(1)) if match else float("nan")

    cpu = field(r"User time \(seconds\)") + field(r"System time \(seconds\)")
    return wall, cpu, field(r"Maximum resident set size \(kbytes\)") / 1024, done


def measure(units: int, repeat: int, before: Path | None = None) -> dict[str, object]:
    root = generate(units)
    rows = subprocess.run(check=True, args=[sys.executable, "-c",
                           ("import duckdb,sys; con = duckdb.connect(); con.execute('SET enable_progress_bar=false'); "
                           "print(con.execute('SELECT count(*), count(DISTINCT user_id) FROM read_parquet(?)', "
                           "[sys.argv[1]]).fetchone())"), str(root / "predictions*.parquet")],
                          capture_output=True, text=True).stdout.strip()
    env = {**os.environ, "ROLLOUT_NOW": (START + timedelta(hours=6)).isoformat()}
    evaluate = [sys.executable, "-m", "rollout_cli", "evaluate", str(root / "plan.yaml"), "--stage", "ramp-50",
                "--json"]
    bare = [sys.executable, "-c", BARE, str(root)]
    rich = [sys.executable, "-c", BARE_RICH, str(root)]
    ours, theirs, richer, earlier = [], [], [], []
    verdict = None
    load_before = os.getloadavg()[0]
    for _ in range(repeat):
        wall, cpu, rss, done = timed(evaluate, {**env, "PYTHONPATH": str(HERE.parent)}, cwd=HERE.parent)
        if done.returncode not in (0, 1, 3):
            raise SystemExit(f"rollout evaluate failed: {done.stderr[-2000:]}")
        verdict = json.loads(done.stdout)
        ours.append((wall, cpu, rss))
        if before is not None:  # the earlier version, from its own folder (`python -m` puts the cwd first on the path)
            wall, cpu, rss, done = timed(evaluate, {**env, "PYTHONPATH": str(before)}, cwd=before)
            if done.returncode not in (0, 1, 3):
                raise SystemExit(f"rollout evaluate (before) failed: {done.stderr[-2000:]}")
            earlier.append((wall, cpu, rss))
        wall, cpu, rss, done = timed(bare, env)
        if done.returncode:
            raise SystemExit(f"bare query failed: {done.stderr[-2000:]}")
        theirs.append((wall, cpu, rss))
        wall, cpu, rss, done = timed(rich, env)
        if done.returncode:
            raise SystemExit(f"richer bare query failed: {done.stderr[-2000:]}")
        richer.append((wall, cpu, rss))
    assert verdict is not None
    return {
        "units": units, "rows": rows,
        "evaluate_s": statistics.median(m[0] for m in ours), "bare_s": statistics.median(m[0] for m in theirs),
        "evaluate_cpu": statistics.median(m[1] for m in ours), "bare_cpu": statistics.median(m[1] for m in theirs),
        "evaluate_mb": max(m[2] for m in ours), "bare_mb": max(m[2] for m in theirs),
        "rich_s": statistics.median(m[0] for m in richer), "rich_cpu": statistics.median(m[1] for m in richer),
        "rich_mb": max(m[2] for m in richer),
        "evaluate_all": [round(m[0], 2) for m in ours], "bare_all": [round(m[0], 2) for m in theirs],
        "evaluate_cpu_all": [round(m[1], 2) for m in ours], "bare_cpu_all": [round(m[1], 2) for m in theirs],
        "before": None if not earlier else {
            "s": statistics.median(m[0] for m in earlier), "cpu": statistics.median(m[1] for m in earlier),
            "mb": max(m[2] for m in earlier), "cpu_all": [round(m[1], 2) for m in earlier],
            "all": [round(m[0], 2) for m in earlier]},
        "checks": len(verdict["checks"]), "verdict": verdict["verdict"],
        "load": f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}",
        "generated": (root / "DONE").read_text().strip(),
    }


def size_section(r: dict[str, object], repeat: int) -> list[str]:
    """The section of one size: when and how it was measured, and its tables."""
    f = {k: float(v) for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    lines = [
        f"## {int(f['units']):,} units", "",
        (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, DuckDB {__import__('duckdb').__version__}; "
        f"`python benchmarks/bench_evaluate.py --units {int(f['units'])} --repeat {repeat}`. Median of {repeat} "
        "alternating runs, each a fresh process (start to exit); 1-minute load average before -> after in the "
        "table (2 cores)."), "",
        ("| units | prediction rows, units | wall: `rollout evaluate` / bare (runs) | wall ratio "
        "| CPU: evaluate / bare | CPU ratio | peak memory: evaluate / bare | memory ratio "
        "| richer bare: wall, CPU, memory | checks | load |"),
        "| ---: | --- | --- | ---: | --- | ---: | --- | ---: | --- | ---: | --- |",
        (f"| {int(f['units']):,} | {r['rows']} | {f['evaluate_s']:.2f} s / {f['bare_s']:.2f} s "
        f"({r['evaluate_all']} / {r['bare_all']}) | {f['evaluate_s'] / f['bare_s']:.2f}x "
        f"| {f['evaluate_cpu']:.2f} s / {f['bare_cpu']:.2f} s | {f['evaluate_cpu'] / f['bare_cpu']:.2f}x "
        f"| {f['evaluate_mb']:.0f} MB / {f['bare_mb']:.0f} MB | {f['evaluate_mb'] / f['bare_mb']:.2f}x "
        f"| {f['rich_s']:.2f} s, {f['rich_cpu']:.2f} s, {f['rich_mb']:.0f} MB | {r['checks']} | {r['load']} |")]
    b = r.get("before")
    if isinstance(b, dict):
        lines += ["", "The earlier version (`--before`), in the same rounds:", "",
                  ("| units | CPU: before / after / bare (runs) | CPU ratio to bare: before, after "
                   "| wall: before / after / bare (runs) | wall ratio to bare: before, after "
                   "| peak memory: before / after / bare |"), "| ---: | --- | --- | --- | --- | --- |",
                  (f"| {int(f['units']):,} | {b['cpu']:.2f} s / {f['evaluate_cpu']:.2f} s / {f['bare_cpu']:.2f} s "
                  f"({b['cpu_all']} / {r['evaluate_cpu_all']} / {r['bare_cpu_all']}) | {b['cpu'] / f['bare_cpu']:.2f}x, "
                  f"{f['evaluate_cpu'] / f['bare_cpu']:.2f}x | {b['s']:.2f} s / {f['evaluate_s']:.2f} s / "
                  f"{f['bare_s']:.2f} s ({b['all']} / {r['evaluate_all']} / {r['bare_all']}) "
                  f"| {b['s'] / f['bare_s']:.2f}x, {f['evaluate_s'] / f['bare_s']:.2f}x "
                  f"| {b['mb']:.0f} MB / {f['evaluate_mb']:.0f} MB / {f['bare_mb']:.0f} MB |")]
    return lines + ["", f"Data generation (once, by `rollout_cli.sim.logs`): {r['generated']}", ""]


def kept_sections(text: str) -> dict[int, str]:
    """The sections of an earlier results file, by size (a run keeps the sizes it did not measure)."""
    sections: dict[int, str] = {}
    for part in re.split(r"^(?=## )", text, flags=re.MULTILINE)[1:]:
        size = re.match(r"## ([\d,]+) units", part)
        if size:
            sections[int(size.group(1).replace(",", ""))] = part.rstrip() + "\n"
    return sections


def write_results(results: list[dict[str, object]], repeat: int) -> None:
    header = [
        "# `rollout evaluate` against the bare query",
        "",
        ("One section per size, each written by the last run that measured it (`python "
        "benchmarks/bench_evaluate.py --units N`; a run leaves the other sizes' sections as they were). "
        "CPU is user + system time of the process; peak memory is the largest maximum resident set (GNU "
        "time). Other work on the 2 cores inflates and scatters wall times (the load average is in each "
        "table); the ratios compare runs of the same rounds. Each tree's modules are compiled to bytecode "
        "before the runs (`compileall`), as an installed package's are, like the bare query's DuckDB."),
        "",
        ("Plan: 50/50 split, segments country (6 values) and platform (3), guards conversion `max_drop 2%` per segment, "
        "revenue `max_drop 3%`, latency_p99 `max_increase 10%` + `max 250`, error_rate `max 0.5%`. "
        "The bare query is the minimum any evaluator runs: per-unit first exposure, the outcome join within "
        "the window, per arm x segment sums, each arm's p99 — nothing else (no squares or cross products, no "
        "confidence bounds, no data-quality counts, no checks). The richer bare query of earlier runs (the same "
        "plus squares and cross products) stands beside it."),
        "",
        ("What `rollout evaluate` does beyond the bare query: Python start-up with the CLI and the plan, the "
        "files' statistics read for a proof that every row is in the window, a light scan before the main "
        "statement (one grouped pass: row counts, rows in no arm, each arm's answer count and its p99 over "
        "everyone), the main statement with both outcome metrics, the error-rate "
        "and latency-exceedance ratios with their squares and cross products and the per-unit counts behind the "
        "p99's design effect (one packed sum per unit), one grouped scan for the levels of the p99's confidence "
        "bounds, the duplicate screens (the request and outcome keys' 64-bit hashes sorted in DuckDB), the spending levels "
        "of the two-size mixtures (read from stats/mixture_table.py), and the checks themselves (always-valid "
        "intervals, Holm). Goals: wall time within 1.5x of the minimal bare query, peak memory within 1.2x."),
        "",
    ]
    sections = kept_sections(RESULTS.read_text()) if RESULTS.exists() else {}
    for r in results:
        sections[int(r["units"])] = "\n".join(size_section(r, repeat))  # type: ignore[call-overload]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(header) + "\n".join(sections[units] for units in sorted(sections)))


def compile_tree(root: Path) -> None:
    """Bytecode for a tree's modules, as an installed package has it (`pip install` compiles; the bare
    query's DuckDB is installed so): without it every process compiles the CLI's modules (~0.15 s)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "rollout_cli")], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--units", type=int, nargs="+", default=[2_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--generate-only", action="store_true", help="Make the logs, measure nothing.")
    parser.add_argument("--before", type=Path, help="Also measure the repository copy in this folder.")
    args = parser.parse_args()
    if args.generate_only:
        for units in args.units:
            print(generate(units), (generate(units) / "DONE").read_text().strip())
        return
    # PYTHONDONTWRITEBYTECODE may be set: compile explicitly, both trees alike
    compile_tree(HERE.parent)
    if args.before:
        compile_tree(args.before.resolve())
    results = []
    for units in args.units:
        result = measure(units, args.repeat, args.before.resolve() if args.before else None)
        print(json.dumps(result))
        results.append(result)
    write_results(results, args.repeat)
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
