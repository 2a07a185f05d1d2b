"""What `rollout shadow` finds: frozen dataclasses, every figure JSON-able by `to_json()`.

The same object feeds the rich tables, `--json` and the HTML report (`compare_shadow` returns it).
Rates carry their always-valid interval (`interval`, at the plan's confidence); figures that could
not be computed are None, never a made-up number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any


def plain(value: Any) -> Any:
    """JSON-ready: dataclasses as dicts, enums as values, times as ISO text, NaN/inf as None."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Rate:
    """count / total over requests, judged per unit: `interval` is always-valid."""

    count: int
    total: int
    units: int
    value: float | None
    interval: tuple[float, float] | None


@dataclass(frozen=True)
class Coverage:
    baseline_requests: int
    paired: int
    missing: int
    late: int  # candidate answered, slower than the timeout
    errored: int  # candidate answered with its error flag set
    timeout_ms: float | None
    coverage: Rate  # paired / baseline requests
    answered_in_time: Rate  # paired, not late, not errored / baseline requests


@dataclass(frozen=True)
class SegmentRow:
    """One segment value (its requests) against the rest of the window; a unit may be on both sides."""

    segment: str
    value: Any
    units: int
    baseline_requests: int
    coverage: Rate
    agreement: Rate
    versus_overall: float | None  # agreement minus overall agreement (ranking: most negative first)
    difference: float | None  # agreement minus the rest's
    interval: tuple[float, float] | None  # always-valid interval of `difference`
    p_value: float  # always-valid, against "no worse than the rest"
    worse: bool  # Holm across every segment value says: credibly below the rest
    coverage_difference: float | None
    coverage_worse: bool
    missing: int  # baseline requests of this segment value without a candidate answer
    late: Rate  # late candidate answers / paired requests (beyond the timeout)
    errored: Rate  # errored candidate answers / paired requests


@dataclass(frozen=True)
class LabelComparison:
    labels: tuple[str, ...]  # the top labels, then "other"
    confusion: tuple[tuple[int, ...], ...]  # rows: baseline label, columns: candidate label
    gained: tuple[str, ...]  # labels the candidate gives that the baseline never gave in the window
    lost: tuple[str, ...]  # and the other way round
    shares: tuple[dict[str, Any], ...]  # per label: baseline share, candidate share, change
    mcnemar_p_value: float | None  # the most frequent flip against its reverse


@dataclass(frozen=True)
class Distance:
    """The score distributions' distance: PSI on bins at the baseline's quantiles (stats.shift)."""

    name: str  # "psi"
    value: float | None
    interval: tuple[float, float] | None  # at the plan's confidence; the upper end may be None (unbounded)
    threshold: float  # drift.max_psi
    decision: str | None  # drifted | not drifted | not enough data
    bins: int
    credible: bool  # drifted: the whole interval lies above the threshold


@dataclass(frozen=True)
class Calibration:
    event: str
    requests: int  # paired requests with a known outcome attribution
    outcome_rate: float | None
    baseline_mean: float | None
    candidate_mean: float | None
    baseline_error: float | None  # expected calibration error over 10 score bins
    candidate_error: float | None
    shift: float | None  # candidate_error - baseline_error


@dataclass(frozen=True)
class ScoreComparison:
    paired: int
    mean_difference: float | None  # candidate - baseline
    abs_difference_quantiles: dict[str, float | None]
    max_abs_difference: float | None
    pearson: float | None
    spearman: float | None  # on the scores binned at the baseline's quantiles
    baseline_quantiles: dict[str, float | None]
    candidate_quantiles: dict[str, float | None]
    distance: Distance
    calibration: Calibration | None


@dataclass(frozen=True)
class ArmLatency:
    arm: str
    p50: float | None
    p99: float | None
    mean: float | None
    mean_interval: tuple[float, float] | None
    errors: Rate


@dataclass(frozen=True)
class LoadBucket:
    bucket: int  # 1 = quietest minutes
    minutes: int
    requests_per_minute: tuple[int, int]
    baseline_p50: float | None
    baseline_p99: float | None
    candidate_p50: float | None
    candidate_p99: float | None
    paired_ratio: float | None  # geometric mean of candidate / baseline latency on paired requests
    candidate_errors: int
    baseline_errors: int


@dataclass(frozen=True)
class Comparison:
    """A difference between two groups with its always-valid interval and p-value."""

    effect: float | None
    interval: tuple[float, float] | None
    p_value: float
    credible: bool


@dataclass(frozen=True)
class Latency:
    baseline: ArmLatency
    candidate: ArmLatency
    paired_ratio: float | None  # sum of candidate / sum of baseline latency over paired requests
    paired_ratio_interval: tuple[float, float] | None
    buckets: tuple[LoadBucket, ...]
    busiest_vs_quietest: Comparison  # change of the paired log-ratio from the quietest to the busiest bucket


@dataclass(frozen=True)
class FeatureReference:
    feature: str
    low: float | None
    high: float | None
    thin_bins: int
    bins: int


@dataclass(frozen=True)
class UnusualInputs:
    features: tuple[FeatureReference, ...]
    requests: int  # baseline requests with an unusual feature value
    agreement_unusual: Rate
    agreement_rest: Rate
    difference: Comparison  # unusual minus rest
    note: str = ""


@dataclass(frozen=True)
class Finding:
    kind: str  # segment_disagreement | score_shift | load_slowdown | missing_answers | unusual_disagreement | ...
    where: dict[str, Any] | None
    message: str


@dataclass(frozen=True)
class ShadowCheck:
    """One shadow-stage guard on one population, judged with the same statistics as `evaluate`."""

    metric: str
    segment: dict[str, Any] | None
    guard: str
    outcome: Any  # stats.outcome.Outcome
    value: float | None
    interval: tuple[float, float] | None
    reason: str
    p_value: float


@dataclass(frozen=True)
class ShadowResult:
    plan: str
    stage: str
    since: datetime
    until: datetime
    kind: str  # "score" | "label"
    confidence: float
    segments: tuple[str, ...]
    coverage: Coverage
    agreement: Rate
    tolerance: float | None
    segment_rows: tuple[SegmentRow, ...]
    labels: LabelComparison | None
    scores: ScoreComparison | None
    latency: Latency | None
    unusual: UnusualInputs | None
    examples: tuple[dict[str, Any], ...]
    findings: tuple[Finding, ...]
    checks: tuple[ShadowCheck, ...]
    verdict: Any  # stats.outcome.Outcome over the checks
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        doc = plain(self)
        doc["window"] = {"since": doc.pop("since"), "until": doc.pop("until")}
        return doc
