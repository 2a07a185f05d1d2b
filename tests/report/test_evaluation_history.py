"""The evaluation history: every evaluation the controller or a person ran, kept compactly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from rollout_cli.sim.demo import DemoSummary


def _rollout(*args: str, cwd: Path, actor: str = "dana") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROLLOUT_ACTOR": actor}
    return subprocess.run([sys.executable, "-m", "rollout_cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env, check=False)


def test_every_tick_of_the_demo_is_kept_with_estimates_intervals_and_limits(demo: DemoSummary, tmp_path: Path) -> None:
    result = _rollout("history", str(demo.plan_path), "--state-dir", str(demo.directory / ".rollout"),
                      "--evaluations", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    kept = json.loads(result.stdout)["evaluations"]
    judged = [t for t in demo.ticks if t.verdict is not None]
    assert [(e["stage"], e["verdict"], e["actor"], e["source"]) for e in kept] == \
        [(t.stage, t.verdict, "controller", "tick") for t in judged]
    last = kept[-1]
    ios = next(c for c in last["checks"] if c["segment"] == {"platform": "ios"})
    assert (ios["outcome"], ios["guard"], ios["limits"]) == ("fail", "max_drop 10%", [-0.1, None])
    low, high = ios["interval"]
    assert low <= ios["estimate"] <= high < -0.1  # the whole interval is past the limit: why it failed
    assert last["srm"]["outcome"] == "pass" and last["units"]["candidate"] > 0


def test_a_person_s_evaluate_is_kept_too_and_no_store_is_made_for_it(demo: DemoSummary, tmp_path: Path) -> None:
    shutil.copytree(demo.directory / ".rollout", tmp_path / "state")
    before = len(json.loads(_rollout("history", str(demo.plan_path), "--state-dir", str(tmp_path / "state"),
                                     "--evaluations", "--json", cwd=tmp_path).stdout)["evaluations"])
    evaluated = _rollout("evaluate", str(demo.plan_path), "--stage", "ramp-25", "--state-dir", str(tmp_path / "state"),
                         "--json", cwd=tmp_path)
    assert evaluated.returncode in (1, 3), evaluated.stderr
    kept = json.loads(_rollout("history", str(demo.plan_path), "--state-dir", str(tmp_path / "state"),
                               "--evaluations", "--json", cwd=tmp_path).stdout)["evaluations"]
    assert len(kept) == before + 1
    assert (kept[-1]["actor"], kept[-1]["source"], kept[-1]["stage"]) == ("dana", "evaluate", "ramp-25")
    assert kept[-1]["verdict"] == json.loads(evaluated.stdout)["verdict"]
    elsewhere = _rollout("evaluate", str(demo.plan_path), "--stage", "canary", "--state-dir", str(tmp_path / "none"),
                         "--json", cwd=tmp_path)
    assert elsewhere.returncode in (0, 1, 3) and not (tmp_path / "none").exists()
