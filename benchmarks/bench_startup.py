"""Start-up of the two commands where it matters, this tree against a reference tree.

`rollout plan validate plans/ranker-v42.yaml` runs on every pull request; `rollout rollback`
runs at 3am. Both are measured process start to exit (`python -m rollout_cli` with PYTHONPATH
set to the tree), interleaving the trees run by run so machine noise hits both alike; the
rollback each time from a freshly started rollout on a file router (state copied in, not timed).

Usage: python benchmarks/bench_startup.py --reference DIR [--runs N]
  DIR is another source tree of the project, e.g. an earlier commit unpacked with
  `git archive COMMIT | tar -x -C DIR`. Writes benchmarks/results/startup.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "startup.md"
sys.path.insert(0, str(ROOT / "tests" / "runbook"))

from runbook_helpers import plan_text  # noqa: E402  (the tests' plan: file router, rollback steps)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(tree: Path, args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one process."""
    env = {**os.environ, "PYTHONPATH": str(tree), "ROLLOUT_STATE_DIR": str(cwd / ".rollout"), "COLUMNS": "120"}
    started, cpu = time.perf_counter(), _cpu()
    done = subprocess.run([sys.executable, "-m", "rollout_cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    elapsed = time.perf_counter() - started, _cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{tree}: rollout {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return elapsed


def _started_rollout(tree: Path, folder: Path) -> Path:
    """A rollout started at its shadow stage in `folder`; returns the saved state to copy in."""
    folder.mkdir(parents=True)
    (folder / "plan.yaml").write_text(plan_text([(["true"], "5s")]))
    _run(tree, ["start", "plan.yaml", "--as", "bob"], folder)
    saved = folder.parent / f"{folder.name}-saved"
    shutil.copytree(folder, saved)
    return saved


def _rollback(tree: Path, saved: Path, folder: Path) -> tuple[float, float]:
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(saved, folder)
    return _run(tree, ["rollback", "plan.yaml", "--reason", "bench", "--as", "bob"], folder)


def _ms(values: list[float]) -> str:
    q1, median, q3 = statistics.quantiles(values, n=4)
    return f"{median * 1000:.0f} ms (IQR {q1 * 1000:.0f}–{q3 * 1000:.0f})"


def _row(name: str, runs: list[tuple[float, float]]) -> str:
    return f"| {name} | {_ms([wall for wall, _ in runs])} | {_ms([cpu for _, cpu in runs])} |"


def _ratio(runs: dict[str, list[tuple[float, float]]], index: int) -> float:
    ours = statistics.median(run[index] for run in runs["this tree"])
    return ours / statistics.median(run[index] for run in runs["reference"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="another source tree of the project")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    trees = {"this tree": ROOT, "reference": args.reference.resolve()}
    validate: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    rollback: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        saved = {name: _started_rollout(tree, Path(tmp) / name.replace(" ", "-")) for name, tree in trees.items()}
        for _ in range(args.runs):
            for name, tree in trees.items():
                validate[name].append(_run(tree, ["plan", "validate", "plans/ranker-v42.yaml"], ROOT))
                rollback[name].append(_rollback(tree, saved[name], Path(tmp) / f"run-{name.replace(' ', '-')}"))
    lines = [
        "# Benchmark: start-up of `plan validate` and `rollback`",
        "",
        f"`python benchmarks/bench_startup.py --reference {args.reference} --runs {args.runs}` on "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}. Process start to exit, the two trees interleaved run by "
        "run; median and interquartile range. CPU is user + system time of the process: steadier than wall time "
        "when other work shares the machine.",
        "",
        "| command | wall time | CPU time |",
        "| --- | --- | --- |",
        *[_row(f"`plan validate` ({name})", times) for name, times in validate.items()],
        *[_row(f"`rollback`, file router ({name})", times) for name, times in rollback.items()],
        "",
        f"This tree / reference, median wall time: `plan validate` **{_ratio(validate, 0):.2f}**, "
        f"`rollback` **{_ratio(rollback, 0):.2f}**; median CPU time: `plan validate` **{_ratio(validate, 1):.2f}**, "
        f"`rollback` **{_ratio(rollback, 1):.2f}**.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
