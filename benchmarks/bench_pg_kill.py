"""kill -9 trials on the PostgreSQL state store: how many leave state and router inconsistent.

    python benchmarks/bench_pg_kill.py [--trials 240] [--sqlite 60]

Starts a throwaway PostgreSQL cluster (tests/pg_cluster.py), then for each trial: a fresh
database and folder, a rollout prepared at shadow or canary, the start/advance/rollback command
killed with SIGKILL at one of the 12 named points (round robin), a follow-up command (status,
advance, rollback or tick), and the same consistency check as tests/faults (no open transition,
router split == state split, a killed rollback ends rolled back at the baseline). The SQLite
store runs `--sqlite` trials in the same run as the reference. Writes benchmarks/results/pg_kill.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from kill_trials import follow_up, inconsistencies, kill
from pg_cluster import PgCluster

from rollout_cli.state.killpoints import KILL_POINTS


def run_trials(count: int, new_location, root: Path) -> tuple[int, list[str], float]:  # type: ignore[no-untyped-def]
    trials = []
    for i in range(count):
        point = KILL_POINTS[i % len(KILL_POINTS)]
        directory = root / f"{point.replace(':', '_')}-{i}"
        trials.append((directory, new_location(directory), point, i // len(KILL_POINTS)))
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        killed = list(pool.map(lambda t: (*t, *kill(*t)), trials))
    problems: list[str] = []
    for directory, location, point, trial, code, stderr in killed:
        if code != -9:
            problems.append(f"{point} trial {trial}: not killed at its point (exit {code}): {stderr[-200:]}")
            continue
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            follow = follow_up(directory, location, trial)
        problems += inconsistencies(directory, location, point, trial, follow)
    return len(killed), problems, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=240)
    parser.add_argument("--sqlite", type=int, default=60)
    args = parser.parse_args()
    os.environ.pop("ROLLOUT_STATE_URL", None)
    cluster = PgCluster().start()
    try:
        with tempfile.TemporaryDirectory() as pg_root, tempfile.TemporaryDirectory() as lite_root:
            pg = run_trials(args.trials, lambda _d: cluster.new_database(), Path(pg_root))
            lite = run_trials(args.sqlite, lambda d: str(d / ".rollout"), Path(lite_root))
    finally:
        cluster.destroy()
    load = os.getloadavg()[0]
    lines = [
        "# kill -9 trials on the state stores",
        "",
        f"`python benchmarks/bench_pg_kill.py --trials {args.trials} --sqlite {args.sqlite}`; 2 CPUs shared with other "
        f"work (load average {load:.2f} at the end). Each trial: prepare, SIGKILL at a named point (12 points, round "
        "robin), one follow-up command, consistency check.",
        "",
        "| store | trials | inconsistent states | wall time | per trial |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, (count, problems, took) in (("PostgreSQL 15", pg), ("SQLite (reference)", lite)):
        lines.append(f"| {name} | {count} | **{len(problems)}** | {took:.0f} s | {took / max(count, 1):.2f} s |")
    for name, (_, problems, _) in (("PostgreSQL", pg), ("SQLite", lite)):
        lines += [f"- {name}: {p}" for p in problems[:20]]
    text = "\n".join(lines) + "\n"
    (ROOT / "benchmarks" / "results" / "pg_kill.md").write_text(text)
    print(text)
    if pg[1] or lite[1]:
        sys.exit(1)


if __name__ == "__main__":
    main()
