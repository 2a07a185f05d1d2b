"""Everything a report shows, gathered from the plan and the state store as plain data.

Nothing here draws or formats HTML; charts.py and page.py turn it into the page. Optional
sections (shadow comparison, drift, anything later) arrive as `Section`s: plain data that the
page renders generically, so a new kind of evidence plugs in without touching the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollout_cli.plan.model import Plan
from rollout_cli.runbook.words import automatic_policy, describe_guard, guard_groups, inconclusive_policy, stage_share
from rollout_cli.state.drills import drills_on_record
from rollout_cli.state.records import AuditEvent, CheckRecord, EvaluationRecord, RolloutState
from rollout_cli.state.store import StateStore
from rollout_cli.state.timeline import StagePeriod, stage_periods

Population = tuple[str, str] | None


@dataclass(frozen=True)
class SeriesChart:
    """A line over time for an optional section, with an optional limit line and an optional
    interval at each point (`bands`: time, low, high; an unbounded high is None)."""

    title: str
    y_label: str
    points: tuple[tuple[datetime, float], ...]
    limit: float | None = None
    bands: tuple[tuple[datetime, float, float | None], ...] = ()


@dataclass(frozen=True)
class IntervalChart:
    """Estimates with their intervals, one row per population (a forest plot), against a limit.
    `rows`: (label, estimate, low, high, flagged); flagged rows are drawn in red."""

    title: str
    x_label: str
    rows: tuple[tuple[str, float, float | None, float | None, bool], ...]
    limit: float | None = None
    reference: float | None = None  # e.g. the overall value, drawn grey
    percent: bool = False


@dataclass(frozen=True)
class Section:
    """An optional section (shadow comparison, drift, ...): shown only when a provider returns one."""

    key: str  # an HTML id: letters, digits and dashes
    title: str
    paragraphs: tuple[str, ...] = ()
    table: tuple[tuple[str, ...], ...] = ()  # the first row is the header
    charts: tuple[SeriesChart | IntervalChart, ...] = ()


@dataclass(frozen=True)
class GuardHistory:
    """One guard (a metric and its limit in words) over time, per population."""

    metric: str
    guard: str
    limits: tuple[float | None, float | None]
    relative: bool
    points: dict[Population, list[tuple[datetime, str, CheckRecord]]]  # (evaluation time, stage, check)


@dataclass(frozen=True)
class Run:
    """A drill or a rollback, with its step timings against the plan's budget."""

    kind: str  # "drill" | "rollback"
    at: datetime
    actor: str
    outcome: str
    duration_s: float
    budget_s: float
    steps: tuple[tuple[str, float, str], ...]  # (name, seconds, outcome)
    where: str = ""  # the stage a rollback left


@dataclass(frozen=True)
class RollbackLead:
    """What a rollback report leads with: what failed, where, and when."""

    at: datetime
    stage: str | None
    actor: str
    reason: str
    verified: bool
    failing: tuple[CheckRecord, ...]


@dataclass(frozen=True)
class ReportData:
    plan: Plan
    state: RolloutState
    generated_at: datetime
    periods: list[StagePeriod]
    events: list[AuditEvent]
    evaluations: list[EvaluationRecord]
    guards: list[GuardHistory]
    runs: list[Run]
    lead: RollbackLead | None
    guard_words: list[tuple[str, list[str]]]  # (stages in words, sentences)
    policies: list[str]
    sections: list[Section] = field(default_factory=list)

    @property
    def latest(self) -> EvaluationRecord | None:
        judged = [e for e in self.evaluations if e.checks]
        return judged[-1] if judged else None


def guard_histories(evaluations: list[EvaluationRecord]) -> list[GuardHistory]:
    """The checks of every evaluation regrouped per guard, then per population (whole first)."""
    found: dict[tuple[str, str], GuardHistory] = {}
    for evaluation in evaluations:
        for check in evaluation.checks:
            key = (check.metric, check.guard)
            history = found.get(key)
            if history is None:
                relative = check.guard.startswith(("max_drop", "max_increase"))
                history = found[key] = GuardHistory(check.metric, check.guard, (check.limit_low, check.limit_high),
                                                    relative, {})
            history.points.setdefault(check.segment, []).append((evaluation.at, evaluation.stage, check))
    for history in found.values():
        ordered = sorted(history.points.items(), key=lambda item: (item[0] is not None, item[0] or ("", "")))
        history.points.clear()
        history.points.update(ordered)
    return list(found.values())


def _runs(plan: Plan, store: StateStore, events: list[AuditEvent]) -> list[Run]:
    runs = [Run("drill", d.at, d.actor, d.outcome, d.duration_s, d.budget_s,
                tuple((s.name, s.duration_s, s.outcome) for s in d.steps), d.router)
            for d in drills_on_record(store, plan.name)]
    for event in events:
        evidence: dict[str, Any] = event.evidence or {}
        if event.action != "rollback" or "steps" not in evidence:
            continue  # an already-rolled-back or joined rollback ran no steps
        steps = tuple((str(s.get("name", "")), float(s.get("duration_s", 0.0)), str(s.get("outcome", "")))
                      for s in evidence["steps"])
        runs.append(Run("rollback", event.at, event.actor, str(evidence.get("result", "")),
                        float(evidence.get("duration_s", sum(s[1] for s in steps))), plan.rollback.max_duration_s,
                        steps, event.from_stage or ""))
    return sorted(runs, key=lambda r: r.at)


def _lead(state: RolloutState, events: list[AuditEvent], evaluations: list[EvaluationRecord]) -> RollbackLead | None:
    if state.status != "rolled_back" and not state.rollback_incomplete:
        return None
    rollbacks = [e for e in events if e.action == "rollback" and e.allowed and (e.evidence or {}).get("result")
                 in ("rolled_back", "incomplete")]
    if not rollbacks:
        return None
    event = rollbacks[-1]
    before = [e for e in evaluations if e.at <= event.at and e.stage == event.from_stage]
    failing = tuple(c for c in before[-1].checks if c.outcome == "fail") if before else ()
    return RollbackLead(event.at, event.from_stage, event.actor, event.reason,
                        (event.evidence or {}).get("result") == "rolled_back", failing)


def _guard_words(plan: Plan) -> list[tuple[str, list[str]]]:
    out = []
    for stages, guards in guard_groups(plan):
        names = ", ".join(f"{s.name} ({stage_share(s)})" for s in stages)
        out.append((names, [describe_guard(g, plan.segments) for g in guards]))
    return out


def gather(plan: Plan, store: StateStore, *, now: datetime, sections: list[Section] | None = None) -> ReportData:
    """The report's data for `plan`; the caller has checked the rollout has state."""
    from rollout_cli.state.records import not_started

    state = store.get(plan.name) or not_started(plan.name)
    events = store.events(plan.name)
    evaluations = store.evaluations(plan.name)
    return ReportData(
        plan=plan, state=state, generated_at=now, periods=stage_periods(events), events=events,
        evaluations=evaluations, guards=guard_histories(evaluations), runs=_runs(plan, store, events),
        lead=_lead(state, events, evaluations), guard_words=_guard_words(plan),
        policies=[automatic_policy(plan), inconclusive_policy(plan)], sections=list(sections or []))
