"""What the state store keeps: the rollout's state, the transition journal, the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rollout_cli.routers.base import RouterSplit

# SPEC §5's status enum; an incomplete rollback is the separate flag `rollback_incomplete`.
# "monitoring": the ramp reached 100% and drift is still checked for drift.monitor_for.
Status = Literal["not_started", "running", "paused", "rolled_back", "completed", "monitoring"]
TERMINAL_STATUSES = ("rolled_back", "completed")

TransitionKind = Literal["start", "advance", "rollback"]
# intent -> applied -> verified -> done, or one of the other terminal phases:
#   aborted    the transition was undone (or never touched the router) and state did not move
#   superseded a rollback took over before this advance finished; the rollback owns the router
#   failed     a rollback whose router could not be verified (state: rollback_incomplete)
OPEN_PHASES = ("intent", "applied", "verified")
# evidence["result"] of an attempt that did not do what it set out to do
FAILED_RESULTS = ("incomplete", "failed", "refused", "aborted", "superseded")


@dataclass(frozen=True)
class RolloutState:
    """One rollout as the store knows it. `stage` is None before start."""

    plan: str
    status: Status
    stage: str | None
    stage_started_at: datetime | None
    candidate_traffic: float
    shadow: float
    rollback_incomplete: bool = False
    approved_stage: str | None = None  # an approver let the rollout enter this gated stage
    last_verdict: str | None = None
    last_decision: str | None = None  # "hold: min_duration", ... for status and de-duplicating holds
    last_evaluated_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def split(self) -> RouterSplit:
        return RouterSplit(candidate_traffic=self.candidate_traffic, shadow=self.shadow)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def not_started(plan_name: str) -> RolloutState:
    return RolloutState(plan=plan_name, status="not_started", stage=None, stage_started_at=None,
                        candidate_traffic=0.0, shadow=0.0)


@dataclass(frozen=True)
class Transition:
    """One journalled move of the router and the state."""

    id: int
    plan: str
    kind: TransitionKind
    phase: str
    from_stage: str | None
    to_stage: str | None
    from_split: RouterSplit
    to_split: RouterSplit
    actor: str
    reason: str
    owner_pid: int
    created_at: datetime
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        return self.phase in OPEN_PHASES


@dataclass(frozen=True)
class AuditEvent:
    """One attempt, allowed or refused, with the evidence that justified it."""

    id: int
    plan: str
    at: datetime
    actor: str
    action: str
    from_stage: str | None
    to_stage: str | None
    allowed: bool
    reason: str
    evidence: dict[str, Any] | None

    @property
    def succeeded(self) -> bool:
        """Whether the attempt did what it set out to do — not merely whether it was allowed: a refused
        attempt, a rollback left incomplete or with a failed step, a failed drill, an advance that was
        refused, aborted or superseded did not."""
        evidence = self.evidence or {}
        if not self.allowed or evidence.get("result") in FAILED_RESULTS or evidence.get("outcome") == "fail":
            return False
        steps = evidence.get("steps") or []
        return not any(isinstance(s, dict) and s.get("outcome") == "fail" for s in steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "succeeded": self.succeeded,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "from_stage": self.from_stage,
            "to_stage": self.to_stage,
            "allowed": self.allowed,
            "reason": self.reason,
            "evidence": self.evidence,
        }
