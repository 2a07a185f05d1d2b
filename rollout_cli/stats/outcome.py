"""The closed set of outcomes every check, guard and verdict has (docs/statistics.md)."""

from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    """Ordered worst first: fail beats inconclusive beats pass; "no data" is never pass."""

    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    PASS = "pass"

    @property
    def severity(self) -> int:
        return {"pass": 0, "inconclusive": 1, "fail": 2}[self.value]
