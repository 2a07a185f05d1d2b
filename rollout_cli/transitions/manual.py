"""What a person asks for by hand: start, advance and rollback (docs/operations.md).

Each function checks the actor's authority (transitions.authority: a refusal is recorded and
raises NotAllowed, exit 5), applies the plan's gates (the drill before traffic leaves shadow,
approvals, --force) and records the attempt in the audit trail, then moves through moves.py or
rollback.py. The command line only parses, calls one of these and renders the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from rollout_cli.errors import DataError, NotAllowed, RolloutError, RouterError, UsageError
from rollout_cli.plan.model import Plan
from rollout_cli.state.identity import current_actor
from rollout_cli.state.locate import folder, open_store
from rollout_cli.state.location import locate
from rollout_cli.state.store import StateStoreError
from rollout_cli.transitions.authority import acting, may_approve, may_move, may_roll_back, refuse
from rollout_cli.transitions.context import Rollout, drill_refusal
from rollout_cli.transitions.controller import StepReport, act, current_drift, evaluate_current, leaves_shadow
from rollout_cli.transitions.decide import decide
from rollout_cli.transitions.moves import MoveResult
from rollout_cli.transitions.moves import adopt as adopt_move
from rollout_cli.transitions.moves import start as start_move
from rollout_cli.transitions.reconcile import reconcile
from rollout_cli.transitions.rollback import (  # noqa: F401 - RollbackNotRun, manual_commands: callers' names
    RollbackNotRun,
    RollbackResult,
    manual_commands,
    rollback,
    rollback_without_state,
)
from rollout_cli.transitions.steps import StepResult


def start(rollout: Rollout, *, actor: str, reason: str, now: datetime, adopt: bool = False) -> MoveResult:
    """Begin the rollout at its first stage: authority, then the drill gate when the first stage
    already serves traffic (a held start is recorded), then the move — which refuses a router that
    does not serve the baseline alone. With `adopt`, record the rollout at the stage the router
    serves instead, moving nothing (audited)."""
    first = rollout.plan.stages[0]
    if not may_move(rollout, actor):
        raise refuse(rollout, actor=actor, action="start", what=f"start {rollout.plan.name}", listed="authority",
                     reason=reason, from_stage=None, to_stage=first.name, now=now)
    if adopt:
        return adopt_move(rollout, actor=actor, reason=reason, now=now)
    if not first.is_shadow:
        refusal = drill_refusal(rollout, now)
        if refusal:
            rollout.store.record_event(rollout.plan, "start", actor, True, f"held: {refusal}", None, first.name,
                                       None, at=now)
            raise UsageError(refusal)
    return start_move(rollout, actor=actor, reason=reason, now=now)


def roll_back(plan: Plan, *, state_dir: str | Path | None, requested_actor: str | None, reason: str,
              now: datetime, on_step: Callable[[StepResult], None] | None = None) -> RollbackResult:
    """A person's rollback: never held back by a gate, only by authority (exit 5). The state is
    found from the plan (state/location.py) and created if absent: the audit trail starts here.
    A store that cannot be opened or read does not stop it either: the rollback wins over a
    confused state (`_without_state`). A store that fails midway raises RollbackNotRun with the
    router's manual commands. The actor is established by the store (authority.acting):
    self-asserted on SQLite, the database role on PostgreSQL (docs/team.md)."""
    # With a shared store that cannot be reached, the emergency audit file goes where the plan's
    # own SQLite state would be: beside the plan, where the next person looks.
    fallback = locate(plan, folder(state_dir)).directory
    try:
        rollout = Rollout.open(plan, open_store(state_dir, plan))
        actor = acting(rollout, requested_actor, action="rollback", now=now)
        state = rollout.state()
    except StateStoreError as exc:  # cannot be opened, or damaged where the state lives, or gone
        return _without_state(plan, fallback, exc.message, actor=current_actor(requested_actor), reason=reason,
                              now=now, on_step=on_step)
    if not may_roll_back(rollout, actor):
        raise refuse(rollout, actor=actor, action="rollback", what=f"roll back {plan.name}",
                     listed="authority", reason=reason, from_stage=state.stage, to_stage=None,
                     now=now)
    try:
        result = rollback(rollout, actor=actor, reason=reason, now=now, on_step=on_step)
    except StateStoreError as exc:
        raise RollbackNotRun(f"the rollback stopped, the router may not be at the baseline: {exc.message}",
                             hint="check the router by hand (as above), then fix the state store",
                             manual_commands=manual_commands(plan)) from None
    return result


def _without_state(plan: Plan, directory: Path, problem: str, *, actor: str, reason: str, now: datetime,
                   on_step: Callable[[StepResult], None] | None) -> RollbackResult:
    """The rollback with no usable store: authority from the plan alone, the steps run all the same,
    and the attempt recorded in the emergency audit file (state/fallback_audit.py)."""
    from rollout_cli.routers.registry import router_for
    from rollout_cli.state import fallback_audit
    from rollout_cli.state.records import not_started
    from rollout_cli.state.store import redact_value, secret_templates

    if actor not in plan.rollback.authorized_people:
        raise NotAllowed(f"{actor} may not roll back {plan.name} (not in rollback.authority); the state store "
                         f"cannot record the refusal: {problem}")
    router = router_for(plan.router.adapter, plan.router.options)
    run = rollback_without_state(plan, router, actor=actor, reason=reason, now=now, on_step=on_step)
    outcome = "rolled_back" if run.router_verified else "incomplete"
    record = {"at": now.isoformat(), "plan": plan.name, "actor": actor, "action": "rollback", "reason": reason,
              "state_problem": problem, "result": outcome, **run.to_json()}
    written = fallback_audit.append(directory, redact_value(record, secret_templates(plan)))
    state = replace(not_started(plan.name), rollback_incomplete=not run.router_verified)
    return RollbackResult(None, None, run, run.router_verified, outcome, state, state_problem=problem,
                          audit_file=str(written) if written else None)


def advance(rollout: Rollout, *, actor: str, reason: str, force: bool, now: datetime) -> StepReport:
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
    drift = current_drift(rollout, state, now)
    try:
        evaluation = replace(evaluate_current(rollout, state, now, actor=actor, source="advance"), drift=drift)
    except DataError:
        if not force:
            raise  # without --force, no evidence means no move
    refusal = drill_refusal(rollout, now) if leaves_shadow(rollout, state) else None
    action = decide(plan, state, evaluation, now, drill_refusal=refusal, manual=True, forced=force, drift=drift)
    if force and action.kind == "advance":
        action = replace(action, reason=f"forced by {actor}: {reason}")
    elif reason and action.kind in ("advance", "complete"):
        action = replace(action, reason=f"{action.reason} ({reason})")
    return act(rollout, state, action, evaluation, actor=actor, now=now, reconciled=reconciled,
                evidence_extra={"forced": force}, on_step=None, dedupe_holds=False)
