"""Drills on record: the "drill" events of the audit trail, read back as typed records.

A drill is recorded by `rollout drill` as an audit event with action "drill" and evidence
{"outcome", "duration_s", "budget_s", "rollback_digest", "router", "steps": [...]}. The gate
and the runbook both read them through here, so they agree on what counts as a passing drill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

DRILL_ACTION = "drill"


@dataclass(frozen=True)
class StepTiming:
    name: str
    duration_s: float
    outcome: str  # "pass" | "fail"


@dataclass(frozen=True)
class DrillRecord:
    at: datetime  # UTC, when the drill was recorded
    actor: str
    outcome: str  # "pass" | "fail"
    duration_s: float
    budget_s: float
    rollback_digest: str
    router: str
    steps: tuple[StepTiming, ...]

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


class DrillEvents(Protocol):
    """The part of the state store this module needs."""

    def events(self, plan_name: str, action: str | None = None) -> Sequence[Any]: ...


def _utc(value: Any) -> datetime:
    """Event times as aware UTC datetimes (the store may hand back ISO strings or naive UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"event time {value!r} is not a datetime")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _record(event: Any) -> DrillRecord | None:
    evidence = getattr(event, "evidence", None) or {}
    if not getattr(event, "allowed", True) or "outcome" not in evidence:
        return None  # a refused drill ran nothing
    return DrillRecord(
        at=_utc(event.at),
        actor=str(getattr(event, "actor", "")),
        outcome=str(evidence["outcome"]),
        duration_s=float(evidence.get("duration_s", 0.0)),
        budget_s=float(evidence.get("budget_s", 0.0)),
        rollback_digest=str(evidence.get("rollback_digest", "")),
        router=str(evidence.get("router", "")),
        steps=tuple(
            StepTiming(str(s.get("name", "")), float(s.get("duration_s", 0.0)), str(s.get("outcome", "")))
            for s in evidence.get("steps", [])
        ),
    )


def drills_on_record(store: DrillEvents, plan_name: str) -> list[DrillRecord]:
    """Every drill that ran for `plan_name`, oldest first."""
    records = [r for r in (_record(e) for e in store.events(plan_name, action=DRILL_ACTION)) if r is not None]
    return sorted(records, key=lambda r: r.at)


def last_passing_drill(records: list[DrillRecord], digest: str) -> DrillRecord | None:
    """The most recent passing drill of the rollback section with this digest."""
    matching = [r for r in records if r.passed and r.rollback_digest == digest]
    return matching[-1] if matching else None
