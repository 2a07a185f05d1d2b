"""`rollout plan simulate`: the plan's real judging and decisions on simulated statistics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from evaluate.evaluate_helpers import plan_document

from rollout_cli.errors import UsageError
from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml
from rollout_cli.planning import Harm, Scenario, parse_harm, simulate_plan

GUARDS = [{"metric": "conversion", "max_drop": "2%", "per_segment": True}, {"metric": "revenue", "max_drop": "3%"},
          {"metric": "error_rate", "max": "0.5%"}]


def plan_text(logs: Path, **options: object) -> str:
    return plan_yaml(plan_document(logs, **options))  # type: ignore[arg-type]


def _plan(tmp_path: Path, canary: str = "{name: canary, traffic: 50%, min_duration: 2h}"):  # type: ignore[no-untyped-def]
    path = tmp_path / "plan.yaml"
    path.write_text(plan_text(tmp_path, guards=GUARDS, canary=canary,
                              decision="{confidence: 95%, max_duration: 24h}"))
    return load_plan(path)


def test_a_harmless_candidate_is_rarely_rolled_back_and_reaches_100(tmp_path: Path) -> None:
    # 2% on a 10% conversion needs about 1M units to pass: 200,000 units/h give it by the 24h horizon
    result = simulate_plan(_plan(tmp_path), Scenario(traffic_per_h=200_000, runs=150, seed=3))
    assert result.rolled_back <= 0.05
    assert result.completed >= 0.9
    assert result.hours_to_complete is not None and result.hours_to_complete >= 2.0  # min_duration


def test_a_harm_beyond_the_limit_is_caught_in_the_canary(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    result = simulate_plan(plan, Scenario(traffic_per_h=20_000, runs=100, seed=4, catch=0.95,
                                          harms=(parse_harm("conversion=-20%", plan),)))
    canary = result.stages[0]
    assert canary.stage == "canary" and canary.caught >= 0.95
    assert canary.hours_to_rollback is not None and canary.hours_to_rollback[0] <= 3.0
    assert canary.exposed is not None and 0 < canary.exposed[0] <= 20_000 * 3 * 0.5
    assert canary.catch_hours is not None
    assert result.completed <= 0.05


def test_a_segment_harm_is_caught_through_the_per_segment_guard(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    result = simulate_plan(plan, Scenario(traffic_per_h=20_000, runs=60, seed=5,
                                          harms=(parse_harm("conversion[platform=ios]=-50%", plan),)))
    assert result.rolled_back >= 0.9


def test_a_harm_a_stage_cannot_see_in_time_is_warned_about(tmp_path: Path) -> None:
    plan = _plan(tmp_path, canary="{name: canary, traffic: 1%, min_duration: 2h}")
    result = simulate_plan(plan, Scenario(traffic_per_h=2_000, runs=10, seed=6,
                                          harms=(Harm("conversion", -0.03),)))
    assert any(w.startswith("canary: cannot detect conversion -3% within 24h at 2000 units/h — it needs about ")
               for w in result.warnings), result.warnings


def test_harms_are_parsed_and_checked_against_the_plan(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    assert parse_harm("conversion[platform=ios]=-20%", plan) == Harm("conversion", -0.2, ("platform", "ios"))
    with pytest.raises(UsageError, match="the plan has no metric 'clicks'"):
        parse_harm("clicks=-5%", plan)
    with pytest.raises(UsageError, match="'device' is not one of the plan's segments"):
        parse_harm("conversion[device=ios]=-5%", plan)
    with pytest.raises(UsageError, match="write METRIC=CHANGE%"):
        parse_harm("conversion -5", plan)


def test_the_command_prints_json_and_refuses_bad_input(tmp_path: Path) -> None:
    _plan(tmp_path)
    run = [sys.executable, "-m", "rollout_cli", "plan", "simulate", str(tmp_path / "plan.yaml")]
    done = subprocess.run([*run, "--traffic", "20000/h", "--harm", "conversion=-20%", "--runs", "20", "--json"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["harms"] == ["conversion -20%"] and doc["runs"] == 20 and doc["stages"][0]["stage"] == "canary"
    missing = subprocess.run(run, capture_output=True, text=True, check=False)
    assert missing.returncode == 2
    assert "the plan declares no traffic_estimate: give --traffic, e.g. --traffic 20000/h" in missing.stderr
    bad = subprocess.run([*run, "--traffic", "lots"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "'lots' is not a traffic rate" in bad.stderr


@pytest.mark.slow
def test_the_simulated_statistics_agree_with_the_evaluator_on_simulated_logs(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The same stage and harm judged two ways: `evaluate_stage` on simulated logs (real DuckDB
    scans, per-request rows) and `plan simulate`'s evaluation on simulated sufficient statistics.
    The share of failing looks must agree within simulation error."""
    from datetime import timedelta

    import numpy as np

    from rollout_cli.evaluation.stage import evaluate_stage
    from rollout_cli.planning.simulate import SimulatedArms, simulated_evaluation, simulated_needs
    from rollout_cli.sim.logs import Scenario as LogScenario
    from rollout_cli.sim.logs import simulate_logs
    from rollout_cli.stats.outcome import Outcome

    guards = [{"metric": "conversion", "max_drop": "2%"}]
    path = tmp_path / "plan.yaml"
    path.write_text(plan_text(tmp_path / "logs", guards=guards, canary="{name: canary, traffic: 50%}"))
    plan = load_plan(path)
    stage = plan.stage("canary")
    units, change, seeds = 20_000, -0.16, 80  # a harm the stage catches about half the time at this size
    from_logs, rates = 0, []
    for seed in range(seeds):
        logs = simulate_logs(plan, tmp_path / "logs", seed=seed,
                             scenario=LogScenario(units=units, conversion=0.10, effect=change, duration_s=6 * 3600.0))
        evaluation = evaluate_stage(plan, stage, now=logs.end + timedelta(hours=2), until=logs.end + timedelta(hours=2))
        from_logs += evaluation.checks[0].outcome is Outcome.FAIL
        rates.append(evaluation.checks[0].baseline)
    # the log simulator's realised conversion runs a little under its knob (units near the end);
    # the statistics are drawn at the rate the logs really had
    monkeypatch.setattr("rollout_cli.planning.simulate.EVENT_RATE", float(np.mean(rates)))
    needs, _ = simulated_needs(plan, stage)
    rng = np.random.default_rng(1)
    from_stats = 0
    runs = 400
    for _ in range(runs):
        arms = SimulatedArms([plan.metrics["conversion"]], [], [])
        arms.grow(rng, units, 0.5, (Harm("conversion", change),))
        from_stats += simulated_evaluation(plan, stage, needs, arms.aggregates(), [], 6 * 3600.0).checks[0].outcome is Outcome.FAIL
    p_logs, p_stats = from_logs / seeds, from_stats / runs
    error = 2.5 * np.sqrt(p_stats * (1 - p_stats) / seeds + p_stats * (1 - p_stats) / runs) + 0.02
    assert 0.1 < p_stats < 0.9  # the comparison is informative
    assert abs(p_logs - p_stats) <= error, (p_logs, p_stats)
    print(f"fail share: {p_logs:.3f} on logs, {p_stats:.3f} on simulated statistics")


def test_the_suggested_min_duration_makes_the_canary_catch_what_was_asked(tmp_path: Path) -> None:
    import math

    plan = _plan(tmp_path, canary="{name: canary, traffic: 50%}")
    harm = (parse_harm("conversion=-20%", plan),)
    result = simulate_plan(plan, Scenario(traffic_per_h=20_000, runs=80, seed=6, catch=0.9, harms=harm))
    [canary] = [s for s in result.suggestions if s.stage == "canary"]
    assert canary.min_duration_h is not None and canary.min_units is not None
    assert canary.min_units == round(20_000 * canary.min_duration_h * 0.5)
    assert json.loads(json.dumps(result.to_json()))["suggestions"][0]["stage"] == "canary"
    minutes = math.ceil(canary.min_duration_h * 60)
    (tmp_path / "sized").mkdir()
    sized = _plan(tmp_path / "sized", canary=f"{{name: canary, traffic: 50%, min_duration: {minutes}m}}")
    again = simulate_plan(sized, Scenario(traffic_per_h=20_000, runs=80, seed=7, harms=harm))
    assert again.stages[0].caught >= 0.9 - 2.5 * math.sqrt(0.09 / 80)
