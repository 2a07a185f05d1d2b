"""The plan language: load (safe YAML with locations), validate (schema + rules), model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rollout_cli.errors import PlanError
from rollout_cli.plan.build import build_plan
from rollout_cli.plan.load import LoadError, load_plan_file
from rollout_cli.plan.model import Plan
from rollout_cli.secrets import remember_references


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
    # From here on every output of this process scrubs the values the plan's ${env:…} references
    # hold, whether or not a command resolves them (a token pasted into --reason, say).
    remember_references(list(_texts(doc.data)))
    return build_plan(doc)


def _texts(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
