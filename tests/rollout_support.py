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

from rollout_cli.evaluation.verdict import Check, Evaluation, SrmResult
from rollout_cli.plan import load_plan
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

PLAN = """\
version: 1
name: {name}
models: {{baseline: v1, candidate: v2}}
router:
  adapter: {adapter}
  options: {router_options}
data:
  predictions: logs/predictions*.parquet
  outcomes: logs/outcomes*.parquet
segments: [platform]
metrics:
  conversion: {{kind: proportion, event: purchase, window: 1h}}
  agreement: {{kind: agreement, tolerance: 0.05}}
guards:
  - {{metric: conversion, max_drop: 2%, per_segment: true}}
stages:
{stages}decision: {decision}
teams:
  oncall: [alice, bob]
rollback:
  authority: [team:oncall, carol]
  approvers: [carol]
  max_duration: 5m
{require_drill}  steps:
    - route: baseline
    - verify: router
{extra_steps}"""


def write_plan(directory: Path, *, name: str = "ranker", decision: str = "{max_duration: 6h, on_inconclusive: hold}",
               stages: str = STAGES, extra_steps: str = "", require_drill: str | None = None,
               adapter: str = "file", router_options: str | None = None) -> Path:
    """A valid plan in `directory` (router file `router.json` there); returns its path."""
    path = directory / f"{name}.yaml"
    options = router_options or json.dumps({"path": str(directory / "router.json")})
    path.write_text(PLAN.format(name=name, decision=decision, stages=stages, extra_steps=extra_steps,
                                require_drill=f"  require_drill: {require_drill}\n" if require_drill else "",
                                adapter=adapter, router_options=options))
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


def cli(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`rollout ARGS` as a real process; the state lives in cwd/.rollout unless env says otherwise."""
    full_env = {**os.environ, "ROLLOUT_STATE_DIR": str(cwd / ".rollout"), "COLUMNS": "200", **(env or {})}
    full_env.pop("ROLLOUT_KILL_AT", None) if not (env and "ROLLOUT_KILL_AT" in env) else None
    return subprocess.run([sys.executable, "-m", "rollout_cli", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, check=False)


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
