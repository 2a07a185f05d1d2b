"""Guards in words, gates and the timeline of `plan show` (and of the runbook)."""

from __future__ import annotations

import pytest
from plan_paths import GOOD, ROOT

from rollout_cli.plan import load_plan
from rollout_cli.plan.describe import describe_guard, fastest_to_full_s, stage_gates, timeline
from rollout_cli.units import format_duration


@pytest.fixture(scope="module")
def ranker():
    return load_plan(ROOT / "plans" / "ranker-v42.yaml")


def test_each_guard_in_plain_words(ranker) -> None:
    assert [describe_guard(g) for g in ranker.guards] == [
        "conversion (share of units with a purchase event within 1h of being served) must stay at most 2% below "
        "the baseline, overall and in every segment",
        "revenue (purchase value per unit within 1h of being served) must stay at most 3% below the baseline",
        "latency_p99 (p99 of latency_ms) must stay at most 10% above the baseline and at most 250 ms",
        "error_rate (share of answers with error true) must stay at most 0.5%",
    ]
    assert [describe_guard(g) for g in ranker.stages[0].guards] == [
        "agreement (share of requests where the candidate's answer matches the baseline's, numbers within 0.05) "
        "must stay at least 90%",
        "latency_p99 (p99 of latency_ms) must stay at most 250 ms",
    ]


def test_mean_of_a_column_and_absolute_minimum() -> None:
    plan = load_plan(GOOD / "tables-and-final.yaml")
    assert describe_guard(plan.guards[3]) == "served_ok (mean served per unit) must stay at least 0.99"
    assert describe_guard(plan.guards[1]) == (
        "gmv (purchase value per unit within 1d of being served) must stay at most 2% below the baseline "
        "and at most 50% above the baseline"
    )


def test_timeline_and_fastest_time_to_full(ranker) -> None:
    starts = [(e.stage.name, e.earliest_start_s, e.mode, e.share) for e in timeline(ranker)]
    assert starts == [
        ("shadow", 0, "shadow", "mirror 100%"),
        ("canary", 86400, "traffic", "serve 1%"),
        ("ramp-5", 93600, "traffic", "serve 5%"),
        ("ramp-25", 108000, "traffic", "serve 25%"),
        ("ramp-50", 151200, "traffic", "serve 50%"),
        ("full", 237600, "traffic", "serve 100%"),
    ]
    assert fastest_to_full_s(ranker) == 237600 and format_duration(237600, style="span") == "2d 18h"


def test_a_plan_that_stops_short_never_reaches_full() -> None:
    plan = load_plan(GOOD / "tables-and-final.yaml")
    assert fastest_to_full_s(plan) is None
    assert timeline(plan)[1].share == "serve 1% + mirror 10%"
    assert stage_gates(plan, plan.stages[0]) == ("a passing rollback drill within 30d",)
    assert stage_gates(plan, plan.stages[1]) == ("at least 500 units",)


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59, "59s"), (5400, "1h 30m"), (90061, "1d 1h 1m 1s")])
def test_a_span_in_every_unit_from_days(seconds: float, text: str) -> None:
    assert format_duration(seconds, style="span") == text
