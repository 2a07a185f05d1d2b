"""The plan language: load (safe YAML with locations), validate (schema + rules), model."""

from __future__ import annotations

from pathlib import Path

from rollout_cli.errors import PlanError
from rollout_cli.plan.load import LoadError, load_plan_file
from rollout_cli.plan.model import Plan, build_plan


def load_plan(path: str | Path) -> Plan:
    """Load, validate and build the plan at `path`. Raises PlanError listing every problem."""
    from rollout_cli.plan.validate import validate_document

    try:
        doc = load_plan_file(path)
    except LoadError as exc:
        raise PlanError(f"{path}: invalid plan", [exc.problem]) from None
    problems = validate_document(doc)
    if problems:
        raise PlanError(f"{path}: invalid plan ({len(problems)} problems)", problems)
    return build_plan(doc)
