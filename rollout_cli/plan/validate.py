"""Validate a loaded plan: the JSON Schema, then every rule of SPEC §2, all problems at once.

The rules run even when the schema found problems (reading the document tolerantly), so a
single run lists everything there is to fix. Each problem is reported once, located at the
line and column of the value (or key) it is about, in file order.
"""

from __future__ import annotations

from rollout_cli.plan.load import LoadedDocument, Problem
from rollout_cli.plan.rules_common import RuleContext
from rollout_cli.plan.rules_drift import check_drift
from rollout_cli.plan.rules_ramp import check_guards, check_stages
from rollout_cli.plan.rules_refs import (
    check_basics,
    check_data,
    check_durations,
    check_metrics,
    check_numbers,
    check_rollback,
    check_router,
)
from rollout_cli.plan.rules_secrets import check_secrets
from rollout_cli.plan.schema_check import schema_problems, type_word

RULES = (
    check_numbers,
    check_basics,
    check_data,
    check_durations,
    check_metrics,
    check_stages,
    check_guards,
    check_rollback,
    check_drift,
    check_secrets,
    check_router,  # after check_secrets: an inline secret among the options is reported once
)


def validate_document(doc: LoadedDocument) -> list[Problem]:
    """Every problem with `doc`, sorted by position; empty when the plan is valid."""
    if not isinstance(doc.data, dict):
        loc = doc.locate("$")
        return [
            Problem(
                doc.file, loc.line, loc.column, "$", f"a plan is a YAML mapping of sections, not {type_word(doc.data)}"
            )
        ]
    found = schema_problems(doc)
    ctx = RuleContext(doc)
    for rule in RULES:
        rule(ctx)
    found.extend(ctx.problems)
    unique = list(dict.fromkeys(found))  # Problem is frozen, hence hashable: drop exact repeats
    return sorted(unique, key=lambda p: (p.line, p.column, p.path))
