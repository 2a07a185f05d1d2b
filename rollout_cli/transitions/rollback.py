"""Rollback: journalled, winning over any concurrent advance, never reported done unverified.

`rollback` marks its intent first — in one write transaction that also marks any open
start/advance superseded — and only then waits for the plan lock; an advance holding the lock
sees the mark at its next journal step and stops without touching the router again. Phases:
intent -> applied (route step passed) -> verified (verify step passed) -> done, or `failed`
when the router could not be verified (state: rollback_incomplete, status unchanged).

A rollback acts on what the router reports, not only on what the state says: a state that says
"not started" (new, lost, or found in the wrong place) with a router serving the candidate or
mirroring to it is rolled back all the same, and recorded; `rollback_without_state` runs the
steps when the store itself cannot be opened or read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rollout_cli.errors import ExitCode, RolloutError, RouterError
from rollout_cli.plan.model import Plan
from rollout_cli.routers.base import BASELINE_ONLY, Router, RouterSplit, splits_match
from rollout_cli.state import journal
from rollout_cli.state.killpoints import kill_point
from rollout_cli.state.records import RolloutState, Transition
from rollout_cli.transitions.alerts import RollbackNotices
from rollout_cli.transitions.context import Rollout
from rollout_cli.transitions.steps import RollbackRun, StepResult, run_rollback_steps


class RollbackNotRun(RouterError):
    """The rollback could not run (or stopped) because the state store failed; `manual_commands`
    are what a person runs to send every request to the baseline by hand (may be empty)."""

    def __init__(self, message: str, *, hint: str, manual_commands: list[str]) -> None:
        super().__init__(message, hint=hint)
        self.manual_commands = manual_commands


@dataclass(frozen=True)
class RollbackResult:
    transition: int | None
    from_stage: str | None
    run: RollbackRun | None  # None when this process ran no steps (already rolled back, or joined)
    router_verified: bool
    outcome: str  # "rolled_back" | "incomplete" | "already_rolled_back" | "already_at_baseline" | "joined"
    state: RolloutState
    state_problem: str | None = None  # set when the rollback ran without a usable state store
    audit_file: str | None = None  # where that rollback was recorded instead (None: nowhere)

    @property
    def exit_code(self) -> ExitCode:
        """0 when the router is verified at the baseline and every step ran; else 4."""
        ok = self.router_verified and (self.run is None or self.run.ok)
        return ExitCode.OK if ok else ExitCode.ROUTER

    def to_json(self, plan_name: str, budget_s: float) -> dict[str, Any]:
        doc: dict[str, Any] = {"plan": plan_name, "action": "rollback", "outcome": self.outcome,
                               "from_stage": self.from_stage, "router_verified": self.router_verified,
                               "rollback_incomplete": self.state.rollback_incomplete, "budget_s": budget_s,
                               "transition": self.transition}
        if self.run is not None:
            doc.update(self.run.to_json())
        if self.state_problem is not None:
            doc.update(state_problem=self.state_problem, audit_file=self.audit_file)
        return doc


def rollback(rollout: Rollout, *, actor: str, reason: str, now: datetime, evidence: dict[str, Any] | None = None,
             on_step: Callable[[StepResult], None] | None = None) -> RollbackResult:
    """Send all traffic back to the baseline through the plan's rollback steps, journalled."""
    store, plan = rollout.store, rollout.plan
    # "Already rolled back" is a claim about the router, so it is read back first (outside the write
    # lock: a slow router must not hold up other processes); a router that left the baseline since —
    # a hand edit, a restore from backup — is rolled back again.
    checked = _router_at_baseline(rollout) if rollout.state().status == "rolled_back" else None
    with store.write() as conn:
        state = rollout.state()
        open_transitions = journal.open_transitions(store, plan.name, conn)
        found = None
        if state.status == "not_started" and not open_transitions:
            # The state may be new (found nowhere else), lost or wrong; the router is the ground truth.
            found = _read_router(rollout)
            if found is not None and splits_match(found, BASELINE_ONLY):
                store.record_event(plan, "rollback", actor, True,
                                   f"{reason} — nothing to roll back: the router serves the baseline alone",
                                   None, None, {"result": "already_at_baseline", "router": found.to_json()},
                                   at=now, conn=conn)
                return RollbackResult(None, None, None, True, "already_at_baseline", state)
            evidence = {**(evidence or {}), "state_said": "not_started",
                        "router_found": found.to_json() if found else "unreadable"}
        open_rollbacks = [t for t in open_transitions if t.kind == "rollback"]
        superseded = journal.supersede_open_moves(conn, plan.name)
        if (state.status == "rolled_back" and not state.rollback_incomplete and not open_rollbacks
                # rolled back by another process since the check above: read the router now, under the lock
                and (checked if checked is not None else _router_at_baseline(rollout))):
            store.record_event(plan, "rollback", actor, True, f"{reason} — already rolled back; nothing to do",
                               state.stage, None, {"result": "already_rolled_back"}, at=now, conn=conn)
            return RollbackResult(None, state.stage, None, True, "already_rolled_back", state)
        if open_rollbacks:
            intent = open_rollbacks[0]  # another rollback's intent: join it rather than start a second one
        else:
            intent = journal.begin(conn, plan.name, "rollback", from_stage=state.stage, to_stage=None,
                                   from_split=found or state.split, to_split=BASELINE_ONLY, actor=actor,
                                   reason=reason)
    kill_point("rollback:after-intent")
    with store.lock(plan.name):
        with store.read() as conn:
            current = journal.get(conn, intent.id)
        # Still open under the lock: its owner is dead, or alive but still waiting for the lock; either
        # way this process runs it (an owner that comes later finds it finished and reports that).
        if not current.is_open:
            state = rollout.state()
            verified = current.phase == "done"
            how = ("finished by another command while this one waited" if store.is_own(intent) else
                   f"joined the rollback already in progress (transition {intent.id}, by {intent.actor})")
            store.record_event(plan, "rollback", actor, True, f"{reason} — {how}: {current.phase}", state.stage, None,
                               {"result": "joined", "transition": intent.id}, at=now)
            return RollbackResult(intent.id, intent.from_stage, None, verified,
                                  "joined" if verified else "incomplete", state)
        return resume_rollback(rollout, current, actor=actor, now=now, evidence=evidence, on_step=on_step,
                               superseded=superseded)


def resume_rollback(rollout: Rollout, intent: Transition, *, actor: str, now: datetime,
                    evidence: dict[str, Any] | None = None, on_step: Callable[[StepResult], None] | None = None,
                    superseded: list[int] | None = None) -> RollbackResult:
    """Run the steps of an open rollback transition to its end. The caller holds the plan lock."""
    store, plan = rollout.store, rollout.plan
    notices = RollbackNotices(rollout, intent, actor=actor, now=now)

    def journal_step(result: StepResult) -> None:
        if result.kind == "route":
            kill_point("rollback:after-route")
            if result.outcome == "pass":
                _advance_phase(rollout, intent.id, "intent", "applied")
                kill_point("rollback:after-applied")
        elif result.kind == "verify" and result.outcome == "pass":
            _advance_phase(rollout, intent.id, "applied", "verified")
            _advance_phase(rollout, intent.id, "intent", "verified")  # a plan whose route step errored
            kill_point("rollback:after-verified")
            notices.router_verified()
        if on_step:
            on_step(result)

    context = {"actor": actor, "reason": intent.reason, "stage": intent.from_stage, "at": now.isoformat()}
    run = run_rollback_steps(plan, rollout.router, context=context, on_step=journal_step)
    kill_point("rollback:after-steps")
    with store.write() as conn:
        state = rollout.state()
        if run.router_verified:
            journal.set_phase(conn, intent.id, "done")
            new_state = replace(state, status="rolled_back", candidate_traffic=0.0, shadow=0.0,
                                rollback_incomplete=False, last_decision="rollback")
        else:
            journal.set_phase(conn, intent.id, "failed")
            new_state = replace(state, rollback_incomplete=True, last_decision="rollback incomplete")
        store.put(conn, new_state)
        failed = [s.name for s in run.steps if s.outcome == "fail"]
        words = (("rolled back" if not failed else f"rolled back; failed steps: {', '.join(failed)}")
                 if run.router_verified else "rollback INCOMPLETE: the router is not verified at the baseline")
        resumed = "" if intent.actor == actor and store.is_own(intent) else f" (resumed; begun by {intent.actor})"
        store.record_event(plan, "rollback", actor, True, f"{intent.reason} — {words}{resumed}",
                           intent.from_stage, None,
                           {**(evidence or {}), "result": "rolled_back" if run.router_verified else "incomplete",
                            "transition": intent.id, "superseded": superseded or [], **run.to_json()},
                           at=now, conn=conn)
    notices.finished(run)  # after the state is recorded: a slow webhook delays nothing that matters
    return RollbackResult(intent.id, intent.from_stage, run, run.router_verified,
                          "rolled_back" if run.router_verified else "incomplete", new_state)


def _read_router(rollout: Rollout) -> RouterSplit | None:
    try:
        return rollout.router.read()
    except RouterError:
        return None


def rollback_without_state(plan: Plan, router: Router, *, actor: str, reason: str, now: datetime,
                           on_step: Callable[[StepResult], None] | None = None) -> RollbackRun:
    """The plan's rollback steps with no state store to journal them (it is damaged or cannot be
    opened): the rollback wins over a confused state. No advance can run meanwhile — it needs the
    store — so there is no concurrent move to order against. The caller records what happened."""
    context = {"actor": actor, "reason": reason, "stage": None, "at": now.isoformat()}
    return run_rollback_steps(plan, router, context=context, on_step=on_step)


def _router_at_baseline(rollout: Rollout) -> bool:
    try:
        return rollout.router.verify(BASELINE_ONLY)
    except RouterError:
        return False


def _advance_phase(rollout: Rollout, transition_id: int, expected: str, phase: str) -> None:
    with rollout.store.write() as conn:
        if journal.get(conn, transition_id).phase == expected:
            journal.set_phase(conn, transition_id, phase)


def manual_commands(plan: Plan) -> list[str]:
    """The shell commands that send every request to the baseline, or [] when the router cannot say."""
    from rollout_cli.routers.registry import router_for

    try:
        return router_for(plan.router.adapter, plan.router.options).explain(BASELINE_ONLY)
    except RolloutError:
        return []
