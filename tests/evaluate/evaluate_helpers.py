"""Plans and simulated logs in a temporary folder, for the evaluator's tests."""

from __future__ import annotations

from pathlib import Path

from rollout_cli.plan import load_plan
from rollout_cli.plan.model import Plan
from rollout_cli.sim.logs import Scenario, SimulatedLogs, simulate_logs

DEFAULT_GUARDS = """
guards:
  - {metric: conversion, max_drop: 2%, per_segment: true}
  - {metric: revenue, max_drop: 3%}
  - {metric: latency_p99, max_increase: 10%, max: 250}
  - {metric: error_rate, max: 0.5%}
"""


def plan_text(logs: Path, *, guards: str = DEFAULT_GUARDS, decision: str = "{confidence: 95%}",
              canary: str = "{name: canary, traffic: 50%}", columns: str = "{unit_id: user_id}",
              predictions: str | None = None, outcomes: str | None = None) -> str:
    return f"""version: 1
name: ranker-test
description: evaluator test plan
owner: ranking-team
models: {{baseline: ranker-v41, candidate: ranker-v42}}
router: {{adapter: file, options: {{path: {logs / 'router.json'}}}}}
data:
  predictions: {predictions or str(logs / 'predictions*.parquet')}
  outcomes: {outcomes or str(logs / 'outcomes*.parquet')}
  training: {logs / 'training.parquet'}
  columns: {columns}
segments: [country, platform]
metrics:
  conversion:   {{kind: proportion, event: purchase, window: 1h}}
  revenue:      {{kind: mean, event: purchase, window: 1h}}
  latency_p99:  {{kind: quantile, column: latency_ms, q: 0.99}}
  error_rate:   {{kind: proportion, column: error}}
  agreement:    {{kind: agreement, tolerance: 0.05}}
{guards}
stages:
  - name: shadow
    shadow: 100%
    min_duration: 1h
    guards:
      - {{metric: agreement, min: 90%}}
      - {{metric: latency_p99, max: 250}}
  - {canary}
  - {{name: full, traffic: 100%}}
decision: {decision}
drift:
  features: [price, query_length]
teams:
  oncall: [alice, bob]
rollback:
  authority: [team:oncall]
  max_duration: 20m
  steps:
    - route: baseline
    - verify: router
"""


def write_plan(root: Path, **options: str) -> Plan:
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = root / "plan.yaml"
    path.write_text(plan_text(logs, **options))
    return load_plan(path)


def simulate(plan: Plan, root: Path, seed: int = 7, **knobs: object) -> SimulatedLogs:
    return simulate_logs(plan, root / "logs", scenario=Scenario(**knobs), seed=seed)  # type: ignore[arg-type]
