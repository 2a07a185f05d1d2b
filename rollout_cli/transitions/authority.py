"""Who may do what (docs/commands.md#who-runs-a-command): rollback and manual advance by `rollback.authority`, approvals and
--force by `rollback.approvers`. A refused attempt is recorded (allowed=false) and exits 5.

Choices: approvers may also advance by hand (an approval is an advance into a gated stage);
`start` needs the same authority as a manual advance, since it moves traffic.
"""

from __future__ import annotations

from datetime import datetime

from rollout_cli.errors import NotAllowed
from rollout_cli.state.base import IdentityRefused
from rollout_cli.transitions.context import Rollout


def may_move(rollout: Rollout, actor: str) -> bool:
    rb = rollout.plan.rollback
    return actor in rb.authorized_people or actor in rb.approver_people


def may_roll_back(rollout: Rollout, actor: str) -> bool:
    return actor in rollout.plan.rollback.authorized_people


def may_approve(rollout: Rollout, actor: str) -> bool:
    return actor in rollout.plan.rollback.approver_people


def refuse(rollout: Rollout, *, actor: str, action: str, what: str, listed: str, reason: str,
           from_stage: str | None, to_stage: str | None, now: datetime) -> NotAllowed:
    """Record the refused attempt and return the error to raise.

    listed: "authority" or "approvers" — the plan section that names who may.
    """
    rb = rollout.plan.rollback
    names = ", ".join(rb.authority if listed == "authority" else rb.approvers) or "nobody"
    message = f"{actor} may not {what}: not in rollback.{listed} ({names})"
    rollout.store.record_event(rollout.plan, action, actor, False, f"{message}; asked: {reason or '(no reason)'}",
                               from_stage, to_stage, None, at=now)
    return NotAllowed(message, hint="run it as someone listed (--as NAME or ROLLOUT_ACTOR), or ask one of them")


def acting(rollout: Rollout, requested: str | None, *, action: str, now: datetime) -> str:
    """Who acts, as the store establishes it (docs/team.md): self-asserted on SQLite; on PostgreSQL
    the authenticated role, which --as may only narrow. A refused claim is recorded and exits 5."""
    try:
        return rollout.store.actor(requested)
    except IdentityRefused as exc:
        rollout.store.record_event(rollout.plan, action, exc.role, False, exc.message, None, None,
                                   {"requested": requested, "role": exc.role}, at=now)
        raise
