"""A plan in words and on a timeline: each guard as a sentence, each stage's gates, and the
fastest the ramp can possibly reach 100%. Pure functions of the typed plan."""

from __future__ import annotations

from dataclasses import dataclass

from rollout_cli.plan.model import Guard, Metric, Plan, Stage
from rollout_cli.units import format_duration, format_fraction, format_share


def describe_metric(metric: Metric) -> str:
    """What the metric measures, e.g. "share of units with a purchase event within 1h"."""
    window = f" within {format_duration(metric.window_s)} of being served" if metric.window_s else ""
    if metric.kind == "proportion":
        if metric.prometheus is not None:
            return "share of requests counted in Prometheus (per arm: count / total)"
        if metric.event:
            return f"share of units with a {metric.event} event{window}"
        return f"share of answers with {metric.column} true"
    if metric.kind == "mean":
        if metric.event:
            return f"{metric.event} value per unit{window}"
        return f"mean {metric.column} per unit"
    if metric.kind == "quantile":
        return f"p{(metric.q or 0.5) * 100:g} of {metric.column}"
    tolerance = f", numbers within {metric.tolerance:g}" if metric.tolerance else ""
    return f"share of requests where the candidate's answer matches the baseline's{tolerance}"


def format_bound(metric: Metric, value: float) -> str:
    """An absolute bound in the metric's unit: rates as percentages, milliseconds as ms."""
    if metric.kind in ("proportion", "agreement"):
        return format_fraction(value)
    unit = " ms" if (metric.column or "").endswith("_ms") else ""
    return f"{value:g}{unit}"


def guard_limits(guard: Guard) -> list[str]:
    """Each limit of the guard as a phrase: "at most 2% below the baseline", "at most 250 ms"."""
    limits = []
    if guard.max_drop is not None:
        limits.append(f"at most {format_fraction(guard.max_drop)} below the baseline")
    if guard.max_increase is not None:
        limits.append(f"at most {format_fraction(guard.max_increase)} above the baseline")
    if guard.min is not None:
        limits.append(f"at least {format_bound(guard.metric, guard.min)}")
    if guard.max is not None:
        limits.append(f"at most {format_bound(guard.metric, guard.max)}")
    return limits


def describe_guard(guard: Guard) -> str:
    """The guard as one sentence a person can check against a dashboard, e.g.
    "conversion (share of units with a purchase event within 1h of being served) must stay at
    most 2% below the baseline, overall and in every segment". The candidate fails the guard
    when the data show, with the plan's confidence, that this does not hold."""
    metric = guard.metric
    sentence = f"{metric.name} ({describe_metric(metric)}) must stay {' and '.join(guard_limits(guard))}"
    if guard.per_segment:
        sentence += ", overall and in every segment"
    return sentence


@dataclass(frozen=True)
class TimelineEntry:
    """When a stage can start at the earliest, and what must hold before the ramp leaves it."""

    stage: Stage
    earliest_start_s: float  # from the start of the rollout
    gates: tuple[str, ...]

    @property
    def mode(self) -> str:
        return "shadow" if self.stage.is_shadow else "traffic"

    @property
    def share(self) -> str:
        if self.stage.is_shadow:
            return f"mirror {format_share(self.stage.shadow)}"
        mirror = f" + mirror {format_share(self.stage.shadow)}" if self.stage.shadow else ""
        return f"serve {format_share(self.stage.traffic)}{mirror}"


def stage_gates(plan: Plan, stage: Stage) -> tuple[str, ...]:
    """What must hold before the ramp may leave `stage`, besides its guards passing and its
    min_duration elapsing: units, the next stage's approval (an `approval: required` stage waits for
    an approver before it is entered), and a recent drill when leaving shadow."""
    gates = []
    if stage.min_units:
        gates.append(f"at least {stage.min_units} units")
    following = plan.next_stage(stage)
    if following is not None and following.approval_required:
        who = ", ".join(plan.rollback.approvers) or "nobody"
        gates.append(f"approval by {who} to enter {following.name}")
    leaves_shadow = stage.is_shadow and following is not None and not following.is_shadow
    if leaves_shadow and plan.rollback.require_drill_s is not None:
        gates.append(f"a passing rollback drill within {format_duration(plan.rollback.require_drill_s, style='span')}")
    return tuple(gates)


def timeline(plan: Plan) -> list[TimelineEntry]:
    """Each stage with its earliest start: the sum of the minimum durations before it."""
    entries, clock = [], 0.0
    for stage in plan.stages:
        entries.append(TimelineEntry(stage=stage, earliest_start_s=clock, gates=stage_gates(plan, stage)))
        clock += stage.min_duration_s
    return entries


def fastest_to_full_s(plan: Plan) -> float | None:
    """The fastest possible time from start to serving 100% (None if the plan stops short).

    A lower bound: units, approvals and verdicts can only add time to the minimum durations."""
    for entry in timeline(plan):
        if entry.stage.traffic >= 100:
            return entry.earliest_start_s
    return None


def describe_drift(plan: Plan) -> list[str]:
    """The drift section in sentences (empty when the plan checks no drift)."""
    drift = plan.drift
    if not drift.enabled:
        return []
    reference = ("the training data (data.training)" if drift.reference_first_s is None
                 else f"the baseline's first {format_duration(drift.reference_first_s, style='span')} of predictions")
    lines = []
    for feature in drift.features:
        kind = feature.kind or "kind from the reference's type"
        lines.append(f"feature {feature.name} ({kind}) is drifted when its PSI against {reference} is above "
                     f"{drift.threshold(feature):g} with {plan.decision.confidence * 100:g}% confidence")
    if drift.outputs:
        lines.append(f"each model's {plan.data.column('prediction')} column is compared the same way with "
                     f"{'its answers in the reference window' if drift.reference_first_s else 'its own first window'}"
                     f" (PSI above {drift.max_psi:g})")
    action = {"alert": "is recorded in the audit trail",
              "hold": "is recorded and holds the ramp: a stage may not advance on shifted traffic",
              "run": "is recorded and runs " + " ".join(drift.run) + " once per drift episode"}[drift.action]
    lines.append(f"checked every {format_duration(drift.window_s, style='span')} window at each tick; a confirmed drift {action}")
    if drift.monitor_for_s:
        lines.append(f"after 100%, monitoring continues for {format_duration(drift.monitor_for_s, style='span')} "
                     "before the rollout is complete")
    return lines
