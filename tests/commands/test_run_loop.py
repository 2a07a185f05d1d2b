"""`rollout run`: ticks in a loop, stops when the rollout ends; Ctrl-C never cuts a transition."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from rollout_support import T0, cli, router_split, simulate, write_plan

from rollout_cli.plan import load_plan
from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit
from rollout_cli.state import journal
from rollout_cli.state.store import StateStore


def test_run_ticks_until_max_ticks(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    env = {"ROLLOUT_NOW": T0.isoformat()}
    assert cli(["start", str(path), "--as", "alice"], cwd=tmp_path, env=env).returncode == 0
    simulate(load_plan(path), tmp_path, T0, 1, candidate_pct=0, shadow_pct=100, part=1)
    later = {"ROLLOUT_NOW": (T0 + timedelta(hours=1)).isoformat()}
    result = cli(["run", str(path), "--interval", "0s", "--max-ticks", "2", "--json"], cwd=tmp_path, env=later)
    doc = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert [(t["action"], t["from_stage"]) for t in doc["ticks"]] == [("advance", "shadow"), ("hold", "canary")]
    assert doc["ticks"][1]["reason"] == "stage canary has run 0s of its min_duration 1h (1h left)"
    assert (doc["status"], doc["interrupted"]) == ("running", False)
    assert router_split(tmp_path) == RouterSplit(5, 0)


def test_ctrl_c_lets_a_running_rollback_finish(tmp_path: Path) -> None:
    # the step that runs when Ctrl-C arrives takes 1.5 s; the rollback must still finish whole
    path = write_plan(tmp_path, extra_steps="    - run: [sleep, '1.5']\n")
    plan = load_plan(path)
    assert cli(["start", str(path), "--as", "alice"], cwd=tmp_path, env={"ROLLOUT_NOW": T0.isoformat()}).returncode == 0
    simulate(plan, tmp_path, T0, 1, candidate_pct=0, shadow_pct=100, part=1)
    one_hour = {"ROLLOUT_NOW": (T0 + timedelta(hours=1)).isoformat()}
    assert cli(["tick", str(path)], cwd=tmp_path, env=one_hour).returncode == 0  # into canary
    simulate(plan, tmp_path, T0 + timedelta(hours=1), 1, candidate_pct=5, shadow_pct=0, part=2, units=60_000,
             segment_effect=("platform", "ios", -0.6))
    env = {**os.environ, "ROLLOUT_STATE_DIR": str(tmp_path / ".rollout"),
           "ROLLOUT_NOW": (T0 + timedelta(hours=2)).isoformat()}
    proc = subprocess.Popen([sys.executable, "-m", "rollout_cli", "run", str(path), "--interval", "10s"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = StateStore.open(tmp_path / ".rollout")
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline and not any(t.kind == "rollback" for t in journal.all_transitions(store, "ranker")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)  # the rollback is in flight (its sleep step runs 1.5 s)
    _, err = proc.communicate(timeout=30)
    state = store.get("ranker")
    assert state is not None and state.status == "rolled_back"
    assert router_split(tmp_path) == BASELINE_ONLY
    assert journal.open_transitions(store, "ranker") == []
    steps = store.events("ranker", "rollback")[-1].evidence["steps"]  # type: ignore[index]
    assert [s["outcome"] for s in steps] == ["pass", "pass", "pass"]
    assert proc.returncode == 130 and "stopped between ticks: no transition was cut short" in err


def test_run_keeps_watching_through_missing_logs(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    assert cli(["start", str(path), "--as", "alice"], cwd=tmp_path).returncode == 0
    result = cli(["run", str(path), "--interval", "0s", "--max-ticks", "2", "--json"], cwd=tmp_path)
    doc = json.loads(result.stdout)
    assert result.returncode == 2
    assert [t["reason"] for t in doc["ticks"]] == [("data error: no predictions files match "
                                                   "'logs/predictions*.parquet'")] * 2
    assert doc["status"] == "running" and router_split(tmp_path) == RouterSplit(0, 100)
