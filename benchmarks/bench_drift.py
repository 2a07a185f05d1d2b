"""Drift: the statistics of the shift interval next to a fixed PSI cut-off and a KS p-value, and
the speed of `rollout drift` next to a bare DuckDB query that bins and counts the same columns.

Usage: python benchmarks/bench_drift.py [--part stats|speed|both] [--rows 10000000] [--repeat 3]

stats: one numeric feature, N(0, 1) in the reference (1,000,000 rows), N(delta, 1) in the
window, delta chosen so the binned PSI over the reference deciles (plus the empty "missing" bin)
is exactly 0, a trivial 0.005, the threshold (0.1), or twice it. For window sizes 100 .. 10^6,
many disjoint windows each: the share of windows each method calls drifted —
- interval: `stats.shift.judge_shift` at 95% (drifted = the whole interval above 0.1),
- fixed PSI: the plug-in PSI above 0.1 (the common rule),
- KS: scipy's two-sample Kolmogorov-Smirnov p-value below 0.05 (on the raw values).
speed: 20 features (16 numeric, 4 categorical) over `--rows` prediction rows (24 hourly windows)
against a 1,000,000-row training reference, parquet generated once into benchmarks/data/drift/;
`rollout drift PLAN --json` in a fresh process against a `python -c` process running the bare
query (the reference deciles and top categories, then one GROUPING SETS scan that bins and
counts every column per window). Wall, CPU and peak memory (GNU time), alternating runs.
Results go to benchmarks/results/drift.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rollout_cli.plan.document import plan_yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "drift"
RESULTS = HERE / "results" / "drift.md"
THRESHOLD = 0.1
SIZES = (100, 300, 1_000, 3_000, 10_000, 100_000, 1_000_000)
NUMERIC, CATEGORICAL = 16, 4

sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- statistics


def _binned_psi(delta: float, edges) -> float:  # type: ignore[no-untyped-def]
    import numpy as np
    from scipy.stats import norm

    cuts = np.concatenate([[-np.inf], edges, [np.inf]])
    q, p = np.diff(norm.cdf(cuts)), np.diff(norm.cdf(cuts - delta))
    return float(((p - q) * np.log(p / q)).sum())


def _delta_for(target: float, edges) -> float:  # type: ignore[no-untyped-def]
    from scipy.optimize import brentq

    return 0.0 if target == 0 else float(brentq(lambda d: _binned_psi(d, edges) - target, 0.0, 5.0))


def ks_p_value(window, reference_sorted) -> float:  # type: ignore[no-untyped-def]
    """scipy's two-sample KS p-value (method="asymp": kstwo at n*m/(n+m)) without re-sorting the
    1M-row reference for every window: the sup of |F_window - F_reference| is reached at a window
    point or just before one, where F_reference comes from one search of the sorted reference."""
    import numpy as np
    from scipy.stats import kstwo

    w = np.sort(window)
    n, m = w.size, reference_sorted.size
    at = np.searchsorted(reference_sorted, w, side="right") / m
    before = np.searchsorted(reference_sorted, w, side="left") / m
    steps = np.arange(1, n + 1) / n
    d = max(float(np.max(np.abs(steps - at))), float(np.max(np.abs(steps - 1.0 / n - before))))
    return float(kstwo.sf(d, round(n * m / (n + m))))


def stats_part(seed: int = 20261128) -> list[dict[str, object]]:
    import numpy as np

    from rollout_cli.stats.shift import ShiftDecision, judge_shift, psi

    rng = np.random.default_rng(seed)
    reference = np.sort(rng.normal(0.0, 1.0, 1_000_000))
    edges = np.quantile(reference, [i / 10 for i in range(1, 10)])
    ref_counts = [0, *np.bincount(np.searchsorted(edges, reference, side="left"), minlength=10).tolist()]
    rows = []
    for target in (0.0, 0.005, THRESHOLD, 2 * THRESHOLD):
        delta = _delta_for(target, edges)
        for n in SIZES:
            reps = 2000 if n <= 10_000 else (400 if n <= 100_000 else 60)
            ours = fixed = ks = 0
            for _ in range(reps):
                window = rng.normal(delta, 1.0, n)
                counts = [0, *np.bincount(np.searchsorted(edges, window, side="left"), minlength=10).tolist()]
                ours += judge_shift(ref_counts, counts, THRESHOLD, 0.95).decision is ShiftDecision.DRIFTED
                fixed += psi(ref_counts, counts) > THRESHOLD
                ks += ks_p_value(window, reference) < 0.05
            rows.append({"psi": target, "delta": delta, "n": n, "reps": reps,
                         "ours": ours / reps, "fixed": fixed / reps, "ks": ks / reps})
            print(f"PSI {target:<6} n={n:>8} reps={reps:>5}: interval {ours / reps:.3f}  fixed {fixed / reps:.3f}  "
                  f"KS {ks / reps:.3f}", flush=True)
    return rows


# ---------------------------------------------------------------- speed

def plan_document(root: Path, features: list[str]) -> dict[str, object]:
    return {
        "version": 1, "name": "bench-drift", "models": {"baseline": "v1", "candidate": "v2"},
        "router": {"adapter": "file", "options": {"path": f"{root}/router.json"}},
        "data": {"predictions": f"{root}/predictions.parquet", "training": f"{root}/training.parquet"},
        "metrics": {"error_rate": {"kind": "proportion", "column": "error"}},
        "guards": [{"metric": "error_rate", "max": "1%"}],
        "stages": [{"name": "shadow", "shadow": "100%"}, {"name": "full", "traffic": "100%"}],
        "drift": {"features": features, "window": "1h"},
        "rollback": {"authority": ["bench"], "max_duration": "5m", "steps": [{"route": "baseline"}]},
    }


def _columns(shift: float) -> str:
    numeric = [f"({i % 4} + {shift} + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS f{i}"
               for i in range(NUMERIC)]
    categorical = [f"('c' || CAST(floor(random() * random() * 12) AS INTEGER)) AS g{i}" for i in range(CATEGORICAL)]
    return ", ".join(numeric + categorical)


def generate(rows: int) -> Path:
    import duckdb

    root = DATA / f"{rows}-units"  # with a unit_id: a user's requests over the day (the design effect's groups)
    if (root / "predictions.parquet").is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    con.execute(f"COPY (SELECT {_columns(0.0)} FROM range(1000000)) TO '{root / 'training.parquet'}' (FORMAT parquet)")
    con.execute(
        f"COPY (SELECT (i * 7919) % {max(rows // 5, 1)} AS unit_id, TIMESTAMPTZ '2026-01-05 00:00:00+00' + to_microseconds(i * (86400000000 // {rows})) AS ts, "
        f"CASE WHEN i % 2 = 0 THEN 'baseline' ELSE 'candidate' END AS arm, TRUE AS served, random() AS prediction, "
        f"FALSE AS error, {_columns(0.05)} FROM range({rows}) t(i)) TO '{root / 'predictions.parquet'}' "
        f"(FORMAT parquet)")
    con.close()
    features = [f"f{i}" for i in range(NUMERIC)] + [f"g{i}" for i in range(CATEGORICAL)]
    (root / "plan.yaml").write_text(plan_yaml(plan_document(root, features)))
    print(f"generated {rows} rows in {time.perf_counter() - began:.1f} s", flush=True)
    return root


BARE = """
import duckdb, sys
root = sys.argv[1]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
num, cat = [f"f{{i}}" for i in range({numeric})], [f"g{{i}}" for i in range({categorical})]
levels = [i / 10 for i in range(1, 10)]
ref = f"read_parquet('{{root}}/training.parquet')"
edges = con.execute("SELECT " + ", ".join(f"quantile_cont({{c}}, {{levels}})" for c in num) + f" FROM {{ref}}").fetchone()
cats = [[r[0] for r in con.execute(f"SELECT {{c}}, count(*) n FROM {{ref}} GROUP BY 1 ORDER BY n DESC LIMIT 50").fetchall()]
        for c in cat]
bins = []
for c, e in zip(num, edges):
    cases = " ".join(f"WHEN {{c}} <= {{x}} THEN {{i + 1}}" for i, x in enumerate(e))
    bins.append(f"CASE WHEN {{c}} IS NULL THEN 0 {{cases}} ELSE {{len(e) + 1}} END AS b_{{c}}")
for c, values in zip(cat, cats):
    bins.append(f"CASE WHEN {{c}} IS NULL THEN 0 ELSE coalesce(list_position({{values}}, {{c}}), {{len(values) + 1}}) END AS b_{{c}}")
sets = ", ".join(f"(w, b_{{c}})" for c in num + cat)
sql = (f"SELECT count(*) FROM (SELECT w, count(*) FROM (SELECT floor(epoch(ts) / 3600) AS w, {{', '.join(bins)}} "
       f"FROM read_parquet('{{root}}/predictions.parquet') WHERE served) GROUP BY GROUPING SETS ({{sets}}))")
print(con.execute(sql).fetchone()[0])
"""


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds (user + system), peak RSS in MB, the process) under GNU time."""
    began = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *argv], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - began

    def field(label: str) -> float:
        match = re.search(label + r": ([\d.]+)", done.stderr)
        return float(match.group(1)) if match else float("nan")

    return wall, field(r"User time \(seconds\)") + field(r"System time \(seconds\)"), \
        field(r"Maximum resident set size \(kbytes\)") / 1024, done


def speed_part(rows: int, repeat: int) -> dict[str, object]:
    root = generate(rows)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ROLLOUT_NOW": "2026-01-06T00:00:00Z"}
    ours_argv = [sys.executable, "-m", "rollout_cli", "drift", str(root / "plan.yaml"), "--json"]
    bare_argv = [sys.executable, "-c", BARE.format(numeric=NUMERIC, categorical=CATEGORICAL), str(root)]
    load_before = os.getloadavg()[0]
    ours, bare = [], []
    for _ in range(repeat):
        for argv, into in ((ours_argv, ours), (bare_argv, bare)):
            wall, cpu, peak, done = timed(argv, env)
            if done.returncode not in (0, 1):
                raise SystemExit(f"{argv[:4]} failed: {done.stderr[-2000:]}")
            into.append((wall, cpu, peak))
            print(f"{'rollout' if into is ours else 'bare':>7}: {wall:.2f} s wall, {cpu:.2f} s CPU, {peak:.0f} MB",
                  flush=True)
    return {"rows": rows, "ours": ours, "bare": bare, "load": (load_before, os.getloadavg()[0])}


# ---------------------------------------------------------------- report


def _median(values: list[tuple[float, float, float]], i: int) -> float:
    return statistics.median(v[i] for v in values)


def write_results(stats_rows: list[dict[str, object]] | None, speed: dict[str, object] | None) -> None:
    import duckdb

    lines = [(f"# Drift benchmark\n\nMeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
              f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, DuckDB "
              f"{duckdb.__version__}; `python benchmarks/bench_drift.py`. Other work shared the machine.\n")]
    if stats_rows:
        lines.append(f"## Share of windows called drifted (threshold PSI {THRESHOLD}, 95%, ten decile bins)\n")
        lines.append("| true PSI | window rows | windows | interval (ours) | fixed PSI > 0.1 | KS p < 0.05 |")
        lines.append("| ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in stats_rows:
            lines.append(f"| {r['psi']} | {r['n']:,} | {r['reps']} | {r['ours']:.3f} | {r['fixed']:.3f} | {r['ks']:.3f} |")
        powered = [r["n"] for r in stats_rows if r["psi"] == 2 * THRESHOLD and float(r["ours"]) >= 0.8]
        lines.append(f"\nPower >= 80% at twice the threshold from **{min(powered):,} rows** per window."
                     if powered else "\nPower never reached 80% in the sizes tried.")
    if speed:
        ours, bare = speed["ours"], speed["bare"]  # type: ignore[index]
        wall = _median(ours, 0) / _median(bare, 0)  # type: ignore[arg-type]
        cpu = _median(ours, 1) / _median(bare, 1)  # type: ignore[arg-type]
        lines.append(f"\n## `rollout drift` vs the bare query: {NUMERIC + CATEGORICAL} features, {speed['rows']:,} rows, "
                     "24 hourly windows, 1,000,000-row reference\n")
        lines.append("| | wall (median; runs) | CPU | peak memory |")
        lines.append("| --- | --- | --- | --- |")
        for name, runs in (("rollout drift", ours), ("bare DuckDB query", bare)):
            lines.append(f"| {name} | {_median(runs, 0):.2f} s; {[round(r[0], 2) for r in runs]} | "  # type: ignore[index]
                         f"{_median(runs, 1):.2f} s | {_median(runs, 2):.0f} MB |")  # type: ignore[arg-type]
        load = speed["load"]
        lines.append(f"\nrollout / bare: wall **{wall:.2f}x**, CPU {cpu:.2f}x (goal: within 1.5x). "
                     f"Load average {load[0]:.1f} -> {load[1]:.1f}.")  # type: ignore[index]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("stats", "speed", "both"), default="both")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    stats_rows = stats_part() if args.part in ("stats", "both") else None
    speed = speed_part(args.rows, args.repeat) if args.part in ("speed", "both") else None
    write_results(stats_rows, speed)


if __name__ == "__main__":
    main()
