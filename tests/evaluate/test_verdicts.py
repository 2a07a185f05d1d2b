"""Stage verdicts on simulated logs: harms are caught where they are, bad data never passes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from evaluate_helpers import simulate, write_plan

from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.routers.base import RouterSplit
from rollout_cli.stats.outcome import Outcome

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=6)
ABSOLUTE_ONLY = [{"metric": "latency_p99", "max": 250}, {"metric": "error_rate", "max": "0.5%"}]


def checks_of(evaluation, metric):
    return {tuple((c.segment or {}).items()): c for c in evaluation.checks if c.metric == metric}


def test_a_harm_confined_to_one_segment_fails_that_segment_and_no_other(tmp_path: Path) -> None:
    # platform=ios holds 20% of units; the candidate cuts its conversion by 40% there only
    plan = write_plan(tmp_path)
    simulate(plan, tmp_path, units=120_000, candidate_pct=50, segment_effect=("platform", "ios", -0.4))
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert evaluation.verdict is Outcome.FAIL
    conversion = checks_of(evaluation, "conversion")
    ios = conversion[(("platform", "ios"),)]
    assert ios.outcome is Outcome.FAIL
    assert ios.reason.startswith("conversion is ") and ios.reason.endswith("% below baseline (allowed: 2%)")
    assert ios.interval[1] < -0.02
    others = [c for key, c in conversion.items() if key and key != (("platform", "ios"),)]
    assert len(others) == 8  # 6 countries + android + web
    assert all(c.outcome is not Outcome.FAIL for c in others)
    assert evaluation.srm.outcome is Outcome.PASS


def test_absolute_guards_pass_on_healthy_logs(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ABSOLUTE_ONLY)
    simulate(plan, tmp_path, units=20_000, candidate_pct=50)
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert evaluation.verdict is Outcome.PASS, evaluation.reasons
    assert [c.outcome for c in evaluation.checks] == [Outcome.PASS, Outcome.PASS]
    p99 = evaluation.checks[0]
    assert 150 < p99.baseline < 250 and 150 < p99.candidate < 250  # observed p99 of each arm, in ms
    assert evaluation.duration_s == pytest.approx(6 * 3600, abs=1)


def test_a_latency_shift_fails_the_p99_guards(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    simulate(plan, tmp_path, units=20_000, candidate_pct=50, latency_shift=0.5)
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    latency = [c for c in evaluation.checks if c.metric == "latency_p99"]
    assert [(c.guard, c.outcome) for c in latency] == [("max 250", Outcome.FAIL), ("max_increase 10%", Outcome.FAIL)]
    assert latency[1].reason.endswith("above baseline (allowed: 10% increase)")
    assert evaluation.verdict is Outcome.FAIL


def test_sample_ratio_mismatch_fails_the_stage_with_its_p_value(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ABSOLUTE_ONLY)
    simulate(plan, tmp_path, units=20_000, candidate_pct=50, srm=0.1)
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert evaluation.srm.outcome is Outcome.FAIL
    assert evaluation.srm.p_value < 1e-6
    assert evaluation.srm.reason.startswith("sample-ratio mismatch: units split ")
    assert evaluation.verdict is Outcome.FAIL


def test_the_planned_split_comes_from_the_caller_when_given(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ABSOLUTE_ONLY)
    simulate(plan, tmp_path, units=20_000, candidate_pct=50)
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END, split=RouterSplit(10.0, 0.0))
    assert evaluation.srm.outcome is Outcome.FAIL and evaluation.srm.expected_share == 0.1


def test_stale_data_is_inconclusive_never_pass(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ABSOLUTE_ONLY)
    logs = simulate(plan, tmp_path, units=20_000, candidate_pct=50, stale_s=3600)
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    last = evaluation.freshness.last_row
    assert last <= logs.end - timedelta(hours=1)
    assert evaluation.reasons == (f"stale data: the last prediction row ({last.isoformat()}) is 1h old at {END.isoformat()} "
                                  f"(allowed: 15m)",)
    assert all(c.outcome is Outcome.PASS for c in evaluation.checks)  # the checks alone would pass
    assert evaluation.verdict is Outcome.INCONCLUSIVE


def test_an_empty_window_is_inconclusive(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    simulate(plan, tmp_path, units=2_000, candidate_pct=50)
    since, until = START - timedelta(days=2), START - timedelta(days=1)
    evaluation = evaluate_stage(plan, plan.stage("canary"), since=since, until=until, now=END)
    assert f"no prediction rows between {since.isoformat()} and {until.isoformat()}" in evaluation.reasons
    assert evaluation.units == {"baseline": 0, "candidate": 0}
    assert evaluation.verdict is Outcome.INCONCLUSIVE


def test_tiny_samples_are_inconclusive(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ABSOLUTE_ONLY)
    simulate(plan, tmp_path, units=60, candidate_pct=50)
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert evaluation.verdict is Outcome.INCONCLUSIVE
    assert all(c.outcome is Outcome.INCONCLUSIVE and "too few units" in c.reason for c in evaluation.checks)
    json.dumps(evaluation.to_json(), allow_nan=False)  # no NaN or infinity reaches the JSON


def test_the_stage_min_units_holds_a_passing_stage(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ABSOLUTE_ONLY, canary="{name: canary, traffic: 50%, min_units: 50000}")
    simulate(plan, tmp_path, units=20_000, candidate_pct=50)
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert evaluation.verdict is Outcome.INCONCLUSIVE
    assert evaluation.reasons == (f"the candidate has {evaluation.units['candidate']} units; the stage needs 50000",)


def test_units_in_both_arms_beyond_the_tolerance_are_inconclusive(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ABSOLUTE_ONLY)
    simulate(plan, tmp_path, units=20_000, candidate_pct=50, crossover=0.1)
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    crossed = evaluation.crossover
    assert crossed.units > 0.01 * 20_000
    assert evaluation.verdict is Outcome.INCONCLUSIVE
    assert evaluation.reasons[0].endswith("were served by both arms (tolerated: 1%); the router may not be "
                                          "assigning by unit")


def test_shadow_agreement_and_coverage(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    simulate(plan, tmp_path, units=20_000, shadow_pct=100)
    good = evaluate_stage(plan, plan.stage("shadow"), now=END)
    assert good.verdict is Outcome.PASS, good.reasons
    assert good.srm.p_value is None and good.srm.outcome is Outcome.PASS
    assert good.shadow.coverage == 1.0
    assert good.not_judged == ()
    agreement = good.shadow.agreement["agreement"]
    assert agreement.paired == good.shadow.paired_requests and agreement.rate > 0.99
    assert agreement.wilson_interval[0] < agreement.rate <= agreement.wilson_interval[1] + 1e-9


def test_shadow_disagreement_fails_agreement(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    simulate(plan, tmp_path, units=20_000, shadow_pct=100, shadow_disagreement=0.3)
    evaluation = evaluate_stage(plan, plan.stage("shadow"), now=END)
    agreement = checks_of(evaluation, "agreement")[()]
    assert agreement.outcome is Outcome.FAIL
    assert agreement.reason.startswith("agreement is 7") and agreement.reason.endswith("(allowed min: 90%)")
    assert evaluation.verdict is Outcome.FAIL


def test_a_shadow_mirroring_half_the_planned_requests_is_inconclusive(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    simulate(plan, tmp_path, units=20_000, shadow_pct=50)
    evaluation = evaluate_stage(plan, plan.stage("shadow"), now=END)
    coverage = evaluation.shadow.coverage
    assert 0.45 < coverage < 0.55
    assert evaluation.reasons == (f"only {100 * coverage:.3g}% of baseline requests have a candidate answer "
                                  "(planned: 100% mirrored)",)
    assert evaluation.verdict is Outcome.INCONCLUSIVE


def test_outcome_metrics_are_not_judged_in_a_shadow_stage(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=[{"metric": "conversion", "max_drop": "2%"}])
    simulate(plan, tmp_path, units=5_000, candidate_pct=50)
    shadow = plan.stages[0]
    from dataclasses import replace

    stage = replace(shadow, guards=plan.guards)
    evaluation = evaluate_stage(plan, stage, now=END)
    assert evaluation.not_judged == (
        "conversion: not judged in a shadow stage (users see only baseline answers)",)
    assert evaluation.verdict is Outcome.INCONCLUSIVE
    assert "the stage has no guards that can be judged" in evaluation.reasons


def test_quantile_bounds_read_in_the_main_pass_equal_a_separate_scan(tmp_path: Path) -> None:
    from rollout_cli.data.queries import stage_aggregates
    from rollout_cli.data.scans import LevelRequest, quantiles_at_levels, window_facts
    from rollout_cli.data.source import open_logs, utc_naive
    from rollout_cli.evaluation.needs import stage_measures
    from rollout_cli.evaluation.quantile_reads import with_bound_levels

    plan = write_plan(tmp_path)
    simulate(plan, tmp_path, units=5_000, candidate_pct=50)
    stage = plan.stage("canary")
    needs = stage_measures(plan, stage)
    until = utc_naive(END)
    with open_logs(plan.data) as logs:
        facts = window_facts(logs, since=None, until=until, counted=("latency_ms",))
        specs = with_bound_levels(plan, stage, needs, facts)
        assert len(specs[0].levels) >= 2  # each arm's two Woodruff levels
        agg = stage_aggregates(logs, shadow=False, segments=[], measures=needs.measures, quantiles=specs,
                               since=None, until=until)
        for arm in ("baseline", "candidate"):
            cell = agg.cells[None][arm]
            assert cell.quantile_n["latency_p99"] == facts.answers[(arm, "latency_ms")]
            request = LevelRequest(None, arm, "latency_p99", "latency_ms", specs[0].levels)
            [separate] = quantiles_at_levels(logs, shadow=False, segments=[], requests=[request], since=None,
                                             until=until)
            assert [cell.quantile_levels["latency_p99"][level] for level in specs[0].levels] == \
                pytest.approx(separate)
