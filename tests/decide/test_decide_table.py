"""decide() is pure: every rule of the controller as a row of a table."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from rollout_support import STAGES, T0, evaluation, plan_in

from rollout_cli.errors import ExitCode
from rollout_cli.state.records import RolloutState, not_started
from rollout_cli.transitions.decide import decide


def running(stage: str, *, hours: float = 2.0, approved: str | None = None, **kw) -> tuple[RolloutState, object]:
    state = RolloutState(plan="ranker", status="running", stage=stage, stage_started_at=T0, candidate_traffic=5.0,
                         shadow=0.0, approved_stage=approved, **kw)
    return state, T0 + timedelta(hours=hours)


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return plan_in(tmp_path_factory.mktemp("p"))


def test_passing_stage_advances(plan) -> None:
    state, now = running("canary", approved="ramp")
    action = decide(plan, state, evaluation("pass"), now)
    assert (action.kind, action.to_stage, action.exit_code) == ("advance", "ramp", ExitCode.OK)
    assert action.reason == "stage canary passes: advancing to ramp (50% served, 0% mirrored)"


@pytest.mark.parametrize(
    ("hours", "verdict", "units", "kind", "code", "reason"),
    [
        (0.5, "pass", 5000, "hold", "min_duration",
         "stage canary has run 30m of its min_duration 1h (30m left)"),
        (2.0, "pass", 120, "hold", "min_units", "stage canary has 120 candidate units of its min_units 500"),
        (2.0, "inconclusive", 5000, "hold", "inconclusive", "stage canary is inconclusive: no fresh rows"),
        (0.5, "fail", 5000, "rollback", "fail",
         "stage canary fails: conversion [platform=ios]: conversion is 40% below baseline (allowed: 2%)"),
    ],
)
def test_stage_limits(plan, hours, verdict, units, kind, code, reason) -> None:
    state, now = running("canary", hours=hours, approved="ramp")
    failing = ("ios",) if verdict == "fail" else ()
    reasons = ("no fresh rows",) if verdict == "inconclusive" else ()
    action = decide(plan, state, evaluation(verdict, candidate_units=units, failing=failing, reasons=reasons), now)
    assert (action.kind, action.code, action.reason) == (kind, code, reason)


def test_a_failure_is_acted_on_before_min_duration(plan) -> None:
    state, now = running("canary", hours=0.1)
    assert decide(plan, state, evaluation("fail", failing=("ios",)), now).kind == "rollback"


def test_approval_gate_waits_for_an_approver(plan) -> None:
    state, now = running("canary")
    action = decide(plan, state, evaluation("pass"), now)
    assert (action.kind, action.json_action, action.exit_code) == ("await_approval", "hold", ExitCode.INCONCLUSIVE)
    assert action.reason == f"stage ramp requires approval: an approver (carol) runs `rollout advance {plan.source} --as NAME`"


@pytest.mark.parametrize(("on_inconclusive", "kind", "code"), [("hold", "hold", 3), ("rollback", "rollback", 1)])
def test_on_inconclusive_at_max_duration(tmp_path: Path, on_inconclusive: str, kind: str, code: int) -> None:
    plan = plan_in(tmp_path, decision={"max_duration": "6h", "on_inconclusive": on_inconclusive})
    before, at_5h = running("canary", hours=5)
    assert decide(plan, before, evaluation("inconclusive"), at_5h).code == "inconclusive"
    state, now = running("canary", hours=6)
    action = decide(plan, state, evaluation("inconclusive", reasons=("too few units",)), now)
    assert (action.kind, action.code, int(action.exit_code)) == (kind, "max_duration", code)
    assert "no verdict after max_duration 6h" in action.reason


def test_auto_advance_off_holds_and_says_what_to_run(tmp_path: Path) -> None:
    plan = plan_in(tmp_path, decision="{auto_advance: false}")
    state, now = running("shadow")
    action = decide(plan, state, evaluation("pass", stage="shadow"), now)
    assert (action.kind, action.code) == ("hold", "auto_advance_off")
    assert action.reason == f"stage shadow passes; auto_advance is off — advance with `rollout advance {plan.source}`"
    assert decide(plan, state, evaluation("pass", stage="shadow"), now, manual=True).kind == "advance"


def test_auto_rollback_off_holds_a_failure_with_exit_1(tmp_path: Path) -> None:
    plan = plan_in(tmp_path, decision="{auto_rollback: false}")
    state, now = running("canary")
    action = decide(plan, state, evaluation("fail", failing=("web",)), now)
    assert (action.kind, action.code, action.exit_code) == ("hold", "fail", ExitCode.FAILED)
    assert action.reason.endswith(f"auto_rollback is off — roll back with `rollout rollback {plan.source} --reason TEXT`")


def test_final_stage_completes(plan) -> None:
    state, now = running("full")
    assert decide(plan, state, evaluation("pass", stage="full"), now).kind == "complete"
    # at 100% no baseline is left to compare: an undecided verdict still completes, a failure does not
    assert decide(plan, state, evaluation("inconclusive", stage="full"), now).kind == "complete"
    assert decide(plan, state, evaluation("fail", stage="full", failing=("ios",)), now).kind == "rollback"


@pytest.mark.parametrize("status", ["rolled_back", "completed"])
def test_finished_rollouts_do_nothing(plan, status: str) -> None:
    state, now = running("canary")
    action = decide(plan, replace(state, status=status), evaluation("fail", failing=("ios",)), now)
    assert (action.kind, action.exit_code) == ("none", ExitCode.OK)
    assert action.reason == f"the rollout is {status.replace('_', ' ')}; nothing to do"


def test_not_started_and_incomplete_rollback(plan) -> None:
    assert decide(plan, not_started("ranker"), None, T0).code == "not_started"
    state, now = running("canary", rollback_incomplete=True)
    assert (decide(plan, state, None, now).kind, decide(plan, state, None, now).code) == ("rollback",
                                                                                          "rollback_incomplete")


def test_drill_gate_refusal_holds_leaving_shadow_only(plan) -> None:
    state, now = running("shadow")
    refusal = "traffic may not leave shadow: no drill on record; run: rollout drill ranker.yaml"
    action = decide(plan, state, evaluation("pass", stage="shadow"), now, drill_refusal=refusal)
    assert (action.kind, action.code, action.reason) == ("hold", "drill", refusal)
    canary, _ = running("canary", approved="ramp")
    assert decide(plan, canary, evaluation("pass"), now, drill_refusal=refusal).kind == "advance"


def test_manual_and_forced(plan) -> None:
    state, now = running("canary", hours=0.2, approved="ramp")
    held = decide(plan, state, evaluation("fail", failing=("ios",)), now, manual=True)
    assert (held.kind, held.exit_code) == ("hold", ExitCode.FAILED)  # a person's advance never rolls back
    forced = decide(plan, state, evaluation("fail", failing=("ios",)), now, manual=True, forced=True)
    assert (forced.kind, forced.to_stage) == ("advance", "ramp")


def test_no_stage_limits_without_max_duration(tmp_path: Path) -> None:
    plan = plan_in(tmp_path, decision="{on_inconclusive: rollback}", stages=STAGES)
    state, now = running("canary", hours=500)
    assert decide(plan, state, evaluation("inconclusive"), now).kind == "hold"
