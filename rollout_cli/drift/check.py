"""What a tick needs from drift: each column's decision on its last complete window, in one
frozen summary that the pure decision, the audit trail and the reporters all read.

Repeated looks: a tick at 10:05 and one at 10:55 both judge the window that ended at 10:00 — the
same rows, so the same decision. Each window is judged once on its own rows; no growing window
is re-tested, so ticking often does not add false alarms (docs/statistics.md, "Drift").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rollout_cli.stats.shift import ShiftDecision

if TYPE_CHECKING:  # measure imports DuckDB; the decision and the reporters only need this summary
    from rollout_cli.drift.measure import DriftReport


@dataclass(frozen=True)
class ColumnCheck:
    name: str
    decision: ShiftDecision | None  # None: no complete window yet
    psi: float | None = None
    interval: tuple[float, float] | None = None
    threshold: float = 0.0
    rows: int = 0
    moved_most: tuple[str, ...] = ()

    def words(self) -> str:
        if self.decision is None or self.psi is None or self.interval is None:
            return f"{self.name}: no complete window yet"
        high = "inf" if math.isinf(self.interval[1]) else f"{self.interval[1]:.3f}"
        return (f"{self.name}: {self.decision.value} (PSI {self.psi:.3f}, interval [{self.interval[0]:.3f}, {high}] "
                f"vs {self.threshold:g}, {self.rows} rows)")


@dataclass(frozen=True)
class DriftCheck:
    """The drift of one tick: the window judged and each column's decision, or why it failed."""

    window_start: datetime | None
    window_end: datetime | None
    columns: tuple[ColumnCheck, ...] = ()
    error: str | None = None  # the data could not be read: never "no drift"

    @property
    def drifted(self) -> tuple[ColumnCheck, ...]:
        return tuple(c for c in self.columns if c.decision is ShiftDecision.DRIFTED)

    def summary(self) -> str:
        if self.error:
            return f"drift could not be checked: {self.error}"
        if self.drifted:
            return "drift confirmed: " + "; ".join(c.words() for c in self.drifted)
        undecided = [c.name for c in self.columns if c.decision is not ShiftDecision.NOT_DRIFTED]
        if undecided:
            return f"no drift confirmed; not enough data yet for {', '.join(undecided)}"
        return "no drift: every column is below its threshold"

    def to_json(self) -> dict[str, Any]:
        return {
            "window": ({"since": self.window_start.isoformat(), "until": self.window_end.isoformat()}
                       if self.window_start and self.window_end else None),
            "drifted": [c.name for c in self.drifted],
            "error": self.error,
            "summary": self.summary(),
            "columns": [{"name": c.name, "decision": c.decision.value if c.decision else None, "psi": c.psi,
                         "interval": list(c.interval) if c.interval else None, "threshold": c.threshold,
                         "rows": c.rows, "moved_most": list(c.moved_most)} for c in self.columns],
        }


def last_complete_window(now: datetime, window_s: float) -> tuple[datetime, datetime]:
    """The latest window of the epoch-aligned grid that has ended by `now`."""
    end_k = math.floor(now.timestamp() / window_s)
    end = datetime.fromtimestamp(end_k * window_s, UTC)
    return end - timedelta(seconds=window_s), end


def summarize(report: DriftReport, start: datetime, end: datetime) -> DriftCheck:
    """Each column's decision on the window [start, end) of `report`."""
    columns = []
    for column in report.columns:
        window = next((w for w in column.windows if w.start == start and w.complete), None)
        if window is None:
            columns.append(ColumnCheck(column.name, None, threshold=column.threshold))
            continue
        shift = window.shift
        moved = tuple(f"{label} {100 * ref:.0f}%->{100 * now:.0f}%" for label, ref, now in column.moved_most(window, 2))
        columns.append(ColumnCheck(column.name, shift.decision, shift.estimate, (shift.low, shift.high),
                                   column.threshold, shift.window_rows, moved))
    return DriftCheck(start, end, tuple(columns))
