"""The evaluation history: every evaluation the controller or a person runs, kept compactly.

`keep_evaluation` turns an Evaluation into an EvaluationRecord — the verdict, SRM and, per
check, the estimate, its always-valid interval and the guard's limits on the same scale (so a
chart of the history needs neither the plan nor the logs) — and stores it. docs/report.md.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from rollout_cli.evaluation.verdict import Check, Evaluation
from rollout_cli.plan.model import Guard, Plan
from rollout_cli.state.records import CheckRecord, EvaluationRecord
from rollout_cli.state.store import StateStore


def guard_limits(plan: Plan, stage_name: str, check: Check) -> tuple[float | None, float | None]:
    """The limits of `check`'s guard on the scale of its estimate and interval (judge.py):
    a relative guard's -max_drop / +max_increase; a quantile bound's share of requests beyond it
    (at most 1 - q above a max, q below a min); otherwise the guard's own min / max."""
    try:
        guards = plan.stage(stage_name).guards
    except KeyError:
        return None, None
    guard = _guard_of(guards, check)
    if guard is None:
        return None, None
    if check.guard.startswith(("max_drop", "max_increase")):
        return (-guard.max_drop if guard.max_drop is not None else None), guard.max_increase
    q = guard.metric.q
    if guard.metric.kind == "quantile" and q is not None:
        return None, (1.0 - q if check.guard.startswith("max") else q)
    return guard.min, guard.max


def _guard_of(guards: tuple[Guard, ...], check: Check) -> Guard | None:
    matching = [g for g in guards if g.metric.name == check.metric]
    relative = check.guard.startswith(("max_drop", "max_increase"))
    for guard in matching:
        if guard.is_relative == relative or (not relative and (guard.min is not None or guard.max is not None)):
            return guard
    return matching[0] if matching else None


def evaluation_record(plan: Plan, evaluation: Evaluation, *, actor: str, source: str, at: datetime) -> EvaluationRecord:
    checks = []
    for check in evaluation.checks:
        low, high = check.interval if check.interval else (None, None)
        limit_low, limit_high = guard_limits(plan, evaluation.stage, check)
        segment = next(iter(check.segment.items())) if check.segment else None
        checks.append(CheckRecord(
            metric=check.metric, guard=check.guard,
            segment=(str(segment[0]), str(segment[1])) if segment else None, outcome=check.outcome.value,
            estimate=check.effect, low=low, high=high, limit_low=limit_low, limit_high=limit_high,
            baseline=check.baseline, candidate=check.candidate,
            baseline_units=int(check.units.get("baseline", 0)), candidate_units=int(check.units.get("candidate", 0))))
    return EvaluationRecord(
        plan=plan.name, at=at, actor=actor, source=source, stage=evaluation.stage, verdict=evaluation.verdict.value,
        since=evaluation.since, until=evaluation.until, baseline_units=int(evaluation.units.get("baseline", 0)),
        candidate_units=int(evaluation.units.get("candidate", 0)), srm_outcome=evaluation.srm.outcome.value,
        srm_p_value=evaluation.srm.p_value, reasons=tuple(evaluation.reasons), checks=tuple(checks))


def keep_evaluation(store: StateStore, plan: Plan, evaluation: Evaluation, *, actor: str, source: str,
                    at: datetime, conn: sqlite3.Connection | None = None) -> int:
    """Record `evaluation` in the history; its id."""
    return store.record_evaluation(evaluation_record(plan, evaluation, actor=actor, source=source, at=at), conn=conn)
