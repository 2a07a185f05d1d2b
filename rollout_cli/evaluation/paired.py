"""Shadow-stage guards that need the paired answers (coverage, score_shift), for `evaluate_stage`.

They are judged once, by `rollout_cli.shadow` (the comparison behind `rollout shadow`), and come
back here as ordinary checks so that Holm, the verdict and the controller treat them like any
other guard. Bad shadow logs (a candidate that never answered, repeated request ids, ...) make
these checks inconclusive with the log's message as the reason: never a pass.
"""

from __future__ import annotations

import math
from datetime import datetime

from rollout_cli.errors import DataError
from rollout_cli.evaluation.needs import PAIRED_KINDS
from rollout_cli.evaluation.verdict import Check
from rollout_cli.plan.model import Plan, Stage
from rollout_cli.stats.guards import GuardResult
from rollout_cli.stats.outcome import Outcome
from rollout_cli.stats.sequential import Interval


def paired_checks(plan: Plan, stage: Stage, *, since: datetime | None,
                  until: datetime) -> list[tuple[Check, GuardResult]]:
    guards = [g for g in stage.guards if g.metric.kind in PAIRED_KINDS] if stage.is_shadow else []
    if not guards:
        return []
    from rollout_cli.shadow import compare_shadow

    try:
        result = compare_shadow(plan, stage, since=since, until=until, examples=0)
    except DataError as error:
        return [(Check(metric=g.metric.name, segment=None, outcome=Outcome.INCONCLUSIVE, reason=error.message,
                       guard=_words(g.metric.kind, g.min, g.max)),
                 GuardResult(Outcome.INCONCLUSIVE, None, 1.0, None, error.message)) for g in guards]
    kinds = {g.metric.name for g in guards}
    out = []
    for c in result.checks:
        if c.metric not in kinds:
            continue
        shown = c.interval if c.interval and all(math.isfinite(end) for end in c.interval) else None  # JSON: no inf
        interval = Interval(c.interval[0], c.interval[1], c.value or 0.0) if c.interval else None
        check = Check(metric=c.metric, segment=c.segment, outcome=c.outcome, reason=c.reason, candidate=c.value,
                      effect=c.value, interval=shown, p_value=c.p_value, guard=c.guard,
                      units={"baseline": result.coverage.coverage.units, "candidate": result.coverage.coverage.units})
        out.append((check, GuardResult(c.outcome, interval, c.p_value, c.value, c.reason)))
    return out


def _words(kind: str, low: float | None, high: float | None) -> str:
    return f"min {100 * low:g}%" if kind == "coverage" and low is not None else f"max {high:g}"
