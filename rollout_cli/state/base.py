"""The contract every state store keeps: SQLite (store.py, the embedded default) and
PostgreSQL (postgres.py, shared by a team). Transitions and commands use only this.

Both keep the same three tables (rollouts, transitions, events) and the same guarantees:
  - `write()` is one transaction holding the store's write lock from its first statement, so no
    two processes read-then-write stale state (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
    transaction-level advisory lock);
  - `lock(plan)` is exclusive across processes — across machines for PostgreSQL — and released
    by the operating system or the server when its holder dies (flock; a session advisory lock);
  - `owner_alive(t)` says whether the process that opened a journal transition still runs;
  - `actor(requested)` names who acts: self-asserted on SQLite, the authenticated database role
    on PostgreSQL, where `requested` (--as) may only narrow it (IdentityRefused otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from rollout_cli.errors import NotAllowed
from rollout_cli.plan.model import Plan
from rollout_cli.state.records import AuditEvent, RolloutState, Transition


class IdentityRefused(NotAllowed):
    """The authenticated role may not act under the name asked for (exit 5)."""

    def __init__(self, message: str, *, role: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.role = role


class Store(Protocol):
    kind: str  # "sqlite" | "postgresql"
    identity_verified: bool

    @property
    def location(self) -> str: ...

    def close(self) -> None: ...

    def write(self) -> AbstractContextManager[Any]: ...

    def lock(self, plan_name: str) -> AbstractContextManager[None]: ...

    def get(self, plan_name: str) -> RolloutState | None: ...

    def put(self, conn: Any, state: RolloutState) -> None: ...

    def record_event(self, plan: Plan, action: str, actor: str, allowed: bool, reason: str,
                     from_stage: str | None = None, to_stage: str | None = None,
                     evidence: dict[str, Any] | None = None, *, at: datetime | None = None,
                     conn: Any = None) -> None: ...

    def events(self, plan_name: str, action: str | None = None) -> list[AuditEvent]: ...

    def actor(self, requested: str | None) -> str: ...

    def owner_alive(self, transition: Transition) -> bool: ...

    def is_own(self, transition: Transition) -> bool: ...


def rows(store: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every row of one of the three tables, in id/plan order (for `state copy`)."""
    order = "plan" if table == "rollouts" else "id"
    if table not in ("rollouts", "transitions", "events"):
        raise ValueError(table)
    for row in store.conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall():
        yield dict(row)
