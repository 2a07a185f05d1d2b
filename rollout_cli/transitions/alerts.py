"""The rollout's notifications (rollout_cli.notify), sent at the moments transitions reach.

Rollback: nothing is sent before the router is verified at the baseline. Then `rollback_started`
goes out on a thread of its own while the remaining steps (scale down, ...) run, and once the
state is recorded, `rollback_finished` or `rollback_failed` (with the manual commands). The
controller: `stage_advanced`, `approval_needed` (once per gated stage), `held_too_long` (once,
when a hold crosses the target's threshold), `controller_error`.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from rollout_cli.notify import Event, notify, record_failures, send_all
from rollout_cli.notify.deliver import Delivery
from rollout_cli.state.records import RolloutState, Transition
from rollout_cli.transitions.context import Rollout
from rollout_cli.transitions.steps import RollbackRun


class RollbackNotices:
    """rollback_started (in the background, after the router is verified), then finished or failed."""

    def __init__(self, rollout: Rollout, intent: Transition, *, actor: str, now: datetime) -> None:
        self.rollout, self.intent, self.actor, self.now = rollout, intent, actor, now
        self._thread: threading.Thread | None = None
        self._started: list[Delivery] = []

    def _event(self, kind: str, summary: str, **extra: Any) -> Event:
        return Event(kind=kind, summary=summary, at=self.now, stage=self.intent.from_stage, check=self.intent.reason,
                     actor=self.actor, **extra)

    def router_verified(self) -> None:
        if not self.rollout.plan.notify or self._thread is not None:
            return
        event = self._event("rollback_started", f"{self.rollout.plan.name} is rolling back from stage "
                            f"{self.intent.from_stage}: the router serves the baseline alone; the remaining steps run")
        self._thread = threading.Thread(target=lambda: self._started.extend(send_all(self.rollout.plan, event)),
                                        name="rollout-notify", daemon=True)
        self._thread.start()

    def finished(self, run: RollbackRun) -> None:
        plan, store = self.rollout.plan, self.rollout.store
        if not plan.notify:
            return
        if self._thread is not None:
            self._thread.join()  # bounded by the delivery budget
            record_failures(store, plan, self._event("rollback_started", ""), self._started)
        failed = [s.name for s in run.steps if s.outcome == "fail"]
        if run.router_verified:
            summary = f"{plan.name} rolled back from stage {self.intent.from_stage} in {run.duration_s:.1f}s"
            event = self._event("rollback_finished", summary + (f"; failed steps: {', '.join(failed)}" if failed else ""),
                                command=f"rollout status {self.rollout.ref}")
        else:
            event = self._event("rollback_failed", f"{plan.name}: the rollback could not verify the router at the "
                                "baseline; the candidate may still serve traffic",
                                command=f"rollout rollback {self.rollout.ref} --reason TEXT",
                                details={"manual_commands": list(run.manual_commands), "failed_steps": failed})
        notify(plan, event, store=store)


def after_step(rollout: Rollout, state: RolloutState, kind: str, *, reason: str, to_stage: str | None,
               now: datetime, deduped: bool) -> None:
    """The controller's notices for one decision (`kind`: advance, await_approval, hold...)."""
    plan = rollout.plan
    if not plan.notify:
        return
    ref = rollout.ref
    if kind == "advance":
        event = Event("stage_advanced", f"{plan.name} advanced from {state.stage} to {to_stage}", now, stage=to_stage,
                      check=reason, command=f"rollout status {ref}")
    elif kind == "await_approval" and not deduped:
        event = Event("approval_needed", f"{plan.name} waits for approval to enter {to_stage}", now, stage=state.stage,
                      check=reason, command=f"rollout advance {ref} --as NAME")
    elif kind in ("hold", "await_approval") and _crossed(plan, state, now):
        held = (now - state.stage_started_at).total_seconds() if state.stage_started_at else 0.0
        event = Event("held_too_long", f"{plan.name} has held at stage {state.stage} for {held / 3600:.1f}h", now,
                      stage=state.stage, check=reason, command=f"rollout status {ref}")
    else:
        return
    notify(plan, event, store=rollout.store)


def _crossed(plan: Any, state: RolloutState, now: datetime) -> bool:
    """Whether this tick is the first past some target's held_longer_than (the last tick was before it)."""
    if state.stage_started_at is None:
        return False
    held = (now - state.stage_started_at).total_seconds()
    before = (state.last_evaluated_at - state.stage_started_at).total_seconds() if state.last_evaluated_at else 0.0
    return any(before < t.held_longer_than_s <= held for t in plan.notify if "held_too_long" in t.events)


def controller_error(rollout: Rollout, message: str, *, now: datetime) -> None:
    notify(rollout.plan, Event("controller_error", f"the controller of {rollout.plan.name} hit an error: {message}",
                               now, check=message, command=f"rollout status {rollout.ref}"), store=rollout.store)
