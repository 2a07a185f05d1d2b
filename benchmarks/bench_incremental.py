"""What a look costs through the evaluation cache (docs/incremental.md), next to a full read.

Usage: python benchmarks/bench_incremental.py [--units 2000000] [--ticks 864] [--tick-units 1000] [--full-every 72]

(a) A stage of `--units` units (the logs of bench_evaluate.py, generated there): a full look, the
    first look through the cache (reads every file), the look that absorbs them, then 1% more
    units arrive as a new file and one more look — each timed in this process (wall and CPU).
(b) A simulated 3-day stage cut into `--ticks` arrivals (one file of predictions and outcomes
    each, `--tick-units` units): after every arrival a look through the cache, and every
    `--full-every` arrivals a full look too; per look, rows so far and CPU time, and the totals.
Results to benchmarks/results/incremental.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
RESULTS = HERE / "results" / "incremental.md"
WORK = HERE / "data" / "incremental"


def timed(call: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def one_percent(units: int) -> list[str]:
    """(a): full look vs looks through the cache, before and after 1% more units."""
    from bench_evaluate import START, generate, plan_document

    from rollout_cli.evaluation.stage import evaluate_stage
    from rollout_cli.plan import load_plan
    from rollout_cli.plan.document import plan_yaml
    from rollout_cli.sim.logs import Scenario, simulate_stage

    source = generate(units)
    root = WORK / f"u{units}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "state").mkdir(parents=True)
    for path in source.glob("*.parquet"):
        (root / path.name).symlink_to(path)
    (root / "plan.yaml").write_text(plan_yaml(plan_document(units, root)))
    plan = load_plan(root / "plan.yaml")
    stage = plan.stage("ramp-50")
    now = START + timedelta(hours=6)

    def look(cache: bool) -> Any:
        return evaluate_stage(plan, stage, now=now, cache_dir=root / "state" if cache else None)

    rows = [("full look", *timed(lambda: look(False)))]
    rows.append(("first look through the cache (reads every file)", *timed(lambda: look(True))))
    rows.append(("second look (absorbs every file into the cache)", *timed(lambda: look(True))))
    rows.append(("third look (nothing new)", *timed(lambda: look(True))))
    extra = max(1, units // 100)
    simulate_stage(plan, root, scenario=Scenario(units=extra, start=START, duration_s=6 * 3600, candidate_pct=50.0),
                   seed=99, part="-extra", first_unit=units, training=False)
    rows.append((f"look after 1% more units ({extra:,}, one new file)", *timed(lambda: look(True))))
    rows.append(("full look with the 1% more", *timed(lambda: look(False))))
    full = rows[-1][2]
    lines = [f"### (a) {units:,} units, then 1% more", "",
             "| look | wall | CPU | share of a full look (CPU) | units | verdict |", "| --- | ---: | ---: | ---: | ---: | --- |"]
    for label, wall, cpu, evaluation in rows:
        lines.append(f"| {label} | {wall:.2f} s | {cpu:.2f} s | {cpu / full:.0%} | "
                     f"{sum(evaluation.units.values()):,} | {evaluation.verdict.value} |")
    return lines


def three_days(ticks: int, tick_units: int, full_every: int) -> list[str]:
    """(b): a stage's looks over 3 days, one arrival per look; CPU per look through the cache at every
    look, and a full look every `full_every` looks (the cumulative full figure interpolates between
    them: a full look costs what the rows cost, which grow steadily)."""
    from rollout_cli.evaluation.stage import evaluate_stage
    from rollout_cli.sim.logs import Scenario, simulate_stage
    from tests.evaluate.evaluate_helpers import write_plan

    root = WORK / "three-days"
    shutil.rmtree(root, ignore_errors=True)
    plan = write_plan(root, predictions=str(root / "logs" / "predictions*.parquet"),
                      outcomes=str(root / "logs" / "outcomes*.parquet"))
    (root / "state").mkdir()
    start, step = datetime(2026, 1, 5, tzinfo=UTC), timedelta(days=3) / ticks
    cached_total = full_total = 0.0
    last_full: tuple[int, float] = (0, 0.0)  # (look, CPU) of the last full look measured
    lines = [(f"### (b) a 3-day stage, {ticks} looks (one every {step.total_seconds() / 60:g} min), "
             f"{tick_units:,} new units per look"), "",
             ("| look | prediction rows so far | CPU of this look (cache) | cumulative CPU (cache) "
             "| CPU of a full look | cumulative CPU if every look read everything | cache / full |"),
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    rows = 0
    for tick in range(ticks):
        begin = start + tick * step
        written = simulate_stage(plan, root / "logs", scenario=Scenario(
            units=tick_units, start=begin, duration_s=step.total_seconds(), candidate_pct=50.0),
            seed=tick, part=f"-{tick:04d}", first_unit=tick * tick_units, training=False)
        rows += written.rows["predictions"]
        now = begin + step
        _, cached_cpu, evaluation = timed(lambda at=now: evaluate_stage(plan, plan.stage("canary"), until=at, now=at,
                                                                        cache_dir=root / "state"))
        cached_total += cached_cpu
        if (tick + 1) % full_every == 0 or tick in (0, ticks - 1):
            _, full_cpu, full = timed(lambda at=now: evaluate_stage(plan, plan.stage("canary"), until=at, now=at))
            assert full.verdict == evaluation.verdict and full.units == evaluation.units
            looks = tick - last_full[0]  # full looks not measured in between cost what lies between
            full_total += full_cpu if tick == 0 else looks * (last_full[1] + full_cpu) / 2
            last_full = (tick, full_cpu)
            lines.append(f"| {tick + 1} | {rows:,} | {cached_cpu * 1000:.0f} ms | {cached_total:.1f} s "
                         f"| {full_cpu * 1000:.0f} ms | {full_total:.1f} s | {cached_total / full_total:.0%} |")
            print(lines[-1], flush=True)  # a long run shows its progress
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--units", type=int, default=2_000_000)
    parser.add_argument("--ticks", type=int, default=864)  # 3 days, one look every 5 minutes
    parser.add_argument("--tick-units", type=int, default=1_000)
    parser.add_argument("--full-every", type=int, default=72)  # a full look every 6 hours of the stage
    parser.add_argument("--skip-a", action="store_true", help="only (b)")
    parser.add_argument("--skip-b", action="store_true", help="only (a)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    lines = ["# Looks through the evaluation cache", "",
             (f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, in one process (wall and "
             "CPU of each look); `python benchmarks/bench_incremental.py "
             f"--units {args.units} --ticks {args.ticks} --tick-units {args.tick_units} --full-every {args.full_every}`."),
             ""]
    if not args.skip_a:
        lines += one_percent(args.units) + [""]
        print("\n".join(lines), flush=True)
    if not args.skip_b:
        lines += three_days(args.ticks, args.tick_units, args.full_every)
    lines += ["", f"Load average {load:.1f} -> {os.getloadavg()[0]:.1f} (a shared 2-core machine).", ""]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    results = RESULTS if not (args.skip_a or args.skip_b) else RESULTS.with_name(f"incremental-{'a' if args.skip_b else 'b'}.md")
    results.write_text("\n".join(lines))
    print(results.read_text())


if __name__ == "__main__":
    main()
