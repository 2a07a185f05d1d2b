"""What `rollout status` reports, and when that report must page someone (docs/commands.md, `status`).

Read-only: `read_status` reads the state and the router — the ground truth — and never changes
either. A rollout whose router cannot be read, serves another split than the state says (or the
candidate with no state at all), has an interrupted transition, or has an unverified rollback is
not fine: `StatusReport.attention` is then true and the command exits 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollout_cli.errors import ExitCode, RouterError
from rollout_cli.plan.model import Plan
from rollout_cli.routers.base import BASELINE_ONLY, Router, RouterSplit, splits_match
from rollout_cli.state import journal
from rollout_cli.state.location import StateLocation
from rollout_cli.state.records import RolloutState, Transition, not_started
from rollout_cli.state.store import StateStore
from rollout_cli.units import format_duration, format_split


@dataclass(frozen=True)
class StatusReport:
    document: dict[str, Any]  # the `--json` document (docs/commands.md)

    @property
    def attention(self) -> bool:
        doc = self.document
        return bool(doc["interrupted"] or doc["rollback_incomplete"] or doc["router_agrees"] is False)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.ROUTER if self.attention else ExitCode.OK


def read_status(plan: Plan, store: StateStore | None, where: StateLocation, router: Router,
                now: datetime) -> StatusReport:
    """The status of `plan`'s rollout; `store` None when no state exists yet."""
    router_split, router_error = None, None
    try:
        router_split = router.read()
    except RouterError as exc:
        router_error = exc.message
    state = (store.get(plan.name) if store else None) or not_started(plan.name)
    interrupted = journal.open_transitions(store, plan.name) if store else []
    doc = status_document(plan, state, now, router_split, router_error, interrupted, where,
                          found=store is not None, drift=drift_status(plan, store))
    doc["state_store"] = store.location if store is not None else str(where.directory)
    doc["identity"] = identity_note(store)
    return StatusReport(doc)


def describe_next(plan: Plan, state: RolloutState, now: datetime) -> str:
    """What happens next, in one sentence a person at 3am can act on."""
    ref = plan.source or plan.name
    if state.rollback_incomplete:
        return (f"ROLLBACK INCOMPLETE: the router is not verified at the baseline — retry `rollout rollback {ref} "
                "--reason TEXT` or set the router by hand (see `rollout rollback` output)")
    if state.status == "not_started" or state.stage is None:
        first = plan.stages[0]
        return f"start with `rollout start {ref}` (first stage {first.name})"
    if state.status == "rolled_back":
        return "nothing: the rollout was rolled back; every request goes to the baseline"
    if state.status == "completed":
        return "nothing: the rollout is complete"
    if state.status == "paused":
        return (f"nothing moves while paused (the router keeps {state.split}): `rollout resume {ref}` lets the "
                f"controller judge {state.stage} again; `rollout rollback {ref} --reason TEXT` still works")
    if state.status == "monitoring":
        limit = plan.drift.monitor_for_s or 0.0
        remaining = max(limit - (now - (state.stage_started_at or now)).total_seconds(), 0.0)
        return (f"monitoring drift at 100%: each tick checks the last complete window; complete in "
                f"{format_duration(remaining, style='clock')} (drift.monitor_for {format_duration(limit)})")
    stage = plan.stage(state.stage)
    following = plan.next_stage(stage)
    then = (f"then {following.name} ({format_split(following.traffic, following.shadow)})"
            if following else "then complete")
    elapsed = (now - state.stage_started_at).total_seconds() if state.stage_started_at else 0.0
    if elapsed < stage.min_duration_s:
        left = format_duration(stage.min_duration_s - elapsed, style="clock")
        return f"{stage.name} runs at least {left} more (min_duration {format_duration(stage.min_duration_s)}), {then}"
    if following and following.approval_required and state.approved_stage != following.name:
        approvers = ", ".join(sorted(plan.rollback.approver_people))
        return f"{following.name} needs approval: an approver ({approvers}) runs `rollout advance {ref} --as NAME`"
    verdict = state.last_verdict or "not yet evaluated"
    return f"the next tick judges {stage.name} (last verdict: {verdict}); if it passes, {then}"


def router_disagreement(plan: Plan, state: RolloutState, router: RouterSplit | None,
                        router_error: str | None, where: StateLocation, found: bool) -> str | None:
    """Why the router does not back up the state, with what to do; None when it does."""
    ref = plan.source or plan.name
    stop = f"to stop serving the candidate run `rollout rollback {ref} --reason TEXT`"
    if state.status == "not_started":
        if router is None or splits_match(router, BASELINE_ONLY):
            return None
        # A state that says "never started" beside a router serving the candidate: the state is new, lost
        # or elsewhere — the worst moment to say "nothing to do".
        looked = f"no state found in {where.describe()}" if not found else "the state says not started"
        return f"ROUTER SERVES THE CANDIDATE: the router reports {router}, but {looked}; {stop}"
    if state.rollback_incomplete:
        return None  # describe_next already says ROLLBACK INCOMPLETE
    if router is None:
        return f"ROUTER UNREADABLE: {router_error or 'no answer'} — nothing can be verified until it answers; {stop}"
    if splits_match(router, state.split):
        return None
    return (f"ROUTER DISAGREES: the router reports {router}, the state expects {state.split} — it was changed "
            f"outside rollout; {stop}, or set the router back by hand")


def pending_rollback(plan: Plan, interrupted: list[Transition]) -> tuple[dict[str, Any] | None, str | None]:
    """The first unfinished rollback transition, as JSON and in words for `next`; (None, None)."""
    rollbacks = [t for t in interrupted if t.kind == "rollback"]
    if not rollbacks:
        return None, None
    first = rollbacks[0]
    alive = journal.owner_alive(first)
    owner = "its process still runs (waiting for the plan lock)" if alive else "its process is gone"
    ref = plan.source or plan.name
    words = (f"ROLLBACK PENDING: an interrupted rollback (transition {first.id}, phase {first.phase}, by {first.actor}); "
             f"{owner}; the state above may still show the candidate serving — finish it with "
             f"`rollout rollback {ref} --reason TEXT` (the next `rollout tick` or `advance` finishes it too)")
    return {"transition": first.id, "actor": first.actor, "phase": first.phase, "owner_alive": alive}, words


def status_document(plan: Plan, state: RolloutState, now: datetime, router: RouterSplit | None,
                    router_error: str | None, interrupted: list[Transition], where: StateLocation,
                    *, found: bool, drift: dict[str, Any] | None = None) -> dict[str, Any]:
    # Time in stage counts only while the stage runs: after a rollback or a completion it would mislead.
    running = state.status == "running" and state.stage_started_at is not None
    in_stage = (now - state.stage_started_at).total_seconds() if running and state.stage_started_at else None
    disagreement = router_disagreement(plan, state, router, router_error, where, found)
    waiting = [f"an interrupted {t.kind} {t.from_stage or '(not started)'} -> {t.to_stage or 'baseline'} "
               f"(transition {t.id}, phase {t.phase}, by {t.actor})" for t in interrupted]
    ref = plan.source or plan.name
    next_words = disagreement or describe_next(plan, state, now)
    if waiting and not disagreement:
        next_words = (f"{'; '.join(waiting)} — the next `rollout tick`, `advance` or `rollback {ref}` reconciles "
                      "it with the router (status changes nothing)")
    # An unfinished rollback is named whatever else is true (docs/operations.md, "Reconciliation").
    pending, pending_words = pending_rollback(plan, interrupted)
    next_words = pending_words or next_words
    return {
        "plan": plan.name, "stage": state.stage, "status": state.status,
        "candidate_traffic": state.candidate_traffic, "shadow": state.shadow,
        "stage_started_at": state.stage_started_at.isoformat() if state.stage_started_at else None,
        "next": next_words,
        "time_in_stage_s": round(in_stage, 1) if in_stage is not None else None,
        "rollback_incomplete": state.rollback_incomplete, "approved_stage": state.approved_stage,
        "last_verdict": state.last_verdict,
        "last_evaluated_at": state.last_evaluated_at.isoformat() if state.last_evaluated_at else None,
        "last_decision": state.last_decision,
        "router": router.to_json() if router else None, "router_error": router_error,
        # True/False: whether the router reports the state's split; None mid-rollback, or before start
        # with the router at the baseline
        "router_agrees": None if state.rollback_incomplete or (state.status == "not_started" and not disagreement)
        else disagreement is None,
        "state_dir": str(where.directory), "state_found": found, "state_location": where.how,
        "interrupted": [t.id for t in interrupted],
        "pending_rollback": pending,
        "drift": drift,
    }


def identity_note(store: Any) -> str:
    """How far the recorded actor can be trusted, said plainly (docs/team.md); None: no store yet (SQLite)."""
    if store is not None and store.identity_verified:
        return (f"verified: the actor is the authenticated database role {store.role()}; --as may only narrow it; "
                "the audit trail is append-only in the database")
    return ("self-asserted: on a SQLite state store the actor is whatever --as, ROLLOUT_ACTOR or the login name "
            "claims, and anyone who can write the state file can edit the audit trail")


def drift_status(plan: Plan, store: StateStore | None) -> dict[str, Any] | None:
    """The last drift event of the audit trail (the tick that started or ended an episode)."""
    if not plan.drift.enabled:
        return None
    if store is None:
        return {"episode_open": False, "last_event": None, "at": None}
    events = [e for action in ("drift", "drift_cleared") for e in store.events(plan.name, action)]
    if not events:
        return {"episode_open": False, "last_event": None, "at": None}
    last = max(events, key=lambda e: (e.at, e.id))
    return {"episode_open": last.action == "drift", "last_event": last.reason, "at": last.at.isoformat()}
