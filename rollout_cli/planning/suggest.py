"""The smallest min_duration / min_units with which a stage itself catches a harm with the asked
probability (`rollout plan simulate --catch 95%`; docs/statistics.md, "Simulating a plan").

A stage cannot be left before its min_duration, and a fail rolls back whenever it comes, so a
stage whose min_duration is d catches a harm in every run whose first failing look comes by d.
Each traffic stage below 100% is simulated on its own, looked at on the stage's look grid up to
its horizon through the evaluator's judging (`simulated_evaluation`), and the first failing look
of each run recorded; the suggestion is the `catch` quantile of those times, and min_units the
candidate units that time brings at the given traffic. None when fewer than `catch` of the runs
fail within the horizon: the stage cannot meet the target within its max_duration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rollout_cli.plan.model import Plan
from rollout_cli.stats.outcome import Outcome

SUGGESTION_RUNS = 200  # per stage: the suggestion is a quantile of first-fail times


@dataclass(frozen=True)
class Suggestion:
    stage: str
    caught_within_horizon: float  # share of runs that fail this stage by its horizon
    min_duration_h: float | None  # the smallest min_duration meeting the target (None: cannot)
    min_units: int | None  # candidate units that duration brings at the traffic given

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "caught_within_horizon": self.caught_within_horizon,
                "min_duration_h": self.min_duration_h, "min_units": self.min_units}


def suggest_durations(plan: Plan, scenario: Any) -> list[Suggestion]:
    """One suggestion per traffic stage below 100% for `scenario.catch` of `scenario.harms`."""
    import numpy as np

    from rollout_cli.planning.simulate import (
        SimulatedArms,
        _look_times,
        _segment_cells,
        simulated_evaluation,
        simulated_needs,
    )

    if scenario.catch is None or not scenario.harms:
        return []
    rng = np.random.default_rng(scenario.seed + 1)
    segments, values, weights = _segment_cells(plan, scenario.harms)
    out = []
    for stage in (s for s in plan.stages if 0 < s.traffic < 100):
        needs = simulated_needs(plan, stage)[0]
        metrics = list({g.metric.name: g.metric for g in needs.guards}.values())
        times = _look_times(plan, stage, scenario.looks)
        first_fail: list[float] = []
        runs = min(scenario.runs, SUGGESTION_RUNS)
        for _ in range(runs):
            arms, before = SimulatedArms(metrics, values, weights), 0.0
            for seconds in times:
                arms.grow(rng, round(scenario.traffic_per_h * (seconds - before) / 3600.0), stage.traffic / 100.0,
                          scenario.harms)
                before = seconds
                # judged without the stage's own min_duration / min_units: those are what is being sized
                evaluation = simulated_evaluation(plan, stage, needs, arms.aggregates(), segments,
                                                  max(seconds, stage.min_duration_s))
                if evaluation.verdict is Outcome.FAIL:
                    first_fail.append(seconds)
                    break
        share = len(first_fail) / runs
        if share < scenario.catch:
            out.append(Suggestion(stage.name, share, None, None))
            continue
        ordered = sorted(first_fail)
        seconds = ordered[max(0, math.ceil(scenario.catch * runs) - 1)]
        units = round(scenario.traffic_per_h * seconds / 3600.0 * stage.traffic / 100.0)
        out.append(Suggestion(stage.name, share, seconds / 3600.0, units))
    return out
