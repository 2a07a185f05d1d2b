"""`rollout drill`: a timed rehearsal of the plan's rollback against a real router (docs/runbooks.md).

The drill reads the router, puts it in a stage-like split (the first traffic stage's), runs the
plan's rollback steps for real, verifies the router reports the baseline alone, and puts the
router back as it found it — read before, restore after, verify. It then records the drill in
the audit trail with the digest of the rollback section it rehearsed, which is what the drill
gate and the runbook look for.

A drill *fails* (exit 1) when a step fails, a step runs past its timeout, the router does not
report the baseline alone afterwards, or the whole rollback takes longer than
`rollback.max_duration`. When the drill cannot be carried out at all — the router cannot be
read, refuses the stage-like split, or cannot be put back — that is a router failure (exit 4).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rollout_cli.errors import RouterError
from rollout_cli.plan.model import Plan
from rollout_cli.routers.base import Router, RouterSplit
from rollout_cli.units import format_duration

DRILL_LIKE_TRAFFIC = 1.0  # percent served by the candidate when a plan has no traffic stage to copy


@dataclass(frozen=True)
class DrillStep:
    name: str
    kind: str
    duration_s: float
    outcome: str  # "pass" | "fail"
    detail: str
    timeout_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "duration_s": round(self.duration_s, 3), "outcome": self.outcome}


@dataclass(frozen=True)
class DrillResult:
    outcome: str  # "pass" | "fail"
    duration_s: float  # the rollback steps plus the final verification, as timed here
    budget_s: float
    steps: tuple[DrillStep, ...]
    failure: str | None  # which step or check failed the drill, in words
    router: str  # where the drill ran, e.g. "file:path=staging.json"
    rollback_digest: str
    drill_split: RouterSplit  # the stage-like split the rollback started from
    found_split: RouterSplit  # what the router served before, and serves again after

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    def to_json(self) -> dict[str, Any]:
        """The drill document of docs/commands.md: outcome, timings, where it ran and why it failed."""
        return {
            "outcome": self.outcome,
            "duration_s": round(self.duration_s, 3),
            "budget_s": self.budget_s,
            "steps": [s.to_json() for s in self.steps],
            "failure": self.failure,
            "router": self.router,
            "rollback_digest": self.rollback_digest,
            "drill_split": self.drill_split.to_json(),
            "restored_split": self.found_split.to_json(),
        }

    def evidence(self) -> dict[str, Any]:
        """What the audit trail keeps (the gate and the runbook read it back)."""
        doc = self.to_json()
        doc["steps"] = [
            {**s.to_json(), "kind": s.kind, "timeout_s": s.timeout_s, "detail": s.detail} for s in self.steps
        ]
        return doc


def drill_split(plan: Plan) -> RouterSplit:
    """The split a rollback would start from at the first traffic stage (the riskiest moment to
    need one: the candidate serves real users for the first time)."""
    for stage in plan.stages:
        if not stage.is_shadow:
            return RouterSplit(candidate_traffic=stage.traffic, shadow=stage.shadow)
    return RouterSplit(candidate_traffic=DRILL_LIKE_TRAFFIC, shadow=0.0)


def _set(router: Router, split: RouterSplit, what: str) -> None:
    router.apply(split)
    if not router.verify(split):
        raise RouterError(f"the router did not take {what} ({split}): it reports {router.read()}")


def _judge(plan: Plan, steps: tuple[DrillStep, ...], duration_s: float, baseline_alone: bool) -> str | None:
    """Why the drill failed, or None when it passed. The first problem in step order wins."""
    for i, step in enumerate(steps, 1):
        if step.outcome != "pass":
            return f"step {i} `{step.name}` failed: {step.detail}" if step.detail else f"step {i} `{step.name}` failed"
        if step.timeout_s is not None and step.duration_s > step.timeout_s:
            return (
                f"step {i} `{step.name}` overran its timeout: {step.duration_s:.2f}s "
                f"> {format_duration(step.timeout_s, weeks=False)}"
            )
    if not baseline_alone:
        return "after the rollback steps the router does not report the baseline alone"
    budget = plan.rollback.max_duration_s
    if duration_s > budget:
        return f"the rollback took {duration_s:.2f}s, over its budget of {format_duration(budget, weeks=False)}"
    return None


StepCallback = Callable[[Any], None]


def run_drill(
    plan: Plan,
    router: Router,
    router_label: str,
    *,
    on_step: StepCallback | None = None,
    on_started: Callable[[], None] | None = None,
) -> DrillResult:
    """Rehearse the rollback on `router` and leave it as it was found.

    Raises RouterError when the router cannot be read, refuses the stage-like split, or cannot
    be restored and verified afterwards (the message says what it serves and what it should).
    `on_started` is called when the rollback steps begin (for a countdown); `on_step` after
    each step with the StepResult of `run_rollback_steps`.
    """
    from rollout_cli.transitions.steps import run_rollback_steps

    found = router.read()
    split = drill_split(plan)
    try:
        _set(router, split, "the stage-like split")
        if on_started:
            on_started()
        started = time.monotonic()
        # The webhook payload says "drill", so whoever it pages knows nothing is on fire.
        run = run_rollback_steps(plan, router, context={"event": "drill"}, on_step=on_step)
        duration_s = time.monotonic() - started
    finally:
        # Whatever happened, the router goes back to what it served before the drill.
        _restore(router, found)
    timeouts = {i: s.timeout_s for i, s in enumerate(plan.rollback.steps)}
    steps = tuple(
        DrillStep(r.name, r.kind, r.duration_s, r.outcome, r.detail or "", timeouts.get(i))
        for i, r in enumerate(run.steps)
    )
    # run_rollback_steps always reads the router back (an implicit verify when the plan has none)
    failure = _judge(plan, steps, duration_s, run.router_verified)
    return DrillResult(
        outcome="fail" if failure else "pass",
        duration_s=duration_s,
        budget_s=plan.rollback.max_duration_s,
        steps=steps,
        failure=failure,
        router=router_label,
        rollback_digest=plan.rollback.digest,
        drill_split=split,
        found_split=found,
    )


def _restore(router: Router, found: RouterSplit) -> None:
    try:
        _set(router, found, "the split it served before the drill")
    except RouterError as error:
        commands = "; ".join(router.explain(found))
        raise RouterError(
            f"the drill could not put the router back: {error.message}",
            hint=f"restore it by hand to {found}: {commands}",
        ) from None
