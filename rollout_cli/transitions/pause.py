"""Pause and resume: a person stops the controller from moving a rollout, and lets it go again.

A paused rollout keeps its router split (traffic keeps flowing as it was; only the controller's
moves stop): `tick` and `run` decide "nothing moves", `advance` is refused, a rollback still runs.
Who may: the same people as a manual advance (rollback.authority and rollback.approvers). Both
actions are recorded in the audit trail, refused attempts too (exit 5).

Choice (docs/operations.md): resume keeps the stage clock. Data gathered while paused was served
at the same split, so it still counts toward the stage's min_duration and its verdict.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from rollout_cli.errors import UsageError
from rollout_cli.state.records import RolloutState
from rollout_cli.transitions.authority import may_move, refuse
from rollout_cli.transitions.context import Rollout
from rollout_cli.transitions.reconcile import reconcile


def pause(rollout: Rollout, *, actor: str, reason: str, now: datetime) -> RolloutState:
    """Mark a running rollout paused; UsageError when it is not running."""
    return _switch(rollout, actor=actor, reason=reason, now=now, action="pause", source="running", target="paused")


def resume(rollout: Rollout, *, actor: str, reason: str, now: datetime) -> RolloutState:
    """Let a paused rollout run again; UsageError when it is not paused."""
    return _switch(rollout, actor=actor, reason=reason, now=now, action="resume", source="paused", target="running")


def _switch(rollout: Rollout, *, actor: str, reason: str, now: datetime, action: str, source: str,
            target: str) -> RolloutState:
    plan, store = rollout.plan, rollout.store
    state = rollout.state()
    if not may_move(rollout, actor):
        raise refuse(rollout, actor=actor, action=action, what=f"{action} {plan.name}", listed="authority",
                     reason=reason, from_stage=state.stage, to_stage=None, now=now)
    # Under the plan lock: an advance in flight finishes (or gives way) before the status changes,
    # and an advance that starts later re-checks the status inside its own write and stops.
    with store.lock(plan.name):
        reconcile(rollout, actor=actor, now=now)
        with store.write() as conn:
            state = rollout.state()
            refused = state.status != source or state.rollback_incomplete
            if not refused:
                new_state = replace(state, status=target, last_decision=action)  # type: ignore[arg-type]
                store.put(conn, new_state)
                store.record_event(plan, action, actor, True, reason or f"{action} the rollout", state.stage, None,
                                   {"result": target}, at=now, conn=conn)
    if refused:  # recorded outside the write: an exception inside it would roll the event back
        what = "rollback incomplete" if state.rollback_incomplete else state.status.replace("_", " ")
        store.record_event(plan, action, actor, True, f"{reason or action} — refused: the rollout is {what}",
                           state.stage, None, {"result": "refused", "status": state.status}, at=now)
        raise _not_now(rollout, action, what)
    return new_state


def _not_now(rollout: Rollout, action: str, what: str) -> UsageError:
    hint = (f"`rollout resume {rollout.ref}` lets a paused rollout run again" if what == "paused"
            else f"see `rollout status {rollout.ref}`")
    return UsageError(f"cannot {action} {rollout.plan.name}: the rollout is {what}", hint=hint)
