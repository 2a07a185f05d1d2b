"""Start and advance: journalled moves of the router to a stage's split.

The protocol, each step committed before the next side effect:
  1. under the plan lock, reconcile leftovers, then journal the intent (one write transaction
     that also re-checks the state and refuses when a rollback is open);
  2. apply the split inside a write transaction that first re-checks the intent is still ours:
     a rollback marks its intent under the same database lock, so it is ordered wholly before
     this write (and we abort without touching the router) or wholly after it (and its
     baseline write comes last) — the rollback wins either way;
  3. verify by reading the router back, then journal verified, then done with the new state.
After step 2 an advance that finds itself superseded stops and leaves the router to the rollback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rollout_cli.errors import RouterError, UsageError
from rollout_cli.plan.model import Stage
from rollout_cli.routers.base import BASELINE_ONLY, PreparableRouter, RouterSplit, splits_match
from rollout_cli.state import journal
from rollout_cli.state.clock import utc_now
from rollout_cli.state.killpoints import kill_point
from rollout_cli.state.records import RolloutState, Transition
from rollout_cli.transitions.context import LostRace, Rollout, Superseded
from rollout_cli.transitions.reconcile import reconcile

MoveKind = Literal["start", "advance"]


@dataclass(frozen=True)
class MoveResult:
    kind: MoveKind
    from_stage: str | None
    to_stage: str
    split: RouterSplit
    state: RolloutState


def start(rollout: Rollout, *, actor: str, reason: str, now: datetime) -> MoveResult:
    """Put the router on the first stage's split and record the rollout as running."""
    first = rollout.plan.stages[0]

    def check(state: RolloutState) -> None:
        if state.status not in ("not_started", "rolled_back") or state.rollback_incomplete:
            raise UsageError(f"rollout {rollout.plan.name} is already {state.status.replace('_', ' ')}"
                             f"{' (rollback incomplete)' if state.rollback_incomplete else ''}; start refused",
                             hint=f"see `rollout status {rollout.ref}`")

    return _move(rollout, "start", None, first, actor=actor, reason=reason, now=now, check=check,
                 evidence={"split": first.split.to_json()})


def advance(rollout: Rollout, from_stage: str, to: Stage, *, actor: str, reason: str, now: datetime,
            evidence: dict[str, Any] | None) -> MoveResult:
    """Move from `from_stage` to the stage `to`; Superseded if the rollout moved or a rollback began."""

    def check(state: RolloutState) -> None:
        check_still_running(rollout, state, from_stage, "advance")

    return _move(rollout, "advance", from_stage, to, actor=actor, reason=reason, now=now, check=check,
                 evidence=evidence)


def check_still_running(rollout: Rollout, state: RolloutState, from_stage: str | None, what: str,
                        live: tuple[str, ...] = ("running",)) -> None:
    """Refuse to build on a rollout that changed since `from_stage` was judged: Superseded (exit 1)
    when a rollback took over, LostRace (exit 3, nothing changed) when another advance or
    completion moved it first. Called inside the write transaction that records the move; a
    completion also finishes a `monitoring` rollout (`live`)."""
    name = rollout.plan.name
    if state.rollback_incomplete or state.status == "rolled_back":
        what_now = "rollback incomplete" if state.rollback_incomplete else "rolled back"
        raise Superseded(f"{what} of {name} aborted: the rollout is {what_now}")
    if state.status not in live:
        raise LostRace(f"{what} of {name} aborted: the rollout is {state.status.replace('_', ' ')}; another "
                       "command moved it first", hint=f"see `rollout status {rollout.ref}`")
    if state.stage != from_stage:
        raise LostRace(f"{what} of {name} aborted: the rollout moved to {state.stage} while {from_stage} was being "
                       "judged; another command moved it first", hint=f"see `rollout status {rollout.ref}`")


def _router_split_or_baseline(rollout: Rollout) -> RouterSplit:
    try:
        return rollout.router.read()
    except RouterError:
        return BASELINE_ONLY  # e.g. a file router before its file exists: `start` creates it


def _move(rollout: Rollout, kind: MoveKind, from_stage: str | None, to: Stage, *, actor: str, reason: str,
          now: datetime, check: Any, evidence: dict[str, Any] | None) -> MoveResult:
    plan, store, router = rollout.plan, rollout.store, rollout.router
    target = to.split
    with store.lock(plan.name):
        reconcile(rollout, actor=actor, now=now)
        if kind == "advance":
            _refuse_a_stray_router(rollout, from_stage, to, actor=actor, reason=reason, now=now)
        if kind == "start" and isinstance(router, PreparableRouter):
            router.prepare()  # e.g. the file router's file: only `start` may create it
        source = _router_split_or_baseline(rollout) if kind == "start" else None
        if kind == "start":
            check(rollout.state())  # "already running" says more than "the router is live"; re-checked below
        if source is not None and not splits_match(source, BASELINE_ONLY):
            raise _live_router(rollout, source, actor=actor, reason=reason, now=now)
        with store.write() as conn:
            state = rollout.state()
            check(state)
            if any(t.kind == "rollback" for t in journal.open_transitions(store, plan.name, conn)):
                raise Superseded(f"{kind} of {plan.name} aborted: a rollback is in progress")
            intent = journal.begin(conn, plan.name, kind, from_stage=from_stage, to_stage=to.name,
                                   from_split=source or state.split, to_split=target, actor=actor, reason=reason)
        kill_point(f"{kind}:after-intent")
        try:
            with store.write() as conn:
                _still_ours(conn, intent, "intent")
                router.apply(target)
                kill_point(f"{kind}:after-apply")
                journal.set_phase(conn, intent.id, "applied")
            kill_point(f"{kind}:after-applied")
            verified = router.verify(target)
            if not verified:
                raise RouterError(f"the router did not take the split {target}: it reports {router.read()}")
        except RouterError:
            _undo(rollout, intent)
            raise
        with store.write() as conn:
            _still_ours(conn, intent, "applied")
            journal.set_phase(conn, intent.id, "verified")
        kill_point(f"{kind}:after-verified")
        # The stage clock starts now that the router serves the new split (verified), not when the
        # command began: requests served under the old split must not be judged against the new one.
        verified_at = max(now, utc_now())  # `now` may be simulated time ahead of the clock (the demo)
        with store.write() as conn:
            _still_ours(conn, intent, "verified")
            journal.set_phase(conn, intent.id, "done")
            new_state = RolloutState(plan=plan.name, status="running", stage=to.name, stage_started_at=verified_at,
                                     candidate_traffic=target.candidate_traffic, shadow=target.shadow,
                                     approved_stage=None if kind == "start" else rollout.state().approved_stage)
            store.put(conn, new_state)
            store.record_event(plan, kind, actor, True, reason, from_stage, to.name,
                               {**(evidence or {}), "transition": intent.id, "split": target.to_json()},
                               at=now, conn=conn)
    return MoveResult(kind, from_stage, to.name, target, new_state)


def _live_router(rollout: Rollout, found: RouterSplit, *, actor: str, reason: str, now: datetime) -> UsageError:
    """`start` never builds a second rollout over a live one: the router must be at the baseline."""
    problem = f"the router serves {found}, not the baseline alone"
    rollout.store.record_event(rollout.plan, "start", actor, True, f"{reason} — refused: {problem}", None,
                               rollout.plan.stages[0].name, {"result": "refused", "router": found.to_json()}, at=now)
    return UsageError(f"start of {rollout.plan.name} refused: {problem} — a rollout (perhaps with its state "
                      "elsewhere) or a hand edit is live",
                      hint=f"find its state (`rollout status {rollout.ref}` says where it looked); to take the live "
                           f"split over as this rollout's stage: `rollout start {rollout.ref} --adopt`; to stop "
                           f"serving the candidate: `rollout rollback {rollout.ref} --reason TEXT`")


def adopt(rollout: Rollout, *, actor: str, reason: str, now: datetime) -> MoveResult:
    """`start --adopt`: record the rollout as running at the stage whose split the router serves now,
    without moving the router (the split is read back, never assumed); audited as a start."""
    plan, store = rollout.plan, rollout.store
    with store.lock(plan.name):
        reconcile(rollout, actor=actor, now=now)
        found = rollout.router.read()  # RouterError (exit 4) when it cannot be read: nothing to adopt
        stage = next((s for s in plan.stages if splits_match(s.split, found)), None)
        if stage is None:
            known = ", ".join(f"{s.name} ({s.split})" for s in plan.stages)
            raise UsageError(f"cannot adopt: the router serves {found}, which is no stage of {plan.name} ({known})",
                             hint=f"roll back (`rollout rollback {rollout.ref} --reason TEXT`), then start")
        adopted_at = max(now, utc_now())
        with store.write() as conn:
            state = rollout.state()
            if state.status not in ("not_started", "rolled_back") or state.rollback_incomplete:
                raise UsageError(f"rollout {plan.name} is already {state.status.replace('_', ' ')}; adopt refused",
                                 hint=f"see `rollout status {rollout.ref}`")
            new_state = RolloutState(plan=plan.name, status="running", stage=stage.name, stage_started_at=adopted_at,
                                     candidate_traffic=found.candidate_traffic, shadow=found.shadow)
            store.put(conn, new_state)
            store.record_event(plan, "start", actor, True, f"{reason} — adopted the split the router serves",
                               None, stage.name, {"result": "adopted", "router": found.to_json()}, at=now, conn=conn)
    return MoveResult("start", None, stage.name, found, new_state)


def router_problem(rollout: Rollout, state: RolloutState) -> str | None:
    """Why the router cannot be trusted to serve the state's split, or None when it does."""
    try:
        reported = rollout.router.read()
    except RouterError as exc:
        return f"the router cannot be read ({exc.message})"
    if not splits_match(reported, state.split):
        return f"the router reports {reported}, not the split of stage {state.stage} ({state.split})"
    return None


def _refuse_a_stray_router(rollout: Rollout, from_stage: str | None, to: Stage, *, actor: str, reason: str,
                           now: datetime) -> None:
    """An advance builds on the split the state records. Under the plan lock, after reconcile, a
    router that serves another split (changed by hand) or cannot be read is not moved further."""
    state = rollout.state()
    if state.status != "running" or state.stage != from_stage:
        return  # the check inside the write transaction says what happened
    problem = router_problem(rollout, state)
    if problem is None:
        return
    rollout.store.record_event(rollout.plan, "advance", actor, True, f"{reason} — refused: {problem}", from_stage,
                               to.name, {"result": "refused", "problem": problem}, at=now)
    raise RouterError(f"advance of {rollout.plan.name} refused: {problem}",
                      hint=f"see `rollout status {rollout.ref}`; roll back if the candidate serves where it should not")


def _still_ours(conn: Any, intent: Transition, phase: str) -> None:
    """Abort (without touching the router again) when a rollback superseded this transition."""
    current = journal.get(conn, intent.id)
    if current.phase != phase:
        raise Superseded(f"{intent.kind} of {intent.plan} to {intent.to_stage} aborted: a rollback took over "
                         f"(transition {intent.id} is {current.phase}); the router is left to the rollback")


def _undo(rollout: Rollout, intent: Transition) -> None:
    """After a router failure: put the router back where it was, or leave the intent for reconcile."""
    store = rollout.store
    with store.write() as conn:
        if journal.get(conn, intent.id).phase not in ("intent", "applied"):
            return  # superseded by a rollback: the router is the rollback's now
    try:
        rollout.router.apply(intent.from_split)
        restored = splits_match(rollout.router.read(), intent.from_split)
    except RouterError:
        restored = False
    if restored:
        with store.write() as conn:
            journal.set_phase(conn, intent.id, "aborted")
            store.record_event(rollout.plan, intent.kind, intent.actor, True,
                               f"{intent.reason} — failed: the router did not take the new split; restored the previous one",
                               intent.from_stage, intent.to_stage, {"transition": intent.id, "result": "aborted"},
                               conn=conn)
        return
    # The journal keeps the open intent (the write may still land); the next command reconciles
    # against the router. The failed attempt is recorded now: every attempt goes into the audit trail.
    store.record_event(rollout.plan, intent.kind, intent.actor, True,
                       f"{intent.reason} — failed: the router did not take the new split and could not be "
                       "restored; the next command reconciles with it", intent.from_stage, intent.to_stage,
                       {"transition": intent.id, "result": "failed"})
