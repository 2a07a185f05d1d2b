"""What a confirmed drift does besides holding (docs/plan.md `drift.on_drift`): an audit event
once per episode, a `drift_confirmed` notification (rollout_cli.notify) once per episode, and the
`run:` command (the retraining trigger) once per episode.

An episode starts at the first tick whose last complete window shows a confirmed drift and ends
at the first tick whose window shows none. Whether one is open is read from the audit trail (the
last "drift" or "drift_cleared" event), so it survives restarts of the controller and is the
same for every process ticking the plan.
"""

from __future__ import annotations

from datetime import datetime

from rollout_cli.drift.check import DriftCheck
from rollout_cli.notify import Event, notify
from rollout_cli.state.records import RolloutState
from rollout_cli.stats.shift import ShiftDecision
from rollout_cli.transitions.context import Rollout
from rollout_cli.transitions.steps import run_command

EPISODE_EVENTS = ("drift", "drift_cleared")


def episode_open(rollout: Rollout) -> bool:
    events = [e for action in EPISODE_EVENTS for e in rollout.store.events(rollout.plan.name, action)]
    return bool(events) and max(events, key=lambda e: (e.at, e.id)).action == "drift"


def act_on_drift(rollout: Rollout, state: RolloutState, drift: DriftCheck | None, *, actor: str,
                 now: datetime) -> str | None:
    """Record (and for on_drift: run, trigger) a drift episode's start or end; returns what was done."""
    if drift is None or drift.error:
        return None  # an unreadable check is reported by the tick's reason and evidence, not an episode
    plan, store = rollout.plan, rollout.store
    evidence = {"drift": drift.to_json(), "status": state.status}
    if drift.drifted:
        if episode_open(rollout):
            return None  # the same episode: already recorded, the trigger already fired
        done = "recorded"
        if plan.drift.action == "run":
            result = run_command(plan, plan.drift.run)
            evidence["run"] = result.to_json()
            done = f"ran {result.name}: {result.detail}"
        store.record_event(plan, "drift", actor, True, f"{drift.summary()} (on_drift: {plan.drift.action}; {done})",
                           state.stage, None, evidence, at=now)
        if plan.notify:  # after the fact, never raising: a failed delivery is audited by notify
            notify(plan, Event("drift_confirmed", f"{plan.name}: {drift.summary()}", now, stage=state.stage,
                               check=drift.summary(), command=f"rollout drift {rollout.ref}", actor=actor),
                   store=store)
        return done
    settled = all(c.decision is not None for c in drift.columns) and not any(
        c.decision is ShiftDecision.DRIFTED for c in drift.columns)
    if settled and episode_open(rollout):
        store.record_event(plan, "drift_cleared", actor, True, f"drift episode over: {drift.summary()}",
                           state.stage, None, evidence, at=now)
        return "cleared"
    return None
