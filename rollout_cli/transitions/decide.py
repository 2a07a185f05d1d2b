"""The decision: what the controller (or a person's `advance`) does with a stage's verdict.

`decide` is pure — no file, clock, router or network — so every rule is a row in a table test
(tests/decide/). The caller evaluates the stage, asks the drill gate when the move would leave
shadow, and acts on the returned Action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rollout_cli.errors import ExitCode
from rollout_cli.evaluation.verdict import Evaluation
from rollout_cli.plan.model import Plan, Stage
from rollout_cli.state.records import RolloutState
from rollout_cli.stats.outcome import Outcome
from rollout_cli.units import format_duration, format_split

ActionKind = Literal["advance", "hold", "rollback", "complete", "await_approval", "none"]

# SPEC §5 names four actions in the tick/advance JSON; the two finer kinds show as "hold"
# there, with the precise kind in the document's "decision" field.
SPEC_ACTION = {"advance": "advance", "hold": "hold", "rollback": "rollback", "complete": "complete",
               "await_approval": "hold", "none": "hold"}


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    reason: str  # for people: what was decided, and what they can run when it is theirs to act
    code: str  # for machines and for de-duplicating holds: fail, min_duration, min_units, ...
    from_stage: str | None
    to_stage: str | None
    exit_code: ExitCode

    @property
    def spec_action(self) -> str:
        return SPEC_ACTION[self.kind]


def _check_words(check) -> str:  # type: ignore[no-untyped-def]
    where = ", ".join(f"{k}={v}" for k, v in (check.segment or {}).items())
    return f"{check.metric}{f' [{where}]' if where else ''}: {check.reason}"


def failing_reasons(evaluation: Evaluation) -> str:
    """The failed checks (and SRM) in words, for reasons and notifications."""
    parts = [evaluation.srm.reason or "sample-ratio mismatch"] if evaluation.srm.outcome is Outcome.FAIL else []
    parts += [_check_words(c) for c in evaluation.checks if c.outcome is Outcome.FAIL]
    return "; ".join(parts) or "; ".join(evaluation.reasons) or "the stage verdict is fail"


def _inconclusive_reasons(evaluation: Evaluation) -> str:
    """Stage-level reasons first (freshness, min_units...), else the first undecided checks."""
    reasons = list(evaluation.reasons)
    if not reasons:
        undecided = [_check_words(c) for c in evaluation.checks if c.outcome is Outcome.INCONCLUSIVE]
        reasons = undecided[:2] + ([f"and {len(undecided) - 2} more undecided checks"] if len(undecided) > 2 else [])
    return "; ".join(reasons) or "no verdict yet"


def decide(plan: Plan, state: RolloutState, evaluation: Evaluation | None, now: datetime, *,
           drill_refusal: str | None = None, manual: bool = False, forced: bool = False) -> Action:
    """The next action for `state` given the current stage's `evaluation` at time `now`.

    manual: a person ran `advance` (auto_advance/auto_rollback do not apply; a failing stage is
    reported, not rolled back). forced: an approver's `advance --force` (the verdict, min_duration
    and min_units are overridden; the drill requirement is not). drill_refusal: the drill gate's
    message when the plan requires a drill and none on record allows leaving shadow.
    """
    plan_ref = plan.source or plan.name

    def act(kind: ActionKind, code: str, reason: str, to_stage: str | None, exit_code: ExitCode) -> Action:
        return Action(kind, reason, code, state.stage, to_stage, exit_code)

    if state.status == "not_started" or state.stage is None:
        return act("none", "not_started", f"the rollout has not started: run `rollout start {plan_ref}`",
                   None, ExitCode.INCONCLUSIVE)
    if state.rollback_incomplete:
        return act("rollback", "rollback_incomplete", "an earlier rollback could not be verified; retrying it",
                   None, ExitCode.FAILED)
    if state.is_terminal:
        return act("none", state.status, f"the rollout is {state.status.replace('_', ' ')}; nothing to do",
                   None, ExitCode.OK)
    if state.status == "paused":
        return act("none", "paused", "the rollout is paused; nothing moves until it resumes", None,
                   ExitCode.INCONCLUSIVE)

    stage = plan.stage(state.stage)
    following = plan.next_stage(stage)
    if forced:
        return _move(plan, state, stage, following, drill_refusal, act, manual=True)
    if evaluation is None:
        return act("hold", "no_evaluation", "the stage has not been evaluated", None, ExitCode.INCONCLUSIVE)

    rollback_hint = f"`rollout rollback {plan_ref} --reason TEXT`"
    if evaluation.verdict is Outcome.FAIL:
        why = f"stage {stage.name} fails: {failing_reasons(evaluation)}"
        if manual:
            return act("hold", "fail", f"{why}; not advancing — roll back with {rollback_hint}", None, ExitCode.FAILED)
        if plan.decision.auto_rollback:
            return act("rollback", "fail", why, None, ExitCode.FAILED)
        return act("hold", "fail", f"{why}; auto_rollback is off — roll back with {rollback_hint}", None,
                   ExitCode.FAILED)

    elapsed = (now - state.stage_started_at).total_seconds() if state.stage_started_at else 0.0
    if elapsed < stage.min_duration_s:
        left = format_duration(stage.min_duration_s - elapsed, style="clock")
        return act("hold", "min_duration", f"stage {stage.name} has run "
                   f"{format_duration(elapsed, style='clock')} of its "
                   f"min_duration {format_duration(stage.min_duration_s)} ({left} left)", None, ExitCode.INCONCLUSIVE)
    candidate_units = int(evaluation.units.get("candidate", 0))
    if stage.min_units and candidate_units < stage.min_units:
        return act("hold", "min_units", f"stage {stage.name} has {candidate_units} candidate units of its min_units "
                   f"{stage.min_units}", None, ExitCode.INCONCLUSIVE)

    completes_anyway = following is None and stage.traffic >= 100  # no baseline arm is left to compare
    if evaluation.verdict is Outcome.INCONCLUSIVE and not completes_anyway:
        limit = plan.decision.max_duration_s
        why = f"stage {stage.name} is inconclusive: {_inconclusive_reasons(evaluation)}"
        if limit is None or elapsed < limit:
            return act("hold", "inconclusive", why, None, ExitCode.INCONCLUSIVE)
        overdue = f"{why}; no verdict after max_duration {format_duration(limit)}"
        if plan.decision.on_inconclusive == "rollback" and not manual:
            if plan.decision.auto_rollback:
                return act("rollback", "max_duration", f"{overdue} (on_inconclusive: rollback)", None, ExitCode.FAILED)
            return act("hold", "max_duration", f"{overdue}; on_inconclusive is rollback but auto_rollback is off — "
                       f"roll back with {rollback_hint}", None, ExitCode.INCONCLUSIVE)
        return act("hold", "max_duration", f"{overdue} (on_inconclusive: hold) — decide by hand: an approver runs "
                   f"`rollout advance {plan_ref} --force --reason TEXT`, or roll back with {rollback_hint}", None,
                   ExitCode.INCONCLUSIVE)
    return _move(plan, state, stage, following, drill_refusal, act, manual=manual)


def _move(plan: Plan, state: RolloutState, stage: Stage, following: Stage | None, drill_refusal: str | None,
          act, *, manual: bool) -> Action:  # type: ignore[no-untyped-def]
    """The stage may be left: complete, advance, or say what still stands in the way."""
    plan_ref = plan.source or plan.name
    if following is None:
        return act("complete", "final", f"final stage {stage.name} passes: the rollout is complete", None, ExitCode.OK)
    if following.approval_required and state.approved_stage != following.name:
        approvers = ", ".join(sorted(plan.rollback.approver_people)) or "nobody (rollback.approvers is empty)"
        return act("await_approval", "approval", f"stage {following.name} requires approval: an approver "
                   f"({approvers}) runs `rollout advance {plan_ref} --as NAME`", following.name, ExitCode.INCONCLUSIVE)
    if stage.is_shadow and not following.is_shadow and drill_refusal:
        return act("hold", "drill", drill_refusal, following.name, ExitCode.INCONCLUSIVE)
    if not manual and not plan.decision.auto_advance:
        return act("hold", "auto_advance_off", f"stage {stage.name} passes; auto_advance is off — advance with "
                   f"`rollout advance {plan_ref}`", following.name, ExitCode.INCONCLUSIVE)
    return act("advance", "passes", f"stage {stage.name} passes: advancing to {following.name} "
               f"({format_split(following.traffic, following.shadow)})", following.name, ExitCode.OK)
