"""What judging a stage produces: outcomes, checks and the evaluation (SPEC §4, §5).

Shared by the evaluator (which fills them), the decision (which reads them) and the
reporters (which print them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollout_cli.stats.outcome import Outcome


@dataclass(frozen=True)
class Check:
    """One guard on one population (the whole, or one segment value)."""

    metric: str
    segment: dict[str, Any] | None
    outcome: Outcome
    reason: str
    baseline: float | None = None
    candidate: float | None = None
    effect: float | None = None  # relative difference for relative guards, else the candidate value
    interval: tuple[float, float] | None = None
    units: dict[str, int] = field(default_factory=dict)  # per arm
    p_value: float | None = None  # for Holm; None when the check had no test
    guard: str = ""  # the guard in words, e.g. "max_drop 2%"

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "segment": self.segment,
            "outcome": self.outcome.value,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "effect": self.effect,
            "interval": list(self.interval) if self.interval else None,
            "units": self.units,
            "guard": self.guard,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SrmResult:
    outcome: Outcome
    p_value: float | None
    expected_share: float | None  # candidate's planned share of units
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome.value, "p_value": self.p_value, "expected_share": self.expected_share,
                "reason": self.reason}


@dataclass(frozen=True)
class Evaluation:
    """The judgement of one stage over one window."""

    plan: str
    stage: str
    verdict: Outcome
    since: datetime
    until: datetime
    units: dict[str, int]
    srm: SrmResult
    checks: tuple[Check, ...]
    reasons: tuple[str, ...] = ()  # stage-level reasons: freshness, min_duration, crossover, ...
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. shadow coverage, crossover counts

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "plan": self.plan,
            "stage": self.stage,
            "verdict": self.verdict.value,
            "window": {"since": self.since.isoformat(), "until": self.until.isoformat()},
            "units": self.units,
            "srm": self.srm.to_json(),
            "checks": [c.to_json() for c in self.checks],
            "reasons": list(self.reasons),
        }
        doc.update(self.extra)
        return doc
