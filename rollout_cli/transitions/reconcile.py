"""Reconcile: make state and router agree after a transition was interrupted (docs/operations.md#reconciliation).

Every command calls `reconcile` before anything else. For each open transition whose owner is
gone (a crash, kill -9), it reads the router — the ground truth — and:
  - start/advance, router at the target split: finish it (state moves to the target stage,
    whose clock starts now: the stage is judged only on time the state knew about);
  - start/advance, router at the source split: mark it aborted (nothing happened);
  - start/advance, router anywhere else or unreadable: put the source split back, verify, abort;
  - rollback: finish it — run the rollback steps again (they are idempotent by design).
A rollback whose owner still runs is left alone: it is waiting for the plan lock to do its work.
Each resolution is recorded as a "reconcile" event.
"""

from __future__ import annotations

from datetime import datetime
from sqlite3 import Connection

from rollout_cli.errors import RouterError
from rollout_cli.routers.base import RouterSplit, splits_match
from rollout_cli.state import journal
from rollout_cli.state.clock import utc_now
from rollout_cli.state.records import RolloutState, Transition
from rollout_cli.transitions.context import Rollout


def reconcile(rollout: Rollout, *, actor: str, now: datetime) -> list[str]:
    """Resolve the plan's abandoned transitions; what was done, in words (empty: nothing open).

    Raises RouterError when the router cannot be read or restored (the transition stays open).
    """
    store, plan = rollout.store, rollout.plan
    if not journal.open_transitions(store, plan.name):
        return []  # the common case costs one indexed query and takes no lock
    done: list[str] = []
    with store.lock(plan.name):
        for transition in journal.open_transitions(store, plan.name):
            if transition.kind == "rollback":
                if store.owner_alive(transition):
                    continue  # a live rollback waiting for the lock; it will finish itself
                from rollout_cli.transitions.rollback import resume_rollback

                result = resume_rollback(rollout, transition, actor=actor, now=now)
                done.append(f"finished the interrupted rollback (transition {transition.id}): "
                            f"{'verified at baseline' if result.router_verified else 'NOT verified'}")
                continue
            done.append(_reconcile_move(rollout, transition, actor=actor, now=now))
    return done


def _read(rollout: Rollout) -> RouterSplit | None:
    try:
        return rollout.router.read()
    except RouterError:
        return None


def _reconcile_move(rollout: Rollout, transition: Transition, *, actor: str, now: datetime) -> str:
    store, plan = rollout.store, rollout.plan
    current = _read(rollout)
    found = transition.phase
    what = f"{transition.kind} {transition.from_stage or '(not started)'} -> {transition.to_stage}"
    if current is not None and splits_match(current, transition.to_split):
        resolution = f"finished the interrupted {what} (found at phase {found}; the router serves the target split)"
        with store.write() as conn:
            journal.set_phase(conn, transition.id, "done")
            previous = rollout.state()
            store.put(conn, RolloutState(
                plan=plan.name, status="running", stage=transition.to_stage, stage_started_at=max(now, utc_now()),
                candidate_traffic=transition.to_split.candidate_traffic, shadow=transition.to_split.shadow,
                approved_stage=None if transition.kind == "start" else previous.approved_stage))
            _record(rollout, transition, actor, resolution, current, "finished", now, conn)
        return resolution
    if current is None or not splits_match(current, transition.from_split):
        try:
            rollout.router.apply(transition.from_split)
            restored = rollout.router.verify(transition.from_split)
        except RouterError as exc:
            raise RouterError(
                f"cannot reconcile the interrupted {what}: {exc.message}",
                hint="the router must answer before the rollout can continue; to stop serving the candidate "
                     f"run `rollout rollback {rollout.ref} --reason TEXT`",
            ) from None
        if not restored:
            raise RouterError(f"cannot reconcile the interrupted {what}: the router did not take back "
                              f"{transition.from_split}")
        resolution = (f"undid the interrupted {what} (found at phase {found}; the router reported "
                      f"{current if current is not None else 'nothing readable'}; restored {transition.from_split})")
    else:
        resolution = f"undid the interrupted {what} (found at phase {found}; the router never left the source split)"
    with store.write() as conn:
        journal.set_phase(conn, transition.id, "aborted")
        _record(rollout, transition, actor, resolution, current, "aborted", now, conn)
    return resolution


def _record(rollout: Rollout, transition: Transition, actor: str, resolution: str, router: RouterSplit | None,
            result: str, now: datetime, conn: Connection) -> None:
    rollout.store.record_event(
        rollout.plan, "reconcile", actor, True, resolution, transition.from_stage, transition.to_stage,
        {"transition": transition.id, "kind": transition.kind, "phase_found": transition.phase, "result": result,
         "router": router.to_json() if router else None, "interrupted_actor": transition.actor},
        at=now, conn=conn,
    )
