"""Plans and simulated logs in a temporary folder, for the evaluator's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml, yaml_value
from rollout_cli.plan.model import Plan
from rollout_cli.sim.logs import Scenario, SimulatedLogs, simulate_logs

DEFAULT_GUARDS: list[dict[str, Any]] = [
    {"metric": "conversion", "max_drop": "2%", "per_segment": True},
    {"metric": "revenue", "max_drop": "3%"},
    {"metric": "latency_p99", "max_increase": "10%", "max": 250},
    {"metric": "error_rate", "max": "0.5%"},
]


def plan_document(logs: Path, *, guards: list[dict[str, Any]] = DEFAULT_GUARDS, decision: Any = "{confidence: 95%}",
                  canary: Any = "{name: canary, traffic: 50%}", columns: Any = "{unit_id: user_id}",
                  predictions: Any = None, outcomes: Any = None) -> dict[str, Any]:
    """The evaluator's test plan; `decision`, `canary`, `columns` and the data sources may be
    given as data or as the YAML a person would write."""
    return {
        "version": 1,
        "name": "ranker-test",
        "description": "evaluator test plan",
        "owner": "ranking-team",
        "models": {"baseline": "ranker-v41", "candidate": "ranker-v42"},
        "router": {"adapter": "file", "options": {"path": str(logs / "router.json")}},
        "data": {"predictions": yaml_value(predictions) or str(logs / "predictions*.parquet"),
                 "outcomes": yaml_value(outcomes) or str(logs / "outcomes*.parquet"),
                 "training": str(logs / "training.parquet"),
                 "columns": yaml_value(columns)},
        "segments": ["country", "platform"],
        "metrics": {
            "conversion": {"kind": "proportion", "event": "purchase", "window": "1h"},
            "revenue": {"kind": "mean", "event": "purchase", "window": "1h"},
            "latency_p99": {"kind": "quantile", "column": "latency_ms", "q": 0.99},
            "error_rate": {"kind": "proportion", "column": "error"},
            "agreement": {"kind": "agreement", "tolerance": 0.05},
        },
        "guards": guards,
        "stages": [
            {"name": "shadow", "shadow": "100%", "min_duration": "1h",
             "guards": [{"metric": "agreement", "min": "90%"}, {"metric": "latency_p99", "max": 250}]},
            yaml_value(canary),
            {"name": "full", "traffic": "100%"},
        ],
        "decision": yaml_value(decision),
        "drift": {"features": ["price", "query_length"]},
        "teams": {"oncall": ["alice", "bob"]},
        "rollback": {"authority": ["team:oncall"], "max_duration": "20m",
                     "steps": [{"route": "baseline"}, {"verify": "router"}]},
    }


def write_plan(root: Path, **options: Any) -> Plan:
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = root / "plan.yaml"
    path.write_text(plan_yaml(plan_document(logs, **options)))
    return load_plan(path)


def simulate(plan: Plan, root: Path, seed: int = 7, **knobs: Any) -> SimulatedLogs:
    return simulate_logs(plan, root / "logs", scenario=Scenario(**knobs), seed=seed)
