"""The runbooks committed in runbooks/ are what `rollout runbook generate` writes for plans/."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout_cli.plan import load_plan
from rollout_cli.runbook.render import check

ROOT = Path(__file__).resolve().parents[2]
PLANS = sorted((ROOT / "plans").glob("*.yaml"))


@pytest.mark.parametrize("plan_path", PLANS, ids=[p.name for p in PLANS])
def test_committed_runbook_is_current(plan_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the runbook names the plan by its path from the repository root
    relative = plan_path.relative_to(ROOT)
    result = check(load_plan(relative), relative, None, None)
    assert result.status == "current", "\n".join(result.diff) or f"{result.path} is {result.status}"
