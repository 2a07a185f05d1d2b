"""The shadow-only metric kinds (coverage, score_shift): where they may be guarded, and with which limits."""

from __future__ import annotations

import copy

import yaml
from plan_paths import GOOD

from rollout_cli.plan.build import build_plan
from rollout_cli.plan.load import load_plan_text
from rollout_cli.plan.validate import validate_document

MINIMAL = yaml.safe_load((GOOD / "minimal.yaml").read_text())


def plan_with(shadow_guards: list[dict], plan_guards: list[dict] | None = None) -> dict:
    plan = copy.deepcopy(MINIMAL)
    plan["metrics"].update({"coverage": {"kind": "coverage", "timeout": "0.5s"}, "shift": {"kind": "score_shift"}})
    plan["stages"][0]["guards"] = shadow_guards
    if plan_guards is not None:
        plan["guards"] = plan_guards
    return plan


def problems(plan: dict) -> list[str]:
    doc = load_plan_text(yaml.safe_dump(plan, sort_keys=False), "p.yaml")
    return [f"{p.path}: {p.message}" for p in validate_document(doc)]


def test_coverage_and_score_shift_guards_in_a_shadow_stage_are_valid_and_parsed() -> None:
    plan = plan_with([{"metric": "coverage", "min": "95%"}, {"metric": "shift", "max": 0.1}])
    assert problems(plan) == []
    built = build_plan(load_plan_text(yaml.safe_dump(plan, sort_keys=False), "p.yaml"))
    assert built.metrics["coverage"].timeout_s == 0.5
    assert [(g.metric.kind, g.min, g.max) for g in built.stages[0].guards] == [("coverage", 0.95, None),
                                                                                ("score_shift", None, 0.1)]


def test_they_exist_only_in_shadow_stages() -> None:
    plan = plan_with([{"metric": "coverage", "min": "95%"}], plan_guards=[{"metric": "shift", "max": 0.1}])
    assert problems(plan) == [
        ("$.guards[0].metric: 'shift' is a score_shift metric, which exists only in shadow stages; plan-level guards "
         "apply to traffic stages; move it into the shadow stage's guards")]


def test_each_takes_its_own_limit() -> None:
    plan = plan_with([{"metric": "coverage", "max": "95%"}, {"metric": "shift", "min": 0.1},
                      {"metric": "shift", "max": 0}])
    assert problems(plan) == [
        "$.stages[0].guards[0].max: a coverage guard takes min (e.g. min: 90%); max does not apply to 'coverage'",
        "$.stages[0].guards[1].min: a score_shift guard takes max (e.g. max: 0.1); min does not apply to 'shift'",
        "$.stages[0].guards[2].max: 'shift' is a PSI; its max must be above 0 (e.g. 0.1), not 0"]


def test_timeout_belongs_to_coverage_only() -> None:
    plan = plan_with([{"metric": "coverage", "min": "95%"}])
    plan["metrics"]["shift"]["timeout"] = "1s"
    assert problems(plan) == ["$.metrics.shift.timeout: 'timeout' does not apply to a score_shift metric (it takes nothing besides kind)"]
