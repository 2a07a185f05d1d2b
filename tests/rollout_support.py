"""Shared by tests/state, tests/decide, tests/commands and tests/faults: a small plan on a file
router, and the CLI run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rollout_cli.cli.main import main
from rollout_cli.evaluation.verdict import Check, Evaluation, SrmResult
from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml, yaml_value
from rollout_cli.plan.model import Plan
from rollout_cli.routers.base import RouterSplit
from rollout_cli.stats.outcome import Outcome

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)

STAGES = """\
  - {name: shadow, shadow: 100%, min_duration: 1h, guards: [{metric: agreement, min: 90%}]}
  - {name: canary, traffic: 5%, min_duration: 1h, min_units: 500}
  - {name: ramp, traffic: 50%, min_duration: 1h, approval: required}
  - {name: full, traffic: 100%}
"""



def plan_document(*, name: str = "ranker", decision: Any = "{max_duration: 6h, on_inconclusive: hold}",
                  stages: Any = STAGES, extra_steps: Any = None, require_drill: str | None = None,
                  adapter: str = "file", router_options: Any = None, directory: Path | None = None) -> dict[str, Any]:
    """The shared test plan; `decision`, `stages`, `extra_steps` and `router_options` as data or YAML words."""
    rollback: dict[str, Any] = {"authority": ["team:oncall", "carol"], "approvers": ["carol"], "max_duration": "5m"}
    if require_drill:
        rollback["require_drill"] = require_drill
    rollback["steps"] = [{"route": "baseline"}, {"verify": "router"}, *(yaml_value(extra_steps) or [])]
    options = yaml_value(router_options) if router_options else {"path": str((directory or Path()) / "router.json")}
    return {
        "version": 1,
        "name": name,
        "models": {"baseline": "v1", "candidate": "v2"},
        "router": {"adapter": adapter, "options": options},
        "data": {"predictions": "logs/predictions*.parquet", "outcomes": "logs/outcomes*.parquet"},
        "segments": ["platform"],
        "metrics": {"conversion": {"kind": "proportion", "event": "purchase", "window": "1h"},
                    "agreement": {"kind": "agreement", "tolerance": 0.05}},
        "guards": [{"metric": "conversion", "max_drop": "2%", "per_segment": True}],
        "stages": yaml_value(stages),
        "decision": yaml_value(decision),
        "teams": {"oncall": ["alice", "bob"]},
        "rollback": rollback,
    }


def write_plan(directory: Path, *, name: str = "ranker", **options: Any) -> Path:
    """A valid plan in `directory` (router file `router.json` there); returns its path."""
    path = directory / f"{name}.yaml"
    path.write_text(plan_yaml(plan_document(name=name, directory=directory, **options)))
    return path


def plan_in(directory: Path, **kwargs: Any) -> Plan:
    return load_plan(write_plan(directory, **kwargs))


def evaluation(verdict: str, *, stage: str = "canary", candidate_units: int = 5000,
               failing: tuple[str, ...] = (), reasons: tuple[str, ...] = ()) -> Evaluation:
    checks = tuple(Check(metric="conversion", segment={"platform": seg}, outcome=Outcome.FAIL,
                         reason="conversion is 40% below baseline (allowed: 2%)") for seg in failing)
    return Evaluation(plan="ranker", stage=stage, verdict=Outcome(verdict), since=T0, until=T0,
                      units={"baseline": 90000, "candidate": candidate_units},
                      srm=SrmResult(Outcome.PASS, 0.5, 0.05), checks=checks, reasons=reasons)


def cli(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`rollout ARGS` as a real process, the suite's one CLI runner: the state lives in cwd/.rollout
    unless `env` says otherwise, rich renders 200 columns wide unless `env` sets COLUMNS, and no
    kill point or clock leaks in from the caller's environment unless `env` asks for one."""
    full_env = {key: value for key, value in os.environ.items() if key not in ("ROLLOUT_KILL_AT", "ROLLOUT_NOW")}
    full_env.update({"ROLLOUT_STATE_DIR": str(cwd / ".rollout"), "COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-m", "rollout_cli", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, check=False, input=stdin)


def cli_in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> subprocess.CompletedProcess[str]:
    """`rollout ARGS` through `main()` in this process (faster; for tests that need no fresh process),
    with what it printed, as `cli` returns it; rich renders 200 columns wide, as there."""
    capsys.readouterr()
    width = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "200"  # rich wraps at the terminal width; keep messages on one line
    try:
        code = main(list(args))
    finally:
        if width is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = width
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, captured.out, captured.err)


def run_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`cli_in_process` as (exit code, stdout, stderr)."""
    done = cli_in_process(list(args), capsys)
    return done.returncode, done.stdout, done.stderr


def router_split(directory: Path) -> RouterSplit:
    doc = json.loads((directory / "router.json").read_text())
    return RouterSplit(doc["candidate_traffic"], doc["shadow"])


def simulate(plan: Plan, directory: Path, start: datetime, hours: float, *, candidate_pct: float, shadow_pct: float,
             part: int, units: int = 20_000, segment_effect: tuple[str, str, float] | None = None) -> None:
    """Append `hours` of logs from `start` at the given shares into directory/logs (E's simulator)."""
    from datetime import timedelta

    from rollout_cli.sim.logs import Scenario, simulate_stage, with_window

    scenario = with_window(Scenario(units=units, segment_effect=segment_effect), start,
                           start + timedelta(hours=hours), candidate_pct, shadow_pct)
    simulate_stage(plan, directory / "logs", scenario=scenario, seed=part, part=str(part), first_unit=part * units)


# What a written file must never take the place of (files.check_target), and the first line of the
# refusal after "error: OPTION PATH ".
ODD_TARGETS = {"pipe": "is not a plain file (a pipe or a device?); nothing was written",
               "link": "is a symbolic link; links are not followed, and nothing was written",
               "folder": "is a folder; give a file name"}


def odd_targets(directory: Path, suffix: str) -> dict[Path, str]:
    """A FIFO (standing in for a device), a link to a kept file and a folder, each named `KIND{suffix}`
    in `directory`: path -> the refusal's words."""
    kept = directory / f"kept{suffix}"
    kept.write_text("keep me")
    os.mkfifo(directory / f"pipe{suffix}")
    (directory / f"link{suffix}").symlink_to(kept)
    (directory / f"folder{suffix}").mkdir()
    return {directory / f"{kind}{suffix}": words for kind, words in ODD_TARGETS.items()}


def assert_odd_targets_kept(directory: Path, suffix: str, *, alone: bool = True) -> None:
    """Each odd target is still what it was, and nothing else was written beside them (`alone`: nothing
    at all in `directory`, else nothing named with `suffix`)."""
    import stat

    kept = directory / f"kept{suffix}"
    assert stat.S_ISFIFO((directory / f"pipe{suffix}").lstat().st_mode)
    assert (directory / f"link{suffix}").readlink() == kept and kept.read_text() == "keep me"
    found = directory.iterdir() if alone else directory.glob(f"*{suffix}*")
    assert sorted(p.name for p in found) == sorted(f"{k}{suffix}" for k in (*ODD_TARGETS, "kept"))
