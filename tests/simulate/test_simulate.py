"""The simulator: deterministic, realistic enough, and every knob does what it says."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from rollout_cli.errors import UsageError
from rollout_cli.plan import load_plan
from rollout_cli.sim.logs import Scenario, scenario_named, simulate_logs, simulate_stage, with_window

REPO_PLAN = Path(__file__).resolve().parents[2] / "plans" / "ranker-v42.yaml"
START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def plan():
    return load_plan(REPO_PLAN)


def one(sql: str, *params: object) -> tuple:
    return duckdb.execute(sql, list(params)).fetchall()[0]  # all of it: the shared connection is left idle


def digest(path: Path) -> str:
    rows = duckdb.execute(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_same_seed_same_logs_other_seed_other_logs(plan, tmp_path: Path) -> None:
    scenario = Scenario(units=3000, candidate_pct=10)
    a = simulate_logs(plan, tmp_path / "a", scenario=scenario, seed=5)
    b = simulate_logs(plan, tmp_path / "b", scenario=scenario, seed=5)
    c = simulate_logs(plan, tmp_path / "c", scenario=scenario, seed=6)
    assert digest(a.predictions) == digest(b.predictions) and digest(a.outcomes) == digest(b.outcomes)
    assert digest(a.predictions) != digest(c.predictions)


def test_logs_follow_the_plan_columns_and_the_data_contract(plan, tmp_path: Path) -> None:
    logs = simulate_logs(plan, tmp_path, scenario=Scenario(units=5000, candidate_pct=20), seed=1)
    described = duckdb.execute(f"DESCRIBE SELECT * FROM read_parquet('{logs.predictions}')").fetchall()
    columns = {row[0]: row[1] for row in described}
    assert columns["user_id"] == "VARCHAR"  # the plan maps unit_id to user_id
    assert (columns["ts"], columns["served"], columns["error"], columns["latency_ms"]) == \
        ("TIMESTAMP", "BOOLEAN", "BOOLEAN", "DOUBLE")
    assert {"country", "platform", "price", "query_length", "user_age_days"} <= set(columns)
    units, rows, share, lo, hi = one(
        f"SELECT count(DISTINCT user_id), count(*), avg((arm = 'candidate')::INT), min(ts), max(ts) "
        f"FROM read_parquet('{logs.predictions}')")
    assert units == 5000 and 1.8 < rows / units < 2.2 and 0.17 < share < 0.23
    assert START.replace(tzinfo=None) <= lo and hi < (START + timedelta(hours=6)).replace(tzinfo=None)
    buyers = one(f"SELECT count(DISTINCT user_id) FROM read_parquet('{logs.outcomes}') WHERE event = 'purchase'")[0]
    assert 0.06 < buyers / units < 0.10
    assert logs.training is not None
    assert one(f"SELECT count(*) FROM read_parquet('{logs.training}')")[0] >= 1000


def test_knobs(plan, tmp_path: Path) -> None:
    def run(name: str, **knobs: object):
        return simulate_logs(plan, tmp_path / name, scenario=Scenario(units=20_000, **knobs), seed=2)  # type: ignore[arg-type]

    srm = run("srm", candidate_pct=50, srm=0.2)
    assert 0.75 < srm.units["candidate"] / srm.units["baseline"] < 0.85
    slow = run("slow", candidate_pct=50, latency_shift=0.5)
    b, c = one(f"SELECT median(latency_ms) FILTER (arm = 'baseline'), median(latency_ms) FILTER (arm = 'candidate') "
               f"FROM read_parquet('{slow.predictions}')")
    assert 1.4 < c / b < 1.6
    stale = run("stale", candidate_pct=50, stale_s=7200)
    assert one(f"SELECT max(ts) FROM read_parquet('{stale.predictions}')")[0] < datetime(2026, 1, 5, 4, 0)
    shadow = run("shadow", shadow_pct=100, candidate_pct=0, shadow_disagreement=0.3)
    unserved, far = one(f"SELECT count(*) FILTER (NOT c.served), "
                        f"avg((abs(c.prediction - b.prediction) > 0.05)::INT) "
                        f"FROM read_parquet('{shadow.predictions}') c JOIN read_parquet('{shadow.predictions}') b "
                        f"USING (request_id) WHERE c.arm = 'candidate' AND b.arm = 'baseline'")
    assert unserved > 30_000 and 0.2 < far < 0.35
    drift = run("drift", candidate_pct=50, drift=1.0)
    live, reference = one(f"SELECT avg(query_length) FROM read_parquet('{drift.predictions}')")[0], \
        one(f"SELECT avg(query_length) FROM read_parquet('{drift.training}')")[0]
    assert live - reference > 1.5
    harm = run("harm", candidate_pct=50, segment_effect=("platform", "ios", -0.5))
    rates = dict(duckdb.execute(
        f"WITH u AS (SELECT user_id, any_value(arm) AS arm, any_value(platform) AS platform "
        f"FROM read_parquet('{harm.predictions}') GROUP BY user_id), "
        f"o AS (SELECT DISTINCT user_id FROM read_parquet('{harm.outcomes}') WHERE event = 'purchase') "
        f"SELECT arm || '/' || (platform = 'ios')::VARCHAR, avg((o.user_id IS NOT NULL)::INT) "
        f"FROM u LEFT JOIN o USING (user_id) GROUP BY 1").fetchall())
    assert rates["candidate/true"] < 0.7 * rates["baseline/true"]
    assert rates["candidate/false"] > 0.85 * rates["baseline/false"]


def test_stage_by_stage_appends_files_a_glob_reads_together(plan, tmp_path: Path) -> None:
    base = Scenario(units=2000)
    first = with_window(base, START, START + timedelta(hours=1), candidate_pct=0, shadow_pct=100)
    second = with_window(base, START + timedelta(hours=1), START + timedelta(hours=2), candidate_pct=1)
    simulate_stage(plan, tmp_path, scenario=first, seed=1, part="-shadow")
    simulate_stage(plan, tmp_path, scenario=second, seed=2, part="-canary", first_unit=2000)
    hours = duckdb.execute(f"SELECT hour(ts), count(DISTINCT user_id) "
                           f"FROM read_parquet('{tmp_path}/predictions*.parquet') "
                           f"WHERE served GROUP BY 1 ORDER BY 1").fetchall()
    assert [h for h, _ in hours] == [0, 1]
    assert one(f"SELECT count(*) FROM read_parquet('{tmp_path}/predictions-shadow.parquet') WHERE NOT served")[0] > 0


def test_named_scenarios_and_bad_knobs(plan, tmp_path: Path) -> None:
    assert scenario_named("segment-harm").segment_effect == ("platform", "ios", -0.4)
    assert scenario_named("harm", units=10).units == 10
    expected = "the segment effect names platform='tv'; simulated values are android, ios, web"
    with pytest.raises(UsageError, match=expected):
        simulate_logs(plan, tmp_path, scenario=Scenario(units=100, segment_effect=("platform", "tv", -0.1)), seed=1)
    with pytest.raises(UsageError, match="plan 'ranker-v42' has no stage 'nope'"):
        simulate_logs(plan, tmp_path, scenario=Scenario(units=100, stage="nope"), seed=1)


def test_any_plan_gets_its_metric_columns_events_and_segments(tmp_path: Path) -> None:
    # the fraud plan: merchant_category is a segment and a drift feature; approved, manual_review and
    # dispute exist in no other plan
    fraud = load_plan(REPO_PLAN.parent / "fraud-classifier.yaml")
    logs = simulate_logs(fraud, tmp_path, scenario=Scenario(units=3000, candidate_pct=20), seed=1)
    columns = dict(duckdb.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                  f"read_parquet('{logs.predictions}'))").fetchall())
    assert (columns["merchant_category"], columns["approved"]) == ("VARCHAR", "BOOLEAN")
    assert one(f"SELECT count(DISTINCT merchant_category) FROM read_parquet('{logs.predictions}')")[0] == 4
    events = {row[0] for row in duckdb.execute(
        f"SELECT DISTINCT event FROM read_parquet('{logs.outcomes}')").fetchall()}
    assert {"manual_review", "dispute", "purchase", "click"} == events
    assert logs.training is not None
    training = dict(duckdb.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                   f"read_parquet('{logs.training}'))").fetchall())
    assert training["merchant_category"] == "VARCHAR"
