"""What `evaluate` and `simulate` say to a new user: reasons kept whole, the good direction said as
such, segments left unjudged named, and simulated logs fresh and where `plan init` reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rollout_cli.cli.evaluate_view import split_reason

NOW = "2026-03-02T12:00:00+00:00"


def rollout(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROLLOUT_NOW": NOW, "COLUMNS": "200"}
    env.pop("ROLLOUT_STATE_DIR", None)
    return subprocess.run([sys.executable, "-m", "rollout_cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_a_reason_is_split_only_outside_parentheses() -> None:
    assert split_reason("conversion: too few units (candidate 11; need 100 per arm); wait") == (
        "conversion: too few units (candidate 11; need 100 per arm)", "wait")
    assert split_reason("no detail (a; b)") == ("no detail (a; b)", "")
    assert split_reason("head; tail; more") == ("head", "tail; more")


@pytest.fixture(scope="module")
def started_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("init")
    assert rollout("plan", "init", "churn", cwd=root).returncode == 0
    return root


def test_simulate_writes_fresh_logs_where_plan_init_reads_them(started_plan: Path) -> None:
    done = rollout("simulate", "plans/churn.yaml", "--units", "1500", "--candidate", "50", "--effect", "0.3",
                   "--json", cwd=started_plan)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["end"] == NOW  # ends now, not at a fixed date long past
    assert Path(doc["predictions"]) == Path("logs/churn/predictions/simulated.parquet")
    assert (started_plan / "logs/churn/outcomes/simulated.parquet").is_file()
    evaluated = rollout("evaluate", "plans/churn.yaml", "--stage", "canary", cwd=started_plan)
    assert "stale" not in evaluated.stdout and "no predictions files match" not in evaluated.stderr
    # 1,500 units over two platforms and several countries: some segments are too small to judge
    assert "not judged per segment (too few units; decision.min_units_per_check):" in evaluated.stdout
    checks = json.loads(rollout("evaluate", "plans/churn.yaml", "--stage", "canary", "--json",
                                cwd=started_plan).stdout)["checks"]
    whole = next(c for c in checks if c["metric"] == "conversion" and c["segment"] is None)
    assert whole["effect"] > 0
    assert "% above baseline (the good direction; allowed: a drop of up to 2%)" in whole["reason"]
