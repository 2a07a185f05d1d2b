"""The stage periods read from the audit trail: only moves that finished begin one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rollout_cli.state.records import AuditEvent
from rollout_cli.state.timeline import stage_periods

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _event(i: int, action: str, to_stage: str | None, evidence: dict[str, Any] | None, allowed: bool = True,
           from_stage: str | None = None) -> AuditEvent:
    return AuditEvent(id=i, plan="p", at=T0 + timedelta(hours=i), actor="alice", action=action, from_stage=from_stage,
                      to_stage=to_stage, allowed=allowed, reason=f"r{i}", evidence=evidence)


def _split(traffic: float, shadow: float) -> dict[str, Any]:
    return {"transition": 1, "split": {"candidate_traffic": traffic, "shadow": shadow}}


def test_refused_aborted_and_held_moves_begin_no_period() -> None:
    events = [
        _event(1, "drill", None, {"outcome": "pass"}),
        _event(2, "start", "shadow", _split(0, 100)),
        _event(3, "advance", "canary", None, allowed=False, from_stage="shadow"),  # not allowed
        _event(4, "hold", "canary", {"decision": "hold"}, from_stage="shadow"),
        _event(5, "advance", "canary", {**_split(5, 0), "result": "aborted"}, from_stage="shadow"),
        _event(6, "advance", "canary", _split(5, 0), from_stage="shadow"),
        _event(7, "rollback", None, {"result": "incomplete"}, from_stage="canary"),  # the router was not verified
        _event(8, "rollback", None, {"result": "rolled_back"}, from_stage="canary"),
    ]
    periods = stage_periods(events)
    assert [(p.stage, p.candidate_traffic, p.shadow, p.action) for p in periods] == [
        ("shadow", 0.0, 100.0, "start"), ("canary", 5.0, 0.0, "advance"), (None, 0.0, 0.0, "rollback")]
    assert [(p.start, p.end) for p in periods] == [(T0 + timedelta(hours=2), T0 + timedelta(hours=6)),
                                                   (T0 + timedelta(hours=6), T0 + timedelta(hours=8)),
                                                   (T0 + timedelta(hours=8), None)]
    assert periods[1].covers(T0 + timedelta(hours=7)) and not periods[1].covers(T0 + timedelta(hours=8))


def test_a_rollout_that_never_moved_has_no_period() -> None:
    assert stage_periods([_event(1, "start", "shadow", None, allowed=False)]) == []
