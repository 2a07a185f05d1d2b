"""Whether a stage can detect a harm at all within its horizon: the sample-size arithmetic of
stats.planning, for the warnings of `plan simulate`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rollout_cli.plan.model import Plan, Stage
from rollout_cli.stats.planning import sequential_units

if TYPE_CHECKING:
    from rollout_cli.planning.simulate import Scenario


def _baseline(kind: str, event: str | None) -> tuple[float, float]:
    from rollout_cli.planning.simulate import EVENT_RATE, FLAG_RATE, MEAN_MOMENTS

    if kind == "proportion":
        p = EVENT_RATE if event else FLAG_RATE
        return p, p * (1.0 - p)
    m1, m2, _ = MEAN_MOMENTS
    return m1, m2 - m1 * m1


def harm_warnings(plan: Plan, stages: list[Stage], scenario: Scenario,
                  weights: dict[tuple[str, str], float]) -> list[str]:
    """One line per (harm, stage) whose guard cannot see it within the stage's horizon."""
    from rollout_cli.evaluation.tuning import guard_tuning
    from rollout_cli.planning.simulate import DEFAULT_HORIZON_S

    alpha = 1.0 - plan.decision.confidence
    out = []
    for harm in scenario.harms:
        metric = plan.metrics[harm.metric]
        for stage in stages:
            if not 0 < stage.traffic < 100:
                continue
            horizon = stage.time_limit(plan.decision) or DEFAULT_HORIZON_S
            guards = [g for g in stage.guards if g.metric.name == harm.metric and g.is_relative
                      and (harm.segment is None or g.per_segment)]
            if not guards:
                out.append(f"{stage.name}: no relative guard on {harm.metric}"
                           f"{' per segment' if harm.segment else ''}, so {harm.describe()} cannot fail it")
                continue
            guard = guards[0]
            limit = guard.max_drop if harm.change < 0 else guard.max_increase
            if limit is None or abs(harm.change) <= limit:
                out.append(f"{stage.name}: {harm.describe()} is within the guard's limit on {harm.metric}; "
                           "it is not a harm the plan rolls back")
                continue
            if metric.kind not in ("proportion", "mean"):
                continue
            mean, variance = _baseline(metric.kind, metric.event)
            needed = sequential_units(mean, variance, abs(harm.change) - limit, alpha,
                                      guard_tuning(plan, stage, guard), candidate_share=stage.traffic / 100.0)
            share = weights.get(harm.segment, 1.0) if harm.segment else 1.0
            available = scenario.traffic_per_h * horizon / 3600.0 * share
            if needed > available:
                hours = needed / (scenario.traffic_per_h * share)
                out.append(f"{stage.name}: cannot detect {harm.describe()} within {horizon / 3600:g}h at "
                           f"{scenario.traffic_per_h:g} units/h — it needs about {needed:,} units "
                           f"({hours:.3g}h)")
    return out
