"""Duplicated rows and unrecognised arm values: detected, counted, reported, and never able to
turn a failing stage into a passing one or a logging fault into a rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from evaluate_helpers import simulate, write_plan
from test_bad_data import rewrite

from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.stats.outcome import Outcome

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=6)
REVENUE = [{"metric": "revenue", "max_drop": "3%"}]
ERRORS_ONLY = [{"metric": "error_rate", "max": "0.5%"}]


def _revenue_check(evaluation):  # type: ignore[no-untyped-def]
    return next(c for c in evaluation.checks if c.metric == "revenue")


def test_outcome_rows_logged_three_times_cannot_turn_a_fail_into_a_pass(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=REVENUE)
    logs = simulate(plan, tmp_path, units=20_000, candidate_pct=50, effect=-0.4)
    honest = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert _revenue_check(honest).outcome is Outcome.FAIL
    # the candidate's outcome rows shipped three times (a retrying log shipper)
    candidates = f"SELECT DISTINCT user_id FROM read_parquet('{logs.predictions}') WHERE arm = 'candidate'"
    rewrite(logs.outcomes, f"SELECT * FROM logs UNION ALL SELECT * FROM logs WHERE user_id IN ({candidates}) "
                           f"UNION ALL SELECT * FROM logs WHERE user_id IN ({candidates})")
    tripled = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert tripled.verdict is Outcome.FAIL
    assert _revenue_check(tripled).outcome is Outcome.FAIL
    # repeats counted once: the same measurement as the honest logs
    assert _revenue_check(tripled).to_json()["effect"] == pytest.approx(_revenue_check(honest).to_json()["effect"])
    quality, before = tripled.data_quality, honest.data_quality
    assert quality is not None and before is not None and before.duplicate_outcomes == 0
    assert quality.outcome_rows - quality.duplicate_outcomes == before.outcome_rows
    assert quality.duplicate_outcomes > 0 and quality.duplicate_outcomes % 2 == 0
    assert any("outcome rows in the window" in r and "are exact repeats of another row" in r for r in tripled.reasons)
    assert tripled.to_json()["data_quality"]["duplicate_outcomes"] == quality.duplicate_outcomes


def test_duplicated_request_ids_are_counted_and_hold_the_stage(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ERRORS_ONLY)
    logs = simulate(plan, tmp_path, units=20_000, candidate_pct=50)
    assert evaluate_stage(plan, plan.stage("canary"), now=END).verdict is Outcome.PASS
    rewrite(logs.predictions, "SELECT * FROM logs UNION ALL SELECT * FROM logs WHERE hash(request_id) % 20 = 0")
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert evaluation.verdict is Outcome.INCONCLUSIVE
    quality = evaluation.data_quality
    assert quality is not None and quality.duplicate_key == "request_id and arm"
    assert 0.03 < quality.duplicate_predictions / quality.prediction_rows < 0.07
    assert any(r.startswith(f"{quality.duplicate_predictions} of {quality.prediction_rows} prediction rows") and
               "repeat the request_id and arm of an earlier row (tolerated: 1%)" in r for r in evaluation.reasons)


def test_an_unrecognised_arm_value_is_named_and_never_a_rollback(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ERRORS_ONLY)
    logs = simulate(plan, tmp_path, units=20_000, candidate_pct=50)
    rewrite(logs.predictions, "SELECT * REPLACE (CASE WHEN arm = 'candidate' THEN 'CANDIDATE' ELSE arm END AS arm) "
                              "FROM logs")
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert evaluation.verdict is Outcome.INCONCLUSIVE  # not "fail: the candidate has 0 units"
    assert evaluation.srm.outcome is Outcome.INCONCLUSIVE
    quality = evaluation.data_quality
    assert quality is not None and quality.unknown_arms[0][0] == "CANDIDATE"
    assert any(f"in column 'arm': 'CANDIDATE' ({quality.unknown_arms[0][1]} rows)" in r for r in evaluation.reasons)
