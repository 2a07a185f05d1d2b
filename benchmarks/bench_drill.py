"""How long a rollback drill takes against each built-in router (issue 5).

    python benchmarks/bench_drill.py [--drills 20]

For the file router, and nginx and HAProxy on loopback when installed (tests/servers.py), runs
`--drills` drills in-process (`run_drill`: stage-like split, the rollback steps route / verify /
`run: [true]`, final verification, restore) and times each step and the whole drill; then one
`rollout drill --json` end to end as a subprocess (process start, plan load, state store,
audit record). Writes benchmarks/results/drill.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "runbook"))

from runbook_helpers import plan_text
from servers import HAProxyStack, NginxStack

from rollout_cli.plan import load_plan
from rollout_cli.routers.registry import router_for
from rollout_cli.runbook.drill import run_drill


def _plan_file(folder: Path, adapter: str, options: dict[str, Any]) -> Path:
    text = plan_text([(["true"], "5s")], router={"adapter": adapter, "options": options})
    path = folder / f"plan-{adapter}.yaml"
    path.write_text(text)
    return path


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} / {max(values) * 1000:.1f}"


def bench_router(name: str, plan_path: Path, drills: int) -> dict[str, Any]:
    plan = load_plan(plan_path)
    router = router_for(plan.router.adapter, plan.router.options)
    per_step: dict[str, list[float]] = {}
    rollback, whole = [], []
    for _ in range(drills):
        started = time.perf_counter()
        result = run_drill(plan, router, name)
        whole.append(time.perf_counter() - started)
        assert result.passed, result.failure
        rollback.append(result.duration_s)
        for step in result.steps:
            per_step.setdefault(step.name, []).append(step.duration_s)
    return {"router": name, "steps": per_step, "rollback": rollback, "whole": whole}


def cli_drill_s(plan_path: Path, state_dir: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        ["rollout", "drill", str(plan_path), "--as", "alice", "--state-dir", str(state_dir), "--json"],
        cwd=plan_path.parent, capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drills", type=int, default=20)
    args = parser.parse_args()
    results, cli = [], {}
    root = Path(tempfile.mkdtemp(prefix="rollout-bench-drill-"))
    try:
        os.chdir(root)
        (root / "router.json").write_text(json.dumps({"candidate_traffic": 0.0, "shadow": 100.0}))
        file_plan = _plan_file(root, "file", {"path": str(root / "router.json")})
        results.append(bench_router("file", file_plan, args.drills))
        cli["file"] = cli_drill_s(file_plan, root / "state")
        for name, start_stack in (("nginx", NginxStack), ("haproxy", HAProxyStack)):
            if not shutil.which(name):
                continue
            (root / name).mkdir()
            stack = start_stack(root / name)
            try:
                plan = _plan_file(root, name, stack.options())
                results.append(bench_router(name, plan, args.drills))
                cli[name] = cli_drill_s(plan, root / "state")
            finally:
                stack.stop()
    finally:
        os.chdir(ROOT)
        shutil.rmtree(root, ignore_errors=True)

    lines = [
        "# Rollback drills against the built-in routers",
        "",
        (f"`python benchmarks/bench_drill.py --drills {args.drills}` on {os.cpu_count()} cores. Rollback steps: "
        "`route: baseline`, `verify: router`, `run: [true]`. Times in milliseconds, median / max over "
        f"{args.drills} drills (in-process `run_drill`)."),
        "",
        ("| router | route baseline | verify router | run true | rollback (steps + final verify) | whole drill "
        "(+ stage-like split, restore) | `rollout drill --json` end to end, one run |"),
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        steps = r["steps"]
        lines.append(
            f"| {r['router']} | {_ms(steps['route baseline'])} | {_ms(steps['verify router'])} | "
            f"{_ms(steps['run true'])} | {_ms(r['rollback'])} | {_ms(r['whole'])} | {cli[r['router']] * 1000:.0f} |"
        )
    lines += [
        "",
        ("nginx applies a split by rewriting its include, `nginx -t` and a reload, and verifies through its status "
        "endpoint until the old workers are gone; HAProxy changes weights on the runtime socket and dumps the "
        "server state; the file router writes atomically with fsync."),
        "",
    ]
    out = ROOT / "benchmarks" / "results" / "drill.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
