"""The ramp as it happened: the stage and router split in force at each moment, read from the
audit trail (the moves that were done, never attempts that were refused, aborted or superseded).

A period begins with a `start` or `advance` that finished (its evidence names the transition and
the split it verified) or with a rollback verified at the baseline; it ends where the next one
begins. Before the first period, and after a rollback, no stage is in force (stage None).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rollout_cli.state.records import AuditEvent


@dataclass(frozen=True)
class StagePeriod:
    stage: str | None  # None after a rollback
    start: datetime
    end: datetime | None  # None: still in force
    candidate_traffic: float  # percent served by the candidate
    shadow: float  # percent mirrored to it
    action: str  # the move that began it: start | advance | rollback
    actor: str
    reason: str

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)


def _opens_period(event: AuditEvent) -> bool:
    evidence = event.evidence or {}
    if not event.allowed:
        return False
    if event.action in ("start", "advance"):
        return "transition" in evidence and "split" in evidence and "result" not in evidence
    return event.action == "rollback" and evidence.get("result") == "rolled_back"


def stage_periods(events: list[AuditEvent]) -> list[StagePeriod]:
    """The periods of the rollout, oldest first (see the module contract)."""
    opened = [e for e in sorted(events, key=lambda e: e.id) if _opens_period(e)]
    periods: list[StagePeriod] = []
    for i, event in enumerate(opened):
        end = opened[i + 1].at if i + 1 < len(opened) else None
        if event.action == "rollback":
            stage, traffic, shadow = None, 0.0, 0.0
        else:
            split = (event.evidence or {})["split"]
            stage, traffic, shadow = event.to_stage, float(split["candidate_traffic"]), float(split["shadow"])
        periods.append(StagePeriod(stage, event.at, end, traffic, shadow, event.action, event.actor, event.reason))
    return periods
