"""The plan the runbook and drill tests share (a file router, a few guards, a rollback)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rollout_cli.plan.document import plan_yaml

RunSteps = list[tuple[list[str], str | None]]


def plan_document(run_steps: RunSteps | None = None, budget: str = "5m",
                  router: dict[str, Any] | None = None) -> dict[str, Any]:
    """The test plan, with `run` steps given as (argv, timeout) and, optionally, another router."""
    steps: list[dict[str, Any]] = [{"route": "baseline"}, {"verify": "router"}]
    for argv, timeout in run_steps if run_steps is not None else [(["true"], "5s")]:
        steps.append({"run": argv, **({"timeout": timeout} if timeout else {})})
    return {
        "version": 1,
        "name": "ranker-v7",
        "description": "Ranker v7 replacing v6",
        "owner": "ranking-team",
        "models": {"baseline": "ranker-v6", "candidate": "ranker-v7"},
        "router": router or {"adapter": "file", "options": {"path": "router.json"}},
        "data": {"predictions": "logs/predictions.parquet", "outcomes": "logs/outcomes.parquet",
                 "columns": {"unit_id": "user_id"}},
        "segments": ["country"],
        "metrics": {
            "conversion": {"kind": "proportion", "event": "purchase", "window": "1h"},
            "latency_p99": {"kind": "quantile", "column": "latency_ms", "q": 0.99},
            "error_rate": {"kind": "proportion", "column": "error"},
            "agreement": {"kind": "agreement", "tolerance": 0.05},
        },
        "guards": [
            {"metric": "conversion", "max_drop": "2%", "per_segment": True},
            {"metric": "latency_p99", "max_increase": "10%", "max": 250},
            {"metric": "error_rate", "max": "0.5%"},
        ],
        "stages": [
            {"name": "shadow", "shadow": "100%", "min_duration": "2h",
             "guards": [{"metric": "agreement", "min": "90%"}]},
            {"name": "canary", "traffic": "5%", "min_duration": "1h"},
            {"name": "full", "traffic": "100%"},
        ],
        "decision": {"confidence": "95%", "max_duration": "72h", "on_inconclusive": "hold"},
        "teams": {"oncall": ["bob", "alice"]},
        "rollback": {
            "authority": ["team:oncall", "carol"],
            "approvers": ["carol"],
            "max_duration": budget,
            "require_drill": "14d",
            "steps": steps,
            "user_impact": "Users in the candidate arm get ranker-v6 results from their next request on.",
            "contacts": ["#ranking-oncall", "pager: ranking"],
        },
    }


def plan_text(run_steps: RunSteps | None = None, budget: str = "5m", router: dict[str, Any] | None = None) -> str:
    """The test plan as YAML."""
    return plan_yaml(plan_document(run_steps, budget, router))


def edited_plan_text(edit: Callable[[dict[str, Any]], object]) -> str:
    """The test plan as YAML after `edit` changed its document in place."""
    document = plan_document()
    edit(document)
    return plan_yaml(document)
