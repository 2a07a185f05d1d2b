"""Harms to simulate, as people write them: `conversion=-5%`, `conversion[platform=ios]=-20%`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rollout_cli.errors import UsageError
from rollout_cli.plan.model import Plan

_HARM = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.-]*)\s*(?:\[\s*([^=\]]+?)\s*=\s*([^\]]+?)\s*\])?\s*=\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Harm:
    """A relative change of one metric in the candidate, everywhere or in one segment value."""

    metric: str
    change: float  # -0.05: 5% lower
    segment: tuple[str, str] | None = None

    def describe(self) -> str:
        where = f"[{self.segment[0]}={self.segment[1]}]" if self.segment else ""
        return f"{self.metric}{where} {100 * self.change:+g}%"


def parse_harm(text: str, plan: Plan) -> Harm:
    """`metric=-5%` or `metric[segment=value]=-20%`, checked against the plan. Raises UsageError."""
    match = _HARM.match(text)
    if not match:
        raise UsageError(f"--harm {text!r}: write METRIC=CHANGE% or 'METRIC[SEGMENT=VALUE]=CHANGE%', "
                         "e.g. conversion=-5%")
    name, segment, value, change = match.groups()
    if name not in plan.metrics:
        raise UsageError(f"--harm {text!r}: the plan has no metric {name!r} (it has: {', '.join(plan.metrics)})")
    if segment is not None and segment not in plan.segments:
        raise UsageError(f"--harm {text!r}: {segment!r} is not one of the plan's segments "
                         f"({', '.join(plan.segments) or 'none'})")
    if float(change) <= -100:
        raise UsageError(f"--harm {text!r}: a change must be above -100%")
    return Harm(metric=name, change=float(change) / 100.0, segment=(segment, value) if segment else None)
