"""What the state store keeps: the rollout's state, the transition journal, the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rollout_cli.routers.base import RouterSplit

# The status enum of docs/commands.md; an incomplete rollback is the separate flag `rollback_incomplete`.
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
# The audit trail's actions (events.action), for `history --action`: the moves and attempts
# (start, advance, approve, rollback, pause, resume, and a refused tick or run), the controller's
# hold, complete and monitor, reconcile, drill, notify, drift, drift_cleared, state_copied.
EVENT_ACTIONS = ("advance", "approve", "complete", "drift", "drift_cleared", "drill", "hold", "monitor", "notify",
                 "pause", "reconcile", "resume", "rollback", "run", "start", "state_copied", "tick")


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
    owner_start: str | None = None  # "PID:START:BOOT" as /proc shows the owner (state/liveness.py)

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


@dataclass(frozen=True)
class CheckRecord:
    """One check of a kept evaluation: its estimate and always-valid interval, and the guard's
    limits on the same scale (None where the guard sets none), so a chart needs nothing else."""

    metric: str
    guard: str  # the guard in words, e.g. "max_drop 10%"
    segment: tuple[str, str] | None  # (segment column, value as text), None for everyone
    outcome: str
    estimate: float | None
    low: float | None
    high: float | None
    limit_low: float | None
    limit_high: float | None
    baseline: float | None = None
    candidate: float | None = None
    baseline_units: int = 0
    candidate_units: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "guard": self.guard,
                "segment": {self.segment[0]: self.segment[1]} if self.segment else None,
                "outcome": self.outcome, "estimate": self.estimate,
                "interval": [self.low, self.high] if self.low is not None and self.high is not None else None,
                "limits": [self.limit_low, self.limit_high], "baseline": self.baseline, "candidate": self.candidate,
                "units": {"baseline": self.baseline_units, "candidate": self.candidate_units}}


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation as kept in the history: who ran it, the verdict, SRM, and every check."""

    plan: str
    at: datetime  # when it ran (the controller's clock)
    actor: str
    source: str  # "tick" | "advance" | "evaluate"
    stage: str
    verdict: str
    since: datetime
    until: datetime
    baseline_units: int
    candidate_units: int
    srm_outcome: str
    srm_p_value: float | None
    reasons: tuple[str, ...]
    checks: tuple[CheckRecord, ...]
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor, "source": self.source,
                "stage": self.stage, "verdict": self.verdict,
                "window": {"since": self.since.isoformat(), "until": self.until.isoformat()},
                "units": {"baseline": self.baseline_units, "candidate": self.candidate_units},
                "srm": {"outcome": self.srm_outcome, "p_value": self.srm_p_value},
                "reasons": list(self.reasons), "checks": [c.to_json() for c in self.checks]}
