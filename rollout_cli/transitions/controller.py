"""One step of the rollout: evaluate the current stage, decide, act — for `tick`, `run` and a
person's `advance`.

Automatic actions (tick, run) are recorded with the actor "controller"; the person or service
account that ran the controller is kept in the evidence as "run_by".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rollout_cli.errors import DataError, ExitCode, RolloutError, RouterError, UsageError
from rollout_cli.evaluation.verdict import Evaluation
from rollout_cli.state.identity import CONTROLLER
from rollout_cli.state.records import RolloutState
from rollout_cli.transitions import moves
from rollout_cli.transitions.authority import may_approve, may_move, refuse
from rollout_cli.transitions.context import Rollout, Superseded, drill_refusal
from rollout_cli.transitions.decide import Action, decide
from rollout_cli.transitions.reconcile import reconcile
from rollout_cli.transitions.rollback import RollbackResult, rollback
from rollout_cli.transitions.steps import StepResult


@dataclass(frozen=True)
class StepReport:
    """What one controller step (or a manual advance) did."""

    action: Action
    evaluation: Evaluation | None
    state: RolloutState
    rollback: RollbackResult | None = None
    reconciled: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        if self.rollback is not None and not (self.rollback.run is None or self.rollback.run.ok):
            return int(ExitCode.ROUTER)  # a rollback step failed or the router is not verified
        if self.rollback is not None and not self.rollback.router_verified:
            return int(ExitCode.ROUTER)
        return int(self.action.exit_code)

    def to_json(self, plan_name: str) -> dict[str, Any]:
        return {
            "plan": plan_name, "action": self.action.spec_action, "decision": self.action.kind,
            "reason": self.action.reason, "from_stage": self.action.from_stage, "to_stage": self.action.to_stage,
            "status": self.state.status, "rollback_incomplete": self.state.rollback_incomplete,
            "evaluation": self.evaluation.to_json() if self.evaluation else None,
            "rollback": self.rollback.run.to_json() if self.rollback and self.rollback.run else None,
            "reconciled": list(self.reconciled),
        }


def evaluate_current(rollout: Rollout, state: RolloutState, now: datetime) -> Evaluation:
    """The current stage judged on the data since it began, up to `now`."""
    from rollout_cli.evaluation.stage import evaluate_stage

    stage = rollout.plan.stage(state.stage or "")
    return evaluate_stage(rollout.plan, stage, since=state.stage_started_at, until=now, now=now, split=state.split)


def _leaves_shadow(rollout: Rollout, state: RolloutState) -> bool:
    if state.stage is None:
        return False
    stage = rollout.plan.stage(state.stage)
    following = rollout.plan.next_stage(stage)
    return stage.is_shadow and following is not None and not following.is_shadow


def tick(rollout: Rollout, *, run_by: str, now: datetime,
         on_step: Callable[[StepResult], None] | None = None) -> StepReport:
    """One controller step, honouring auto_advance/auto_rollback and the stage's limits."""
    reconciled = tuple(reconcile(rollout, actor=CONTROLLER, now=now))
    state = rollout.state()
    evaluation = None
    if state.status == "running" and not state.rollback_incomplete:
        evaluation = evaluate_current(rollout, state, now)
    refusal = drill_refusal(rollout, now) if _leaves_shadow(rollout, state) else None
    action = decide(rollout.plan, state, evaluation, now, drill_refusal=refusal)
    return _act(rollout, state, action, evaluation, actor=CONTROLLER, now=now, reconciled=reconciled,
                evidence_extra={"run_by": run_by}, on_step=on_step, dedupe_holds=True)


def manual_advance(rollout: Rollout, *, actor: str, reason: str, force: bool, now: datetime) -> StepReport:
    """A person's `advance`: authority, approval gates and --force, then the same decision."""
    plan = rollout.plan
    reconciled = tuple(reconcile(rollout, actor=actor, now=now))
    state = rollout.state()
    following = plan.next_stage(plan.stage(state.stage)) if state.stage else None
    to_name = following.name if following else None
    if not may_move(rollout, actor):
        raise refuse(rollout, actor=actor, action="advance", what=f"advance {plan.name}", listed="authority",
                     reason=reason, from_stage=state.stage, to_stage=to_name, now=now)
    if state.status != "running" or state.rollback_incomplete or state.stage is None:
        # Nothing can advance: say so with an error, not a "done" (exit 0) that a script would trust.
        action = decide(plan, state, None, now, manual=True)
        if state.rollback_incomplete:
            words = "an earlier rollback is not verified at the baseline"
            error: RolloutError = RouterError(
                f"{plan.name} cannot advance: {words}",
                hint=f"finish the rollback: `rollout rollback {rollout.ref} --reason TEXT` (see `rollout status`)")
        else:
            words = action.reason
            hint = (f"to try again from the first stage: `rollout start {rollout.ref}`"
                    if state.status == "rolled_back" else f"see `rollout status {rollout.ref}`")
            error = UsageError(f"{plan.name} cannot advance: {words}", hint=hint)
        rollout.store.record_event(plan, "advance", actor, True, f"{reason or 'advance'} — refused: {words}",
                                   state.stage, None, {"result": action.kind}, at=now)
        raise error
    if force and not may_approve(rollout, actor):
        raise refuse(rollout, actor=actor, action="advance", what=f"force an advance of {plan.name}",
                     listed="approvers", reason=reason, from_stage=state.stage, to_stage=to_name, now=now)
    if following and following.approval_required and state.approved_stage != following.name:
        if not may_approve(rollout, actor):
            raise refuse(rollout, actor=actor, action="advance", listed="approvers", reason=reason,
                         what=f"approve {plan.name} into {following.name} (approval: required)",
                         from_stage=state.stage, to_stage=to_name, now=now)
        with rollout.store.write() as conn:
            state = replace(rollout.state(), approved_stage=following.name)
            rollout.store.put(conn, state)
            rollout.store.record_event(plan, "approve", actor, True, reason or f"approved entering {following.name}",
                                       state.stage, following.name, None, at=now, conn=conn)
    evaluation = None
    try:
        evaluation = evaluate_current(rollout, state, now)
    except DataError:
        if not force:
            raise  # without --force, no evidence means no move
    refusal = drill_refusal(rollout, now) if _leaves_shadow(rollout, state) else None
    action = decide(plan, state, evaluation, now, drill_refusal=refusal, manual=True, forced=force)
    if force and action.kind == "advance":
        action = replace(action, reason=f"forced by {actor}: {reason}")
    elif reason and action.kind in ("advance", "complete"):
        action = replace(action, reason=f"{action.reason} ({reason})")
    return _act(rollout, state, action, evaluation, actor=actor, now=now, reconciled=reconciled,
                evidence_extra={"forced": force}, on_step=None, dedupe_holds=False)


def _act(rollout: Rollout, state: RolloutState, action: Action, evaluation: Evaluation | None, *, actor: str,
         now: datetime, reconciled: tuple[str, ...], evidence_extra: dict[str, Any],
         on_step: Callable[[StepResult], None] | None, dedupe_holds: bool) -> StepReport:
    plan, store = rollout.plan, rollout.store
    if action.kind == "complete":  # an advance checks the same under the plan lock (moves.py)
        problem = moves.router_problem(rollout, state)
        if problem is not None:  # never call a rollout complete on a router the state does not describe
            action = Action("hold", f"not completing: {problem}; see `rollout status`, or roll back", "router",
                            action.from_stage, action.to_stage, ExitCode.ROUTER)
    evidence = {**evidence_extra, "decision": action.code,
                "evaluation": evaluation.to_json() if evaluation else None}
    if action.kind == "advance" and action.to_stage:
        try:
            result = moves.advance(rollout, state.stage or "", plan.stage(action.to_stage), actor=actor,
                                   reason=action.reason, now=now, evidence=evidence)
        except Superseded as exc:
            store.record_event(plan, "advance", actor, True, exc.message, state.stage, action.to_stage,
                               {**evidence, "result": "superseded"}, at=now)
            raise
        return StepReport(action, evaluation, result.state, reconciled=reconciled)
    if action.kind == "rollback":
        outcome = rollback(rollout, actor=actor, reason=action.reason, now=now, evidence=evidence, on_step=on_step)
        return StepReport(action, evaluation, outcome.state, rollback=outcome, reconciled=reconciled)
    key = f"{action.kind}:{action.code}:{state.stage}"
    with store.write() as conn:
        current = rollout.state()
        updates: dict[str, Any] = {"last_decision": key}
        if evaluation is not None:
            updates.update(last_verdict=evaluation.verdict.value, last_evaluated_at=now)
        if action.kind == "complete":
            updates["status"] = "completed"
        new_state = replace(current, **updates)
        if current.status == "running" or action.kind == "complete":
            store.put(conn, new_state)
        if action.kind == "complete":
            store.record_event(plan, "complete", actor, True, action.reason, state.stage, None, evidence,
                               at=now, conn=conn)
        elif action.kind in ("hold", "await_approval") and not (dedupe_holds and current.last_decision == key):
            store.record_event(plan, "hold", actor, True, action.reason, state.stage, action.to_stage, evidence,
                               at=now, conn=conn)
    return StepReport(action, evaluation, new_state, reconciled=reconciled)
