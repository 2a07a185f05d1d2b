"""The hooks offered to other repositories run the real commands, as pre-commit would."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import yaml
from runbook_helpers import plan_text

ROOT = Path(__file__).resolve().parents[2]


def _hooks() -> dict[str, dict]:
    return {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def _run(hook: dict, files: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(hook["entry"]) + (files if hook["pass_filenames"] else [])
    env = {"PATH": os.environ["PATH"], "COLUMNS": "200"}
    if "PYTHONPATH" in os.environ:  # the console script runs the code under test
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, check=False)


def test_hooks_validate_plans_and_check_runbooks(tmp_path: Path) -> None:
    hooks = _hooks()
    assert set(hooks) == {"rollout-plan-validate", "rollout-runbook-check"}
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "ranker-v7.yaml").write_text(plan_text())
    validate = _run(hooks["rollout-plan-validate"], ["plans/ranker-v7.yaml"], tmp_path)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    missing = _run(hooks["rollout-runbook-check"], [], tmp_path)
    assert missing.returncode == 1
    assert missing.stdout.splitlines() == [
        "runbooks/ranker-v7.md is missing", "run: rollout runbook generate plans/ranker-v7.yaml"]
    subprocess.run(["rollout", "runbook", "generate", "plans/"], cwd=tmp_path, check=True, capture_output=True)
    current = _run(hooks["rollout-runbook-check"], [], tmp_path)
    assert (current.returncode, current.stdout) == (0, "runbooks/ranker-v7.md is up to date\n")
