"""Measure drift: every feature and output of the plan, reference vs each window.

`measure_drift` is the one function `rollout drift`, `evaluate` and a tick call. It reads the
reference (data.training, or the baseline's first span of predictions), fixes each column's bins
on it, counts every window's bins in one scan of the predictions and judges each window with
`stats.shift.judge_shift` at the plan's confidence and the column's threshold.

Which rows a column reads: features, the requests users were served (a mirrored answer repeats a
request's inputs); outputs, each model's own answers, served or mirrored, compared with that
model's answers in its first span (docs/statistics.md, "Drift").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from rollout_cli.data.source import Logs, type_class
from rollout_cli.drift.bins import ColumnBins, Kind, kind_of
from rollout_cli.drift.queries import Rows, first_answer, profile, reference_counts, window_counts
from rollout_cli.errors import DataError
from rollout_cli.plan.model import Plan
from rollout_cli.stats.shift import ShiftDecision, ShiftResult, judge_shift

Role = Literal["feature", "output"]


@dataclass(frozen=True)
class WindowDrift:
    start: datetime
    end: datetime
    complete: bool  # the window had ended by the report's `until`
    counts: tuple[int, ...]  # rows per bin
    shift: ShiftResult


@dataclass(frozen=True)
class ColumnDrift:
    """One feature or one model's output: its bins, reference counts and every window's result."""

    name: str
    role: Role
    bins: ColumnBins | None  # None: nothing to compare (a model with no answers yet)
    threshold: float
    reference_counts: tuple[int, ...]
    windows: tuple[WindowDrift, ...]
    note: str = ""

    def latest(self) -> WindowDrift | None:
        """The last complete window: the one a tick judges (each window once, on its own rows)."""
        done = [w for w in self.windows if w.complete]
        return done[-1] if done else None

    def moved_most(self, window: WindowDrift, limit: int = 3) -> list[tuple[str, float, float]]:
        """(bin label, reference share, window share) of the bins contributing most to the PSI."""
        if self.bins is None:
            return []
        ref_total = sum(self.reference_counts) or 1
        win_total = sum(window.counts) or 1
        return [(self.bins.labels[i], self.reference_counts[i] / ref_total, window.counts[i] / win_total)
                for i in window.shift.bins_moved_most(limit)]


@dataclass(frozen=True)
class DriftReport:
    reference: str  # in words, for reports
    window_s: float
    since: datetime | None
    until: datetime
    confidence: float
    columns: tuple[ColumnDrift, ...]

    def latest_decisions(self) -> dict[str, ShiftDecision | None]:
        """Each column's decision on its last complete window (None: no complete window yet)."""
        return {c.name: (w.shift.decision if (w := c.latest()) else None) for c in self.columns}

    def drifted(self) -> list[str]:
        return [name for name, d in self.latest_decisions().items() if d is ShiftDecision.DRIFTED]


def _reference_rows(plan: Plan, logs: Logs) -> tuple[Rows, str]:
    first_s = plan.drift.reference_first_s
    if first_s is None:
        if logs.training is None:
            raise DataError("drift needs data.training, the reference the features are compared with")
        return Rows(logs.training), f"training ({logs.training.description})"
    start = first_answer(logs, None)
    if start is None:
        raise DataError(f"the predictions ({logs.predictions.description}) have no served answers to take "
                        "the drift reference from")
    end = start + timedelta(seconds=first_s)
    return (Rows(logs.predictions, arm="baseline", served_only=True, since=start, until=end),
            f"the baseline's answers {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}")


@dataclass(frozen=True)
class _Spec:
    name: str
    column: str
    kind: Kind
    reference: Rows
    rows: Rows
    threshold: float
    role: Role
    what: str  # the reference in words, for messages


def _specs(plan: Plan, logs: Logs, window_s: float) -> tuple[list[_Spec], list[ColumnDrift], str]:
    """What to compare: each feature and each model's output, with their reference rows."""
    drift, preds = plan.drift, logs.predictions
    specs: list[_Spec] = []
    empty: list[ColumnDrift] = []
    described = "none"
    if drift.features:
        reference, described = _reference_rows(plan, logs)
        for feature in drift.features:
            kind = kind_of(feature.name, reference.source, preds, feature.kind)
            specs.append(_Spec(feature.name, feature.name, kind, reference, Rows(preds, served_only=True),
                               drift.threshold(feature), "feature", described))
    if drift.outputs:
        column = plan.data.column("prediction")
        preds.column("prediction")  # a clear error when the column is missing
        output_kind: Kind = "numeric" if type_class(preds.columns[column]) == "number" else "categorical"
        span = drift.reference_first_s or window_s
        for model in ("baseline", "candidate"):
            name = f"{column} ({model})"
            start = first_answer(logs, model)
            if start is None:
                empty.append(ColumnDrift(name, "output", None, drift.max_psi, (), (), note=f"no {model} answers yet"))
                continue
            first = Rows(preds, arm=model, since=start, until=start + timedelta(seconds=span))
            specs.append(_Spec(name, column, output_kind, first, Rows(preds, arm=model), drift.max_psi, "output",
                               f"the {model}'s first answers"))
    return specs, empty, described


def measure_drift(plan: Plan, logs: Logs, *, until: datetime, since: datetime | None = None,
                  window_s: float | None = None) -> DriftReport:
    """Every drift column of `plan`, reference vs each window in [since, until). Raises DataError
    for a missing or retyped column, an empty reference or a column NULL throughout it."""
    window_s = window_s or plan.drift.window_s
    specs, empty, described = _specs(plan, logs, window_s)
    bins: list[ColumnBins] = []
    ref_counts: list[list[int]] = []
    groups: dict[int, list[_Spec]] = {}
    for spec in specs:  # features share one reference: profile and count them in one scan each
        groups.setdefault(id(spec.reference), []).append(spec)
    specs = [spec for group in groups.values() for spec in group]
    for group in groups.values():
        found = profile(logs, [(s.name, s.column, s.kind) for s in group], group[0].reference, group[0].what)
        bins.extend(found)
        ref_counts.extend(reference_counts(logs, found, [s.reference for s in group]))
    counts, crosses = window_counts(logs, bins, [s.rows for s in specs], window_s, since, until)
    columns = []
    for i, (spec, column_bins) in enumerate(zip(specs, bins, strict=True)):
        windows = []
        for (col, k), win in sorted(counts.items(), key=lambda item: item[0][1]):
            if col != i:
                continue
            start = datetime.fromtimestamp(k * window_s, UTC)
            end = start + timedelta(seconds=window_s)
            shift = judge_shift(ref_counts[i], win, spec.threshold, plan.decision.confidence,
                                window_groups=crosses.get((col, k)))
            windows.append(WindowDrift(start=start, end=end, complete=end <= until, counts=tuple(win), shift=shift))
        columns.append(ColumnDrift(spec.name, spec.role, column_bins, spec.threshold, tuple(ref_counts[i]),
                                   tuple(windows)))
    return DriftReport(reference=described, window_s=window_s, since=since, until=until,
                       confidence=plan.decision.confidence, columns=tuple(columns + empty))
