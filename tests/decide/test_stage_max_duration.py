"""A stage's own max_duration (docs/plan.md): it replaces decision.max_duration for that stage."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from rollout_support import T0, evaluation, plan_document, plan_in

from rollout_cli.errors import PlanError
from rollout_cli.evaluation.tuning import stage_horizon
from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml
from rollout_cli.state.records import RolloutState
from rollout_cli.transitions.decide import decide

STAGES = """\
  - {name: shadow, shadow: 100%, min_duration: 1h, guards: [{metric: agreement, min: 90%}]}
  - {name: canary, traffic: 5%, min_duration: 1h, max_duration: 3h}
  - {name: ramp, traffic: 50%, min_duration: 1h}
  - {name: full, traffic: 100%}
"""


def at(stage: str, hours: float) -> tuple[RolloutState, object]:
    state = RolloutState(plan="ranker", status="running", stage=stage, stage_started_at=T0, candidate_traffic=5.0,
                         shadow=0.0, approved_stage="ramp")
    return state, T0 + timedelta(hours=hours)


def test_a_stage_limit_shorter_than_the_plans_applies_to_that_stage_only(tmp_path: Path) -> None:
    plan = plan_in(tmp_path, stages=STAGES, decision={"max_duration": "6h", "on_inconclusive": "rollback"})
    assert plan.stage("canary").max_duration_s == 3 * 3600.0
    assert plan.stage("ramp").time_limit(plan.decision) == 6 * 3600.0
    action = decide(plan, *_args("canary", 2.9))
    assert action.code == "inconclusive"
    action = decide(plan, *_args("canary", 3.0))
    assert (action.kind, action.code) == ("rollback", "max_duration")
    assert "no verdict after max_duration 3h" in action.reason
    assert decide(plan, *_args("ramp", 3.0)).code == "inconclusive"  # the plan's 6h still holds there


def test_a_stage_limit_works_without_a_plan_limit(tmp_path: Path) -> None:
    plan = plan_in(tmp_path, stages=STAGES, decision="{on_inconclusive: hold}")
    action = decide(plan, *_args("canary", 4.0))
    assert (action.kind, action.code) == ("hold", "max_duration")
    assert decide(plan, *_args("ramp", 400.0)).code == "inconclusive"


def test_a_min_duration_beyond_the_stages_own_limit_is_refused(tmp_path: Path) -> None:
    stages = STAGES.replace("min_duration: 1h, max_duration: 3h", "min_duration: 4h, max_duration: 3h")
    with pytest.raises(PlanError) as raised:
        plan_in(tmp_path, stages=stages, decision="{max_duration: 6h}")
    assert ("min_duration 4h is longer than its max_duration 3h, so the stage would time out before it could pass"
            in " ".join(str(p) for p in raised.value.problems))


def test_the_stage_limit_is_the_horizon_of_its_guards_when_traffic_is_declared(tmp_path: Path) -> None:
    plan = plan_in(tmp_path, stages=STAGES, decision={"max_duration": "6h"})
    assert stage_horizon(plan, plan.stage("canary")).both_arms is None  # no traffic_estimate: no horizon
    document = plan_document(directory=tmp_path, stages=STAGES, decision={"max_duration": "6h"})
    (tmp_path / "declared.yaml").write_text(plan_yaml({**document, "traffic_estimate": "20000 units/h"}))
    declared = load_plan(tmp_path / "declared.yaml")
    horizon = stage_horizon(declared, declared.stage("canary"))
    assert (horizon.both_arms, horizon.candidate) == (60_000.0, 3_000.0)  # 3h at 20,000/h; 5% of it


def _args(stage: str, hours: float) -> tuple[object, object, object]:
    state, now = at(stage, hours)
    return state, evaluation("inconclusive", stage=stage, reasons=("too few units",)), now
