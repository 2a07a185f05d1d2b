"""Validate a loaded plan: the JSON Schema, then every rule of docs/plan.md, all problems at once.

The rules run even when the schema found problems (reading the document tolerantly), so a
single run lists everything there is to fix. Each problem is reported once, located at the
line and column of the value (or key) it is about, in file order.
"""

from __future__ import annotations

from rollout_cli.plan.load import LoadedDocument, Problem
from rollout_cli.plan.rules_common import RuleContext
from rollout_cli.plan.rules_drift import rule_drift
from rollout_cli.plan.rules_engine import rule_engine
from rollout_cli.plan.rules_prometheus import rule_prometheus
from rollout_cli.plan.rules_ramp import rule_guards, rule_stages
from rollout_cli.plan.rules_refs import (
    rule_basics,
    rule_data,
    rule_durations,
    rule_metrics,
    rule_numbers,
    rule_rollback,
    rule_router,
)
from rollout_cli.plan.rules_secrets import rule_secrets
from rollout_cli.plan.schema_check import schema_problems, type_word

RULES = (
    rule_numbers,
    rule_basics,
    rule_data,
    rule_durations,
    rule_metrics,
    rule_prometheus,
    rule_stages,
    rule_guards,
    rule_rollback,
    rule_drift,
    rule_engine,
    rule_secrets,
    rule_router,  # after rule_secrets: an inline secret among the options is reported once
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
