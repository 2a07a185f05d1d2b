"""The tuning size comes from what the plan knows: min_units, and min_duration × traffic_estimate."""

from __future__ import annotations

from pathlib import Path

from evaluate_helpers import plan_document

from rollout_cli.data.queries import Aggregates, ArmCell, Sums
from rollout_cli.evaluation.needs import stage_measures
from rollout_cli.evaluation.stage import judge_checks
from rollout_cli.evaluation.tuning import expected_candidate_units, guard_tuning
from rollout_cli.evaluation.verdict import Check
from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml
from rollout_cli.stats.outcome import Outcome
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


def _aggregates(keys: dict[str, tuple[int, int]]) -> Aggregates:
    """Both arms with `n` one-request units and `events` of them counted, for each measure key."""
    cells = {}
    for arm, scale in (("baseline", 99), ("candidate", 1)):
        sums = {key: Sums(n=n * scale, sum_x=events * scale, sum_y=n * scale, sum_xx=events * scale,
                          sum_yy=n * scale, sum_xy=events * scale) for key, (n, events) in keys.items()}
        cells[arm] = ArmCell(units=min(n for n, _ in keys.values()) * scale, sums=sums)
    return Aggregates(cells={None: cells})


def _absolute_check(tmp_path: Path, guard: dict[str, object], words: str, agg: Aggregates) -> Check:
    document = plan_document(tmp_path, guards=[guard], canary="{name: canary, traffic: 1%, min_units: 2000}")
    (tmp_path / "plan.yaml").write_text(plan_yaml(document))
    plan = load_plan(tmp_path / "plan.yaml")
    stage = plan.stage("canary")
    checks, _ = judge_checks(plan, stage, stage_measures(plan, stage), agg, [])
    return next(c for c in checks if c.guard == words)


def test_the_absolute_check_of_a_two_limit_guard_is_tuned_as_the_absolute_guard_alone(tmp_path: Path) -> None:
    """docs/statistics.md, section 2: an absolute check counts the candidate's units, also when its
    guard has a relative limit too (whose sequence counts both arms): min_units, not min_units / 1%."""
    p99 = _aggregates({"latency_p99>250": (4000, 20)})  # 0.5% of requests slower than 250 ms, allowed 1%
    both = _absolute_check(tmp_path, {"metric": "latency_p99", "max_increase": "10%", "max": 250}, "max 250", p99)
    alone = _absolute_check(tmp_path, {"metric": "latency_p99", "max": 250}, "max 250", p99)
    assert both.interval == alone.interval and both.outcome is alone.outcome is Outcome.PASS
    errors = _aggregates({"error_rate": (4000, 8)})
    both = _absolute_check(tmp_path, {"metric": "error_rate", "max_increase": "10%", "max": "0.5%"}, "max 0.5%", errors)
    alone = _absolute_check(tmp_path, {"metric": "error_rate", "max": "0.5%"}, "max 0.5%", errors)
    assert both.interval == alone.interval and both.p_value == alone.p_value
