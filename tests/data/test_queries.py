"""Exposure, attribution and the metric SQL on hand-made logs, in every source format, to the exact number."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from data_helpers import PREDICTIONS, plan_with, write_logs

from rollout_cli.data.queries import Sums, stage_aggregates
from rollout_cli.data.source import open_logs
from rollout_cli.evaluation.needs import stage_measures
from rollout_cli.evaluation.stage import evaluate_stage

SINCE, UNTIL = datetime(2026, 1, 5, 9, 30), datetime(2026, 1, 5, 12, 0)


def aggregates(plan, stage_name="canary", segments=("platform",), since=SINCE, until=UNTIL):
    stage = plan.stage(stage_name)
    needs = stage_measures(plan, stage)
    with open_logs(plan.data) as logs:
        return stage_aggregates(logs, shadow=stage.is_shadow, segments=list(segments), measures=needs.measures,
                                quantiles=needs.quantiles, since=since, until=until)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "duckdb"])
def test_first_served_answer_decides_the_arm_and_outcomes_count_within_the_window(tmp_path: Path, fmt: str) -> None:
    plan = plan_with(tmp_path, *write_logs(tmp_path / "logs", fmt))
    agg = aggregates(plan)
    base, cand = agg.cells[None]["baseline"], agg.cells[None]["candidate"]
    # u4 answered only before the window; u2 was served by the candidate first, then by the baseline
    assert (base.units, cand.units) == (1, 2)
    assert (base.crossed, cand.crossed) == (0, 1)
    # u1 bought at 10:15 and 11:20 (within last answer 10:30 + 1h), not at 11:45; u3 bought before its first
    # answer; u2 bought at 10:50; u5 was never exposed
    assert base.sums["conversion"] == Sums(1, 1.0, 1.0, 1.0, 1.0, 1.0)
    assert cand.sums["conversion"] == Sums(2, 1.0, 2.0, 1.0, 2.0, 1.0)
    assert base.sums["revenue"] == Sums(1, 15.0, 1.0, 225.0, 1.0, 15.0, 3375.0)
    assert cand.sums["revenue"] == Sums(2, 4.0, 2.0, 16.0, 2.0, 4.0, 64.0)
    # error rate per unit: u2 served r3 (error) and r4; u3 served r5 -> x = (1, 0), y = (2, 1)
    assert cand.sums["error_rate"] == Sums(2, 1.0, 3.0, 1.0, 5.0, 2.0)
    # mean of a column per request: u1 100 + 300 ms; u2 200 + 260 ms, u3 50 ms
    assert base.sums["latency_mean"] == Sums(1, 400.0, 2.0, 160000.0, 4.0, 800.0)
    assert cand.sums["latency_mean"] == Sums(2, 510.0, 3.0, 214100.0, 5.0, 970.0)
    # requests slower than 250 ms: u1 r2 (300) of 2; u2 r4 (260) of 2; u3 none of 1
    assert base.sums["latency_p99>250"] == Sums(1, 1.0, 2.0, 1.0, 4.0, 2.0)
    assert cand.sums["latency_p99>250"] == Sums(2, 1.0, 3.0, 1.0, 5.0, 2.0)
    # segment values are those of the unit's first served answer
    assert agg.cells[("platform", "ios")]["candidate"].units == 1
    assert agg.cells[("platform", "web")]["candidate"].units == 1
    assert agg.cells[("platform", "ios")]["baseline"].units == 1
    # quantiles are per served answer of each arm: baseline r1, r2, r4 = 100, 300, 260
    assert base.quantiles["latency_p99"] == pytest.approx(300 - 0.02 * 40)
    assert base.quantile_n["latency_p99"] == 3


def test_outcomes_after_the_window_end_do_not_count(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, *write_logs(tmp_path / "logs", "parquet"))
    agg = aggregates(plan, until=datetime(2026, 1, 5, 11, 0))
    assert agg.cells[None]["baseline"].sums["revenue"].sum_x == 10.0  # the 11:20 purchase is after `until`


def test_shadow_stage_pairs_answers_by_request_id(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, *write_logs(tmp_path / "logs", "parquet"))
    agg = aggregates(plan, stage_name="shadow", segments=())
    # served baseline answers in the window: r1, r2, r4; only r1 has a candidate (unserved) answer
    assert (agg.baseline_requests, agg.paired_requests) == (3, 1)
    assert agg.cells[None]["candidate"].sums["agreement"] == Sums(1, 1.0, 1.0, 1.0, 1.0, 1.0)


def test_label_predictions_agree_by_equality(tmp_path: Path) -> None:
    rows = [("r1", "2026-01-05 10:00:00", "u1", "baseline", True, "cat", 10.0, False, "US", "ios"),
            ("r1", "2026-01-05 10:00:01", "u1", "candidate", False, "cat", 10.0, False, "US", "ios"),
            ("r2", "2026-01-05 10:01:00", "u1", "baseline", True, "dog", 10.0, False, "US", "ios"),
            ("r2", "2026-01-05 10:01:01", "u1", "candidate", False, "cow", 10.0, False, "US", "ios")]
    plan = plan_with(tmp_path, *write_logs(tmp_path / "logs", "parquet", predictions=rows,
                                           pred_types={"prediction": "VARCHAR"}))
    agg = aggregates(plan, stage_name="shadow", segments=())
    assert agg.cells[None]["candidate"].sums["agreement"] == Sums(1, 1.0, 2.0, 1.0, 4.0, 2.0)


def test_crossover_is_reported_and_holds_the_stage(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, *write_logs(tmp_path / "logs", "parquet"))
    evaluation = evaluate_stage(plan, plan.stage("canary"), since=SINCE, until=UNTIL, now=UNTIL)
    assert evaluation.crossover.to_json() == {"units": 1, "share": pytest.approx(1 / 3), "max_share": 0.01}
    assert "1 units (33%) were served by both arms (tolerated: 1%); the router may not be assigning by unit" \
        in evaluation.reasons
    assert evaluation.verdict.value == "inconclusive"
    assert evaluation.units == {"baseline": 1, "candidate": 2}
    json.dumps(evaluation.to_json(), allow_nan=False, default=str)  # one unit per arm: no NaN in the JSON


def test_timestamps_with_a_time_zone_are_read_as_utc(tmp_path: Path) -> None:
    rows = [(r[0], r[1] + "+02:00", *r[2:]) for r in PREDICTIONS]  # the same instants, two hours east
    preds, outs = write_logs(tmp_path / "logs", "parquet", predictions=rows, pred_types={"ts": "TIMESTAMPTZ"})
    plan = plan_with(tmp_path, preds, outs)
    shifted = aggregates(plan, since=datetime(2026, 1, 5, 7, 30), until=datetime(2026, 1, 5, 10, 0))
    # the answers are now at 08:00-08:30 UTC (u4's at 07:00 UTC stays outside the window)
    assert (shifted.cells[None]["baseline"].units, shifted.cells[None]["candidate"].units) == (1, 2)
    assert shifted.cells[None]["baseline"].quantile_n["latency_p99"] == 3
    # the outcomes (naive, so UTC) all come more than an hour after those answers: none counts
    assert shifted.cells[None]["baseline"].sums["conversion"].sum_x == 0
    assert shifted.cells[None]["candidate"].sums["conversion"].sum_x == 0


def test_a_cap_winsorises_each_units_total_before_it_is_summed(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, *write_logs(tmp_path / "logs", "parquet"))
    import yaml

    from rollout_cli.plan import load_plan
    from rollout_cli.plan.document import plan_yaml

    document = yaml.safe_load(Path(plan.source).read_text())
    document["metrics"]["revenue"]["cap"] = 10
    Path(plan.source).write_text(plan_yaml(document))

    capped = aggregates(load_plan(Path(plan.source)))
    # u1 bought for 15 in the window (see above): capped at 10; the candidate's 4 stays
    assert capped.cells[None]["baseline"].sums["revenue"] == Sums(1, 10.0, 1.0, 100.0, 1.0, 10.0, 1000.0)
    assert capped.cells[None]["candidate"].sums["revenue"] == Sums(2, 4.0, 2.0, 16.0, 2.0, 4.0, 64.0)
