"""The tuning size comes from what the plan knows: min_units, and min_duration × traffic_estimate."""

from __future__ import annotations

from pathlib import Path

from evaluate_helpers import plan_document

from rollout_cli.evaluation.tuning import expected_candidate_units, guard_tuning
from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml
from rollout_cli.stats.sequential import DEFAULT_TUNING_UNITS


def _plan(tmp_path: Path, canary: str, traffic: str = ""):  # type: ignore[no-untyped-def]
    document = plan_document(tmp_path, canary=canary)
    if traffic:
        document["traffic_estimate"] = traffic
    (tmp_path / "plan.yaml").write_text(plan_yaml(document))
    return load_plan(tmp_path / "plan.yaml")


def test_without_traffic_the_stage_min_units_or_the_default(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "{name: canary, traffic: 5%, min_duration: 2h}")
    conversion = next(g for g in plan.guards if g.metric.name == "conversion")
    assert guard_tuning(plan, plan.stage("canary"), conversion) == DEFAULT_TUNING_UNITS
    plan = _plan(tmp_path, "{name: canary, traffic: 5%, min_duration: 2h, min_units: 1000}")
    assert guard_tuning(plan, plan.stage("canary"), conversion) == 20_000  # both arms: 1000 / 5%


def test_a_declared_traffic_tunes_to_the_units_of_min_duration(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "{name: canary, traffic: 5%, min_duration: 2h, min_units: 1000}", "20000 units/h")
    assert plan.traffic_estimate == 20_000
    stage = plan.stage("canary")
    assert expected_candidate_units(plan, stage) == 2_000  # 20,000/h × 2h × 5%
    guards = {g.metric.name: g for g in plan.guards}
    assert guard_tuning(plan, stage, guards["conversion"]) == 40_000  # both arms
    assert guard_tuning(plan, stage, guards["error_rate"]) == 2_000  # an absolute guard: the candidate
    assert guard_tuning(plan, stage, guards["latency_p99"]) == 40_000  # a relative quantile guard: both arms
    assert _plan(tmp_path, "{name: canary, traffic: 5%}", "300/m").traffic_estimate == 18_000
