"""Plans with a file router in a temporary folder, and the CLI run in-process from there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rollout_support import cli_in_process
from runbook_helpers import plan_text


@dataclass
class Workspace:
    """A folder holding plan.yaml and router.json, the current directory while a test runs."""

    root: Path

    @property
    def plan(self) -> Path:
        return self.root / "plan.yaml"

    @property
    def router(self) -> Path:
        return self.root / "router.json"

    def write_plan(self, text: str) -> Path:
        self.plan.write_text(text)
        return self.plan

    def router_split(self) -> dict[str, object]:
        return json.loads(self.router.read_text())


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.chdir(tmp_path)
    for name in ("ROLLOUT_STATE_DIR", "ROLLOUT_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    ws = Workspace(tmp_path)
    ws.write_plan(plan_text())
    ws.router.write_text(json.dumps({"candidate_traffic": 0.0, "shadow": 100.0, "upstream": "pool-a"}) + "\n")
    yield ws


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def rollout(capsys: pytest.CaptureFixture[str]):
    """Run `rollout ARGS…` in-process; returns the exit code and what it printed."""

    def run(*args: str) -> Run:
        done = cli_in_process(list(args), capsys)
        return Run(done.returncode, done.stdout, done.stderr)

    return run
