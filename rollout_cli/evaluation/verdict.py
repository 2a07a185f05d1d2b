"""What judging a stage produces: outcomes, checks and the evaluation (docs/statistics.md; the JSON in docs/commands.md).

Shared by the evaluator (which fills them), the decision (which reads them) and the
reporters (which print them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rollout_cli.drift.check import DriftCheck
from rollout_cli.routers.base import RouterSplit
from rollout_cli.stats.outcome import Outcome

if TYPE_CHECKING:  # annotations only: the commands that read the state (status, rollback) load no DuckDB
    from rollout_cli.data.quality import DataQuality
    from rollout_cli.logcache import CacheUse


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
class Freshness:
    """How old the newest prediction row is at the window's end; `age_s` is None without rows."""

    last_row: datetime | None
    max_age_s: float
    age_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"last_row": self.last_row.isoformat() if self.last_row else None,
                               "max_age_s": self.max_age_s}
        if self.age_s is not None:
            doc["age_s"] = self.age_s
        return doc


@dataclass(frozen=True)
class Crossover:
    """Units served by both arms in a traffic stage, against the plan's `max_crossover`."""

    units: int
    share: float
    max_share: float

    def to_json(self) -> dict[str, Any]:
        return {"units": self.units, "share": self.share, "max_share": self.max_share}


@dataclass(frozen=True)
class RowsWithoutUnit:
    """Prediction rows whose unit is null (left out of every statistic), against the tolerated share."""

    rows: int
    share: float
    max_share: float

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "share": self.share, "max_share": self.max_share}


@dataclass(frozen=True)
class AgreementSummary:
    """One agreement metric over paired requests, with its fixed-n Wilson interval (for people)."""

    agreed: int
    paired: int
    rate: float
    wilson_interval: tuple[float, float]

    def to_json(self) -> dict[str, Any]:
        return {"agreed": self.agreed, "paired": self.paired, "rate": self.rate,
                "wilson_interval": list(self.wilson_interval)}


@dataclass(frozen=True)
class ShadowCoverage:
    """A shadow stage's mirrored requests: how many baseline requests have a candidate answer."""

    baseline_requests: int
    paired_requests: int
    coverage: float | None  # None without baseline requests
    expected_coverage: float
    agreement: dict[str, AgreementSummary] = field(default_factory=dict)  # by metric

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"baseline_requests": self.baseline_requests, "paired_requests": self.paired_requests,
                               "coverage": self.coverage, "expected_coverage": self.expected_coverage}
        if self.agreement:
            doc["agreement"] = {name: summary.to_json() for name, summary in self.agreement.items()}
        return doc


@dataclass(frozen=True)
class SkippedSegment:
    """A per-segment guard left unjudged on one segment value: too few units there."""

    metric: str
    segment: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "segment": self.segment}


@dataclass(frozen=True)
class NonFinite:
    """Values that are NaN or infinite in one kind of value (a column, or outcome values), per arm.

    They are left out of every statistic (an outcome value counts as 0) and reported here;
    beyond a small share they hold the stage (docs/statistics.md, "Small and odd samples").
    """

    what: str  # "column latency_ms", "value of purchase outcomes"
    counts: dict[str, int]  # per arm: values that are NaN or infinite
    shares: dict[str, float]  # per arm: of all values of this kind
    max_share: float

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "counts": self.counts, "shares": self.shares, "max_share": self.max_share}


@dataclass(frozen=True)
class Evaluation:
    """The judgement of one stage over one window.

    `duration_s` is the window's length; `split` the split the stage was judged against.
    A traffic stage has `crossover`, a shadow stage `shadow`; `rows_without_unit` appears only
    when some rows lack a unit, `skipped_segments` and `not_judged` only when non-empty.
    """

    plan: str
    stage: str
    verdict: Outcome
    since: datetime
    until: datetime
    units: dict[str, int]
    srm: SrmResult
    checks: tuple[Check, ...]
    reasons: tuple[str, ...] = ()  # stage-level reasons: freshness, min_duration, crossover, ...
    duration_s: float = 0.0
    split: RouterSplit | None = None
    not_judged: tuple[str, ...] = ()  # "metric: why not", for guards that do not apply to the stage's kind
    freshness: Freshness | None = None
    rows_without_unit: RowsWithoutUnit | None = None
    shadow: ShadowCoverage | None = None
    crossover: Crossover | None = None
    skipped_segments: tuple[SkippedSegment, ...] = ()
    non_finite: tuple[NonFinite, ...] = ()  # only kinds of values that had some
    data_quality: DataQuality | None = None  # duplicates and unknown arm values (data/quality.py)
    drift: DriftCheck | None = None  # the plan's drift on its last complete window; never changes the verdict
    cache: CacheUse | None = None  # how the logs were read (evaluation cache, docs/incremental.md); same figures

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
        if self.split is not None:  # always, from evaluate_stage
            doc["duration_s"] = self.duration_s
            doc["split"] = self.split.to_json()
        if self.not_judged:
            doc["not_judged"] = list(self.not_judged)
        if self.freshness is not None:
            doc["freshness"] = self.freshness.to_json()
        if self.rows_without_unit is not None:
            doc["rows_without_unit"] = self.rows_without_unit.to_json()
        if self.shadow is not None:
            doc["shadow"] = self.shadow.to_json()
        if self.crossover is not None:
            doc["crossover"] = self.crossover.to_json()
        if self.skipped_segments:
            doc["skipped_segments"] = [skipped.to_json() for skipped in self.skipped_segments]
        if self.non_finite:
            doc["non_finite"] = [bad.to_json() for bad in self.non_finite]
        if self.data_quality is not None:
            doc["data_quality"] = self.data_quality.to_json()
        if self.drift is not None:
            doc["drift"] = self.drift.to_json()
        if self.cache is not None:
            doc["cache"] = self.cache.to_json()
        return doc
