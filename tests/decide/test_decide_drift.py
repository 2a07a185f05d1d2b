"""decide() with drift: on_drift hold blocks leaving a stage, the monitoring status after 100%."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from rollout_support import T0, evaluation, plan_in

from rollout_cli.drift.check import ColumnCheck, DriftCheck
from rollout_cli.errors import ExitCode
from rollout_cli.plan.model import Drift, DriftFeature
from rollout_cli.state.records import RolloutState
from rollout_cli.stats.shift import ShiftDecision
from rollout_cli.transitions.decide import decide

PRICE_DRIFTED = ColumnCheck("price", ShiftDecision.DRIFTED, 0.9, (0.85, 0.95), 0.2, 7000)
PRICE_STABLE = ColumnCheck("price", ShiftDecision.NOT_DRIFTED, 0.01, (0.0, 0.02), 0.2, 7000)
DRIFTED = DriftCheck(T0, T0 + timedelta(hours=1), (PRICE_DRIFTED,))
STABLE = DriftCheck(T0, T0 + timedelta(hours=1), (PRICE_STABLE,))
UNREADABLE = DriftCheck(T0, T0 + timedelta(hours=1), error="feature 'price' is missing from predictions (p.parquet)")
DRIFT_WORDS = "drift confirmed: price: drifted (PSI 0.900, interval [0.850, 0.950] vs 0.2, 7000 rows)"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return plan_in(tmp_path_factory.mktemp("p"))


def with_drift(plan, **kw):
    return replace(plan, drift=Drift(features=(DriftFeature("price"),), **kw))


def state_at(stage: str, status: str = "running", traffic: float = 5.0) -> RolloutState:
    return RolloutState(plan="ranker", status=status, stage=stage, stage_started_at=T0, candidate_traffic=traffic,
                        shadow=0.0, approved_stage="ramp")


@pytest.mark.parametrize(("action", "drift", "verdict", "kind", "code", "reason"), [
    ("hold", DRIFTED, "pass", "hold", "drift",
     f"stage canary may not advance on shifted traffic (on_drift: hold): {DRIFT_WORDS}"),
    ("hold", UNREADABLE, "pass", "hold", "drift", ("stage canary may not advance on shifted traffic (on_drift: hold): "
     "drift could not be checked: feature 'price' is missing from predictions (p.parquet)")),
    ("hold", None, "pass", "hold", "drift",
     "stage canary may not advance on shifted traffic (on_drift: hold): drift has not been checked"),
    ("hold", STABLE, "pass", "advance", "passes", "stage canary passes: advancing to ramp (50% served, 0% mirrored)"),
    ("alert", DRIFTED, "pass", "advance", "passes", "stage canary passes: advancing to ramp (50% served, 0% mirrored)"),
    ("hold", DRIFTED, "fail", "rollback", "fail",
     "stage canary fails: conversion [platform=ios]: conversion is 40% below baseline (allowed: 2%)"),
])
def test_drift_during_the_ramp(base, action, drift, verdict, kind, code, reason) -> None:
    plan = with_drift(base, action=action)
    failing = ("ios",) if verdict == "fail" else ()
    got = decide(plan, state_at("canary"), evaluation(verdict, failing=failing), T0 + timedelta(hours=2), drift=drift)
    assert (got.kind, got.code, got.reason) == (kind, code, reason)


def test_an_approver_can_force_past_a_drift_hold(base) -> None:
    plan = with_drift(base, action="hold")
    got = decide(plan, state_at("canary"), evaluation("pass"), T0 + timedelta(hours=2), drift=DRIFTED,
                 manual=True, forced=True)
    assert (got.kind, got.to_stage) == ("advance", "ramp")


@pytest.mark.parametrize(("monitor_for", "kind", "spec", "reason"), [
    (None, "complete", "complete", "final stage full passes: the rollout is complete"),
    (30 * 86400.0, "monitor", "complete", ("final stage full passes: monitoring drift for 30d before the rollout is "
     "complete")),
])
def test_the_final_stage_enters_monitoring_when_the_plan_asks(base, monitor_for, kind, spec, reason) -> None:
    plan = with_drift(base, monitor_for_s=monitor_for)
    got = decide(plan, state_at("full", traffic=100.0), evaluation("pass", stage="full"), T0 + timedelta(hours=2),
                 drift=STABLE)
    assert (got.kind, got.json_action, got.reason, got.exit_code) == (kind, spec, reason, ExitCode.OK)


def test_the_final_stage_holds_on_drift_before_monitoring(base) -> None:
    plan = with_drift(base, action="hold", monitor_for_s=86400.0)
    got = decide(plan, state_at("full", traffic=100.0), evaluation("pass", stage="full"), T0 + timedelta(hours=2),
                 drift=DRIFTED)
    assert (got.kind, got.code) == ("hold", "drift")


@pytest.mark.parametrize(("hours", "drift", "kind", "code", "exit_code", "reason"), [
    (5, STABLE, "none", "monitoring", ExitCode.OK,
     "monitoring (19h left): no drift: every column is below its threshold"),
    (5, DRIFTED, "none", "drift", ExitCode.FAILED, f"monitoring (19h left): {DRIFT_WORDS}"),
    (5, UNREADABLE, "none", "drift", ExitCode.FAILED, ("monitoring (19h left): drift could not be checked: "
     "feature 'price' is missing from predictions (p.parquet)")),
    (28, DRIFTED, "complete", "monitored", ExitCode.OK, "monitored drift for 1d: the rollout is complete"),
])
def test_monitoring_after_full_traffic(base, hours, drift, kind, code, exit_code, reason) -> None:
    plan = with_drift(base, action="hold", monitor_for_s=86400.0)
    state = state_at("full", status="monitoring", traffic=100.0)
    got = decide(plan, state, None, T0 + timedelta(hours=hours), drift=drift)
    assert (got.kind, got.code, got.exit_code, got.reason) == (kind, code, exit_code, reason)
