"""The tuning size of each guard's sequences, from what the plan knows (docs/statistics.md, section 2).

The confidence sequences are tightest at their tuning size n*, so n* should be where a stage is
expected to be decided. A stage cannot pass before its `min_units` nor before its
`min_duration`; with a declared `traffic_estimate` the latter is a number of units too. The
levels a relative quantile guard reads do not depend on the tuning (stats/quantile_ratio.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from rollout_cli.plan.model import Guard, Plan, Stage
from rollout_cli.stats.sequential import tuning_units


def expected_candidate_units(plan: Plan, stage: Stage) -> int:
    """The candidate units a stage is expected to have when it may first pass: its min_units, or
    — when the plan declares its traffic — the units of its min_duration, whichever is larger
    (docs/statistics.md, "Tuning from what the plan knows"). 0 when the plan says neither."""
    served = stage.traffic if not stage.is_shadow else stage.shadow
    by_time = 0
    if plan.traffic_estimate and stage.min_duration_s > 0:
        by_time = int(plan.traffic_estimate * stage.min_duration_s / 3600.0 * served / 100.0)
    return max(stage.min_units, by_time)


@dataclass(frozen=True)
class Tuning:
    """The tuning sizes of a stage's checks (docs/statistics.md, section 2): `relative` for a relative
    check (a quantile's log ratio too, section 6), whose sequence counts both arms; `absolute` for an
    absolute or exceedance check, whose sequence counts the candidate's units. A guard with both a
    relative and an absolute limit gets one of each."""

    relative: float
    absolute: float


def stage_tuning(plan: Plan, stage: Stage) -> Tuning:
    """The tuning sizes of the stage's relative and absolute checks, from its expected candidate units."""
    expected = expected_candidate_units(plan, stage)
    share = stage.traffic if not stage.is_shadow else 100.0
    return Tuning(relative=tuning_units(expected, share), absolute=tuning_units(expected))


def guard_tuning(plan: Plan, stage: Stage, guard: Guard) -> float:
    """The tuning size of a guard's relative check when it has one, else of its absolute check
    (`stage_tuning`: a guard with both limits tunes each check on its own scale)."""
    tuning = stage_tuning(plan, stage)
    return tuning.relative if guard.is_relative else tuning.absolute


@dataclass(frozen=True)
class Horizon:
    """The units a stage sees by its max_duration at the declared traffic: `both_arms` is the time
    scale of relative guards, `candidate` that of absolute ones. None: not declared."""

    both_arms: float | None = None
    candidate: float | None = None


def stage_horizon(plan: Plan, stage: Stage) -> Horizon:
    """The stage's horizon (docs/statistics.md, section 2, "Spending alpha within the horizon"):
    traffic_estimate x max_duration (the stage's, else decision.max_duration). Shadow stages and
    plans that declare no traffic or no max_duration have none (alpha is then spent within three
    tuning sizes)."""
    duration = stage.time_limit(plan.decision)
    if not plan.traffic_estimate or not duration or stage.is_shadow:
        return Horizon()
    units = plan.traffic_estimate * duration / 3600.0
    return Horizon(both_arms=units, candidate=units * stage.traffic / 100.0)
