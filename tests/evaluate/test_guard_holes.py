"""Guards that could never decide (holes found by the statistics audit), judged end to end on
real DuckDB scans of simulated logs. See docs/statistics.md, "Small and odd samples"."""

from __future__ import annotations

from pathlib import Path

from evaluate_helpers import simulate, write_plan

from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.stats.outcome import Outcome


def test_a_relative_p99_guard_decides_in_a_canary_with_min_units(tmp_path: Path) -> None:
    # The bound levels used to be read with one tuning size and looked up with another, so no
    # level matched and the guard stayed inconclusive whatever the slowdown.
    plan = write_plan(tmp_path, guards=[{"metric": "latency_p99", "max_increase": "10%"}],
                      canary="{name: canary, traffic: 20%, min_units: 500}")
    logs = simulate(plan, tmp_path, units=20_000, latency_shift=0.5, requests_per_unit=3.0)
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=logs.end)
    [check] = [c for c in evaluation.checks if c.guard == "max_increase 10%"]
    assert check.outcome is Outcome.FAIL, check.reason


def _rewrite(path: Path, select: str) -> None:
    """Rewrite a parquet file through DuckDB (`select` reads FROM src)."""
    import duckdb

    tmp = path.with_suffix(".tmp")
    connection = duckdb.connect()
    try:
        connection.execute(f"COPY ({select.replace('src', repr(str(path)))}) TO '{tmp}' (FORMAT parquet)")
    finally:
        connection.close()
    tmp.replace(path)


def test_a_few_non_finite_purchase_values_do_not_hide_a_revenue_drop(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=[{"metric": "revenue", "max_drop": "3%"}])
    logs = simulate(plan, tmp_path, units=20_000, effect=-0.3)
    _rewrite(logs.outcomes, "SELECT * EXCLUDE (k) REPLACE (CASE WHEN event = 'purchase' AND k <= 3 "
                            "THEN CASE WHEN k = 2 THEN 'inf' ELSE 'nan' END::DOUBLE ELSE value END AS value) "
                            "FROM (SELECT *, row_number() OVER (PARTITION BY event ORDER BY ts) AS k FROM src)")
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=logs.end)
    [check] = evaluation.checks
    assert check.outcome is Outcome.FAIL, check.reason
    [bad] = evaluation.non_finite
    assert bad.what == "value of purchase outcomes" and sum(bad.counts.values()) == 3
    assert not any("not finite" in reason for reason in evaluation.reasons)  # 3 values: reported, tolerated


def test_non_finite_latencies_do_not_stop_the_p99_guard_and_are_a_finding(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=[{"metric": "latency_p99", "max_increase": "10%"}])
    logs = simulate(plan, tmp_path, units=20_000, latency_shift=0.5)
    _rewrite(logs.predictions, "SELECT * REPLACE (CASE WHEN arm = 'candidate' AND hash(request_id) % 50 = 0 "
                               "THEN 'nan'::DOUBLE ELSE latency_ms END AS latency_ms) FROM src")
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=logs.end)
    [check] = [c for c in evaluation.checks if c.guard == "max_increase 10%"]
    assert check.outcome is Outcome.FAIL, check.reason
    [bad] = evaluation.non_finite
    assert bad.what == "column latency_ms" and bad.counts["baseline"] == 0
    assert 0.01 < bad.shares["candidate"] < 0.03
    assert any(reason.startswith("latency_ms: ") and "not finite" in reason for reason in evaluation.reasons)
    assert evaluation.verdict is Outcome.FAIL
    assert evaluation.to_json()["non_finite"][0]["counts"]["candidate"] == bad.counts["candidate"]
