"""A plan with shadow guards, and simulated shadow logs, for the shadow comparison's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluate.evaluate_helpers import plan_document

from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml
from rollout_cli.plan.model import Plan

SHADOW_GUARDS = [
    {"metric": "agreement", "min": "90%", "per_segment": True},
    {"metric": "coverage", "min": "95%"},
    {"metric": "shift", "max": 0.1},
    {"metric": "latency_mean", "max_increase": "10%"},
]
SHADOW_METRICS = {
    "coverage": {"kind": "coverage", "timeout": "0.5s"},
    "shift": {"kind": "score_shift"},
    "latency_mean": {"kind": "mean", "column": "latency_ms"},
}


def shadow_plan_text(logs: Path, **options: Any) -> str:
    """The evaluator's test plan, reading `logs` directly, with the shadow guards above."""
    doc = plan_document(logs, **options)
    if "predictions" not in options:
        doc["data"]["predictions"] = str(logs / "predictions*.parquet")
    doc["metrics"].update(SHADOW_METRICS)
    doc["stages"][0]["guards"] = SHADOW_GUARDS
    return plan_yaml(doc)


def write_shadow_plan(folder: Path, **options: Any) -> Plan:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plan.yaml").write_text(shadow_plan_text(folder, **options))
    return load_plan(folder / "plan.yaml")
