"""The decision: what the controller (or a person's `advance`) does with a stage's verdict.

`decide` is pure — no file, clock, router or network — so every rule is a row in a table test
(tests/decide/). The caller evaluates the stage, asks the drill gate when the move would leave
shadow, and acts on the returned Action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rollout_cli.drift.check import DriftCheck
from rollout_cli.errors import ExitCode
from rollout_cli.evaluation.verdict import Check, Evaluation
from rollout_cli.plan.model import Plan, Stage
from rollout_cli.state.records import RolloutState
from rollout_cli.stats.outcome import Outcome
from rollout_cli.units import format_duration, format_split

ActionKind = Literal["advance", "hold", "rollback", "complete", "await_approval", "none", "monitor"]

# The tick/advance JSON names four actions (docs/commands.md); the two finer kinds show as "hold"
# there, with the precise kind in the document's "decision" field. "monitor" (the ramp is done;
# drift is watched for drift.monitor_for) shows as "complete".
JSON_ACTION = {"advance": "advance", "hold": "hold", "rollback": "rollback", "complete": "complete",
               "await_approval": "hold", "none": "hold", "monitor": "complete"}


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    reason: str  # for people: what was decided, and what they can run when it is theirs to act
    code: str  # for machines and for de-duplicating holds: fail, min_duration, min_units, ...
    from_stage: str | None
    to_stage: str | None
    exit_code: ExitCode

    @property
    def json_action(self) -> str:
        return JSON_ACTION[self.kind]


def _check_words(check: Check) -> str:
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
           drill_refusal: str | None = None, manual: bool = False, forced: bool = False,
           drift: DriftCheck | None = None) -> Action:
    """The next action for `state` given the current stage's `evaluation` at time `now`.

    manual: a person ran `advance` (auto_advance/auto_rollback do not apply; a failing stage is
    reported, not rolled back). forced: an approver's `advance --force` (the verdict, min_duration
    and min_units are overridden; the drill requirement is not). drill_refusal: the drill gate's
    message when the plan requires a drill and none on record allows leaving shadow. drift: the
    last complete window's drift (docs/plan.md `drift`); with on_drift: hold it keeps a stage from
    being left, and in the monitoring status it is what the tick reports.

    In order: a rollout that is not running; a forced advance; no evaluation; a failing stage;
    a stage younger than min_duration or short of min_units; an inconclusive stage; a drift hold;
    else the stage may be left (`_leave`). After 100%, the monitoring status (`_monitoring`).
    """
    not_running = _not_running(plan, state)
    if not_running is not None:
        return not_running
    if state.status == "monitoring":
        return _monitoring(plan, state, drift, now)
    stage = plan.stage(state.stage or "")  # running: always at a stage
    following = plan.next_stage(stage)
    if forced:
        return _leave(plan, state, stage, following, drill_refusal, manual=True)
    if evaluation is None:
        return _action(state, "hold", "no_evaluation", "the stage has not been evaluated", None,
                       ExitCode.INCONCLUSIVE)
    elapsed = (now - state.stage_started_at).total_seconds() if state.stage_started_at else 0.0
    return (_on_fail(plan, state, stage, evaluation, manual=manual)
            or _too_early(state, stage, evaluation, elapsed)
            or _on_inconclusive(plan, state, stage, following, evaluation, elapsed, manual=manual)
            or _drift_hold(plan, state, stage, following, drift)
            or _leave(plan, state, stage, following, drill_refusal, manual=manual))


def _action(state: RolloutState, kind: ActionKind, code: str, reason: str, to_stage: str | None,
            exit_code: ExitCode) -> Action:
    return Action(kind, reason, code, state.stage, to_stage, exit_code)


def _rollback_hint(plan: Plan) -> str:
    return f"`rollout rollback {plan.source or plan.name} --reason TEXT`"


def _not_running(plan: Plan, state: RolloutState) -> Action | None:
    """Not started, an unverified rollback to retry, finished, or paused; None when running."""
    if state.status == "not_started" or state.stage is None:
        return _action(state, "none", "not_started",
                       f"the rollout has not started: run `rollout start {plan.source or plan.name}`", None,
                       ExitCode.INCONCLUSIVE)
    if state.rollback_incomplete:
        return _action(state, "rollback", "rollback_incomplete",
                       "an earlier rollback could not be verified; retrying it", None, ExitCode.FAILED)
    if state.is_terminal:
        return _action(state, "none", state.status,
                       f"the rollout is {state.status.replace('_', ' ')}; nothing to do", None, ExitCode.OK)
    if state.status == "paused":
        return _action(state, "none", "paused", "the rollout is paused; nothing moves until it resumes", None,
                       ExitCode.INCONCLUSIVE)
    return None


def _on_fail(plan: Plan, state: RolloutState, stage: Stage, evaluation: Evaluation, *,
             manual: bool) -> Action | None:
    """A failing stage rolls back (auto_rollback), or holds for a person to roll back."""
    if evaluation.verdict is not Outcome.FAIL:
        return None
    why = f"stage {stage.name} fails: {failing_reasons(evaluation)}"
    if manual:
        return _action(state, "hold", "fail", f"{why}; not advancing — roll back with {_rollback_hint(plan)}",
                       None, ExitCode.FAILED)
    if plan.decision.auto_rollback:
        return _action(state, "rollback", "fail", why, None, ExitCode.FAILED)
    return _action(state, "hold", "fail", f"{why}; auto_rollback is off — roll back with {_rollback_hint(plan)}",
                   None, ExitCode.FAILED)


def _too_early(state: RolloutState, stage: Stage, evaluation: Evaluation, elapsed: float) -> Action | None:
    """The stage's min_duration or min_units are not reached yet."""
    if elapsed < stage.min_duration_s:
        left = format_duration(stage.min_duration_s - elapsed, style="clock")
        return _action(state, "hold", "min_duration", f"stage {stage.name} has run "
                       f"{format_duration(elapsed, style='clock')} of its min_duration "
                       f"{format_duration(stage.min_duration_s)} ({left} left)", None, ExitCode.INCONCLUSIVE)
    candidate_units = int(evaluation.units.get("candidate", 0))
    if stage.min_units and candidate_units < stage.min_units:
        return _action(state, "hold", "min_units", f"stage {stage.name} has {candidate_units} candidate units of "
                       f"its min_units {stage.min_units}", None, ExitCode.INCONCLUSIVE)
    return None


def _on_inconclusive(plan: Plan, state: RolloutState, stage: Stage, following: Stage | None,
                     evaluation: Evaluation, elapsed: float, *, manual: bool) -> Action | None:
    """Hold while undecided; past max_duration, what `on_inconclusive` says (a person decides
    when rolling back is not automatic). A last stage at 100% has no baseline left: it completes."""
    completes_anyway = following is None and stage.traffic >= 100
    if evaluation.verdict is not Outcome.INCONCLUSIVE or completes_anyway:
        return None
    limit = stage.time_limit(plan.decision)  # the stage's own max_duration, else the plan's
    why = f"stage {stage.name} is inconclusive: {_inconclusive_reasons(evaluation)}"
    if limit is None or elapsed < limit:
        return _action(state, "hold", "inconclusive", why, None, ExitCode.INCONCLUSIVE)
    overdue = f"{why}; no verdict after max_duration {format_duration(limit)}"
    rollback_hint = _rollback_hint(plan)
    if plan.decision.on_inconclusive == "rollback" and not manual:
        if plan.decision.auto_rollback:
            return _action(state, "rollback", "max_duration", f"{overdue} (on_inconclusive: rollback)", None,
                           ExitCode.FAILED)
        return _action(state, "hold", "max_duration", f"{overdue}; on_inconclusive is rollback but auto_rollback "
                       f"is off — roll back with {rollback_hint}", None, ExitCode.INCONCLUSIVE)
    return _action(state, "hold", "max_duration", f"{overdue} (on_inconclusive: hold) — decide by hand: an "
                   f"approver runs `rollout advance {plan.source or plan.name} --force --reason TEXT`, or roll "
                   f"back with {rollback_hint}", None, ExitCode.INCONCLUSIVE)


def drift_hold(plan: Plan, drift: DriftCheck | None) -> str | None:
    """Why drift holds the ramp (plan on_drift: hold), or None. Unchecked or unreadable drift holds
    too: "could not tell" is never "no drift"."""
    if plan.drift.action != "hold" or not plan.drift.enabled:
        return None
    if drift is None:
        return "drift has not been checked"
    if drift.error or drift.drifted:
        return drift.summary()
    return None


def _drift_hold(plan: Plan, state: RolloutState, stage: Stage, following: Stage | None,
                drift: DriftCheck | None) -> Action | None:
    """on_drift: hold — a stage may not be left (nor the final one completed) on shifted traffic."""
    held = drift_hold(plan, drift)
    if held is None:
        return None
    return _action(state, "hold", "drift", f"stage {stage.name} may not advance on shifted traffic "
                   f"(on_drift: hold): {held}", following.name if following else None, ExitCode.INCONCLUSIVE)


def _monitoring(plan: Plan, state: RolloutState, drift: DriftCheck | None, now: datetime) -> Action:
    """After 100%: watch drift until drift.monitor_for has passed (timed from stage_started_at,
    which entering monitoring resets), then complete."""
    elapsed = (now - (state.stage_started_at or now)).total_seconds()
    limit = plan.drift.monitor_for_s or 0.0
    if elapsed >= limit:
        return _action(state, "complete", "monitored", f"monitored drift for {format_duration(limit)}: the "
                       "rollout is complete", None, ExitCode.OK)
    left = format_duration(limit - elapsed, style="clock")
    words = drift.summary() if drift is not None else "drift not checked this tick"
    confirmed = drift is not None and bool(drift.drifted or drift.error)
    return _action(state, "none", "drift" if confirmed else "monitoring", f"monitoring ({left} left): {words}",
                   None, ExitCode.FAILED if confirmed else ExitCode.OK)


def _leave(plan: Plan, state: RolloutState, stage: Stage, following: Stage | None, drill_refusal: str | None, *,
           manual: bool) -> Action:
    """The stage may be left: complete, advance, or say what still stands in the way."""
    plan_ref = plan.source or plan.name
    if following is None and plan.drift.monitor_for_s and plan.drift.enabled:
        return _action(state, "monitor", "final", f"final stage {stage.name} passes: monitoring drift for "
                       f"{format_duration(plan.drift.monitor_for_s)} before the rollout is complete", None, ExitCode.OK)
    if following is None:
        return _action(state, "complete", "final", f"final stage {stage.name} passes: the rollout is complete",
                       None, ExitCode.OK)
    if following.approval_required and state.approved_stage != following.name:
        approvers = ", ".join(sorted(plan.rollback.approver_people)) or "nobody (rollback.approvers is empty)"
        return _action(state, "await_approval", "approval", f"stage {following.name} requires approval: an "
                       f"approver ({approvers}) runs `rollout advance {plan_ref} --as NAME`", following.name,
                       ExitCode.INCONCLUSIVE)
    if stage.is_shadow and not following.is_shadow and drill_refusal:
        return _action(state, "hold", "drill", drill_refusal, following.name, ExitCode.INCONCLUSIVE)
    if not manual and not plan.decision.auto_advance:
        return _action(state, "hold", "auto_advance_off", f"stage {stage.name} passes; auto_advance is off — "
                       f"advance with `rollout advance {plan_ref}`", following.name, ExitCode.INCONCLUSIVE)
    return _action(state, "advance", "passes", f"stage {stage.name} passes: advancing to {following.name} "
                   f"({format_split(following.traffic, following.shadow)})", following.name, ExitCode.OK)
