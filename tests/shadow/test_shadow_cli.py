"""`rollout simulate --scenario shadow-…`, `rollout shadow` and `rollout evaluate` on a shadow stage, as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from shadow_helpers import shadow_plan_text


def rollout(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROLLOUT_NOW": "2026-01-05T06:00:00Z", "COLUMNS": "200"}
    env.pop("ROLLOUT_STATE_DIR", None)
    return subprocess.run([sys.executable, "-m", "rollout_cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def missing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("missing")
    (folder / "plan.yaml").write_text(shadow_plan_text(folder))
    done = rollout("simulate", "plan.yaml", "--scenario", "shadow-missing", "--out", str(folder), "--units", "3000",
                   cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


def test_shadow_json_has_every_figure_and_exits_1_on_a_failed_guard(missing: Path) -> None:
    done = rollout("shadow", "plan.yaml", "--json", "--examples", "2", "--segment", "platform", cwd=missing)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert doc["verdict"] == "fail" and doc["segments"] == ["platform"]
    assert {r["segment"] for r in doc["segment_rows"]} == {"platform"}
    cov = doc["coverage"]
    assert cov["missing"] == cov["baseline_requests"] - cov["paired"] > 0 and cov["timeout_ms"] == 500
    assert [f["kind"] for f in doc["findings"]] == ["missing_answers"]
    assert doc["examples"] == []  # missing answers are not disagreements
    failed = [c["metric"] for c in doc["checks"] if c["outcome"] == "fail"]
    assert failed == ["coverage"]


def test_shadow_for_people_prints_findings_and_tables(missing: Path) -> None:
    done = rollout("shadow", "plan.yaml", "--until", "2026-01-05T06:00:00", cwd=missing)
    assert done.returncode == 1, done.stderr
    out = done.stdout
    assert "shadow stage shadow: fail" in out and "missing_answers" in out
    for title in ("segments (most worse than overall first)", "score distributions", "latency by load",
                  "shadow guards"):
        assert title in out


def test_evaluate_judges_the_paired_guards_too(missing: Path) -> None:
    done = rollout("evaluate", "plan.yaml", "--stage", "shadow", "--json", cwd=missing)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    coverage = next(c for c in doc["checks"] if c["metric"] == "coverage")
    assert coverage["outcome"] == "fail" and coverage["guard"] == "min 95%"
    assert next(c for c in doc["checks"] if c["metric"] == "shift")["outcome"] == "pass"


def test_a_bad_option_is_a_usage_error(missing: Path) -> None:
    done = rollout("shadow", "plan.yaml", "--stage", "canary", cwd=missing)
    assert done.returncode == 2 and "stage 'canary' is not a shadow stage" in done.stderr
    done = rollout("shadow", "plan.yaml", "--segment", "nope", cwd=missing)
    assert done.returncode == 2 and "column 'nope' (segment) is missing from predictions" in done.stderr


def test_an_until_after_now_ends_the_window_now(missing: Path) -> None:
    done = rollout("shadow", "plan.yaml", "--until", "2030-01-01", "--json", "--examples", "0", cwd=missing)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["window"]["until"] == "2026-01-05T06:00:00+00:00"
    text = rollout("shadow", "plan.yaml", "--until", "2030-01-01", "--examples", "0", cwd=missing)
    assert "note: --until 2030-01-01 is after now (2026-01-05T06:00:00Z): the window ends now" in text.stderr
