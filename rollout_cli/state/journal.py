"""The transition journal: intent -> applied -> verified -> done (docs/operations.md#the-journal).

Each phase is committed before the next side effect, so after a crash the journal says how far
a transition got, and reconcile (transitions/reconcile.py) finishes or undoes it against what
the router reports. Functions taking `conn` run inside the caller's write transaction.
"""

from __future__ import annotations

import os
import sqlite3

from rollout_cli.routers.base import RouterSplit
from rollout_cli.secrets import scrub
from rollout_cli.state.clock import format_time, parse_time, utc_now
from rollout_cli.state.liveness import identity_alive, pid_alive, process_identity
from rollout_cli.state.records import OPEN_PHASES, Transition, TransitionKind
from rollout_cli.state.store import StateStore

_OPEN = "phase IN (" + ", ".join("?" for _ in OPEN_PHASES) + ")"


def _transition(row: sqlite3.Row) -> Transition:
    return Transition(
        id=row["id"], plan=row["plan"], kind=row["kind"], phase=row["phase"],
        from_stage=row["from_stage"], to_stage=row["to_stage"],
        from_split=RouterSplit(row["from_traffic"], row["from_shadow"]),
        to_split=RouterSplit(row["to_traffic"], row["to_shadow"]),
        actor=row["actor"], reason=row["reason"], owner_pid=row["owner_pid"],
        owner_start=row["owner_start"],
        created_at=parse_time(row["created_at"]), updated_at=parse_time(row["updated_at"]),
    )


def begin(conn: sqlite3.Connection, plan_name: str, kind: TransitionKind, *, from_stage: str | None,
          to_stage: str | None, from_split: RouterSplit, to_split: RouterSplit, actor: str, reason: str) -> Transition:
    """Journal the intent of a transition owned by this process."""
    now = format_time(utc_now())
    # A shared store's connection names its owner itself (state/postgres.py: the server's backend,
    # whose liveness the server knows across machines) and claims the transition with a lock.
    owner = getattr(conn, "owner_pid", None) or os.getpid()
    row = conn.execute(
        "INSERT INTO transitions (plan, kind, phase, from_stage, to_stage, from_traffic, from_shadow, to_traffic, "
        "to_shadow, actor, reason, owner_pid, owner_start, created_at, updated_at) "
        "VALUES (?, ?, 'intent', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (plan_name, kind, from_stage, to_stage, from_split.candidate_traffic, from_split.shadow,
         to_split.candidate_traffic, to_split.shadow, scrub(actor), scrub(reason), owner,
         process_identity() if owner == os.getpid() else None, now, now),
    ).fetchone()
    claim = getattr(conn, "claim", None)
    if claim is not None:
        claim(int(row["id"]))
    return get(conn, int(row["id"]))


def get(conn: sqlite3.Connection, transition_id: int) -> Transition:
    row = conn.execute("SELECT * FROM transitions WHERE id = ?", (transition_id,)).fetchone()
    return _transition(row)


def set_phase(conn: sqlite3.Connection, transition_id: int, phase: str) -> None:
    conn.execute("UPDATE transitions SET phase = ?, updated_at = ? WHERE id = ?",
                 (phase, format_time(utc_now()), transition_id))


def open_transitions(store: StateStore, plan_name: str, conn: sqlite3.Connection | None = None) -> list[Transition]:
    """The plan's unfinished transitions, oldest first."""
    if conn is None:
        with store.read() as reader:
            return open_transitions(store, plan_name, reader)
    rows = conn.execute(
        f"SELECT * FROM transitions WHERE plan = ? AND {_OPEN} ORDER BY id", (plan_name, *OPEN_PHASES)
    ).fetchall()
    return [_transition(r) for r in rows]


def supersede_open_moves(conn: sqlite3.Connection, plan_name: str) -> list[int]:
    """Mark every open start/advance of the plan superseded (a rollback takes over); their ids."""
    rows = conn.execute(
        f"SELECT id FROM transitions WHERE plan = ? AND kind != 'rollback' AND {_OPEN}", (plan_name, *OPEN_PHASES)
    ).fetchall()
    for row in rows:
        set_phase(conn, row["id"], "superseded")
    return [row["id"] for row in rows]


def all_transitions(store: StateStore, plan_name: str) -> list[Transition]:
    with store.read() as conn:
        rows = conn.execute("SELECT * FROM transitions WHERE plan = ? ORDER BY id", (plan_name,)).fetchall()
    return [_transition(r) for r in rows]


def owner_alive(transition: Transition) -> bool:
    """Whether the process that opened the transition still runs (same machine: one state dir):
    by PID and start time, so a reused PID or a PID 1 of another namespace is not taken for it
    (state/liveness.py)."""
    if transition.owner_start:
        alive = identity_alive(transition.owner_start)
        if alive is not None:
            return alive
    return pid_alive(transition.owner_pid)


def owned_by_me(transition: Transition) -> bool:
    """Whether this process opened the transition (PID 1 here is not PID 1 of another namespace)."""
    mine = process_identity()
    if transition.owner_start and mine:
        return transition.owner_start == mine
    return transition.owner_pid == os.getpid()
