"""Broken logs and windows that are too short: a clear message or inconclusive, never a pass."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from evaluate_helpers import simulate, write_plan

from rollout_cli.errors import DataError
from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.stats.outcome import Outcome

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
END = START + timedelta(hours=6)
ERRORS_ONLY = [{"metric": "error_rate", "max": "0.5%"}]


def rewrite(path: Path, select: str) -> None:
    """Replace a parquet file by `select` over its own rows (`logs` in the statement)."""
    copy = path.with_suffix(".tmp.parquet")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW logs AS SELECT * FROM read_parquet('{path}')")
    con.execute(f"COPY ({select}) TO '{copy}' (FORMAT parquet)")
    con.close()
    copy.replace(path)


def test_rows_without_a_unit_are_left_out_and_hold_the_stage(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ERRORS_ONLY)
    logs = simulate(plan, tmp_path, units=20_000, candidate_pct=50)
    healthy = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert healthy.verdict is Outcome.PASS and healthy.rows_without_unit is None
    # one answer in ten loses its user: grouped together they would be one giant unit
    rewrite(logs.predictions, "SELECT * REPLACE (CASE WHEN hash(request_id) % 10 = 0 THEN NULL "
                              "ELSE user_id END AS user_id) FROM logs")
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert evaluation.verdict is Outcome.INCONCLUSIVE
    missing = evaluation.rows_without_unit
    assert 0.08 < missing.share < 0.12
    assert any(r.startswith(f"{missing.rows} of ") and r.endswith(
        f"prediction rows in the window ({100 * missing.share:.2g}%) have no unit (column 'user_id' is null; "
        "tolerated: 1%)") for r in evaluation.reasons), evaluation.reasons
    known = duckdb.execute(f"SELECT count(DISTINCT user_id) FROM read_parquet('{logs.predictions}') "
                           "WHERE served").fetchall()[0][0]  # all of it: the shared connection is left idle
    assert sum(evaluation.units.values()) == known  # no unit made of nulls


def test_a_few_rows_without_a_unit_are_tolerated_and_reported(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ERRORS_ONLY)
    logs = simulate(plan, tmp_path, units=20_000, candidate_pct=50)
    rewrite(logs.predictions, "SELECT * REPLACE (CASE WHEN hash(request_id) % 500 = 0 THEN NULL "
                              "ELSE user_id END AS user_id) FROM logs")
    evaluation = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert evaluation.verdict is Outcome.PASS, evaluation.reasons
    assert 0 < evaluation.rows_without_unit.rows < 200


def test_a_csv_with_a_header_only_is_empty_not_mistyped(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "p.csv").write_text("request_id,ts,user_id,arm,served,prediction,latency_ms,error\n")
    (tmp_path / "logs" / "o.csv").write_text("user_id,ts,event,value\n")
    plan = write_plan(tmp_path, predictions=str(tmp_path / "logs" / "p.csv"),
                      outcomes=str(tmp_path / "logs" / "o.csv"))
    with pytest.raises(DataError, match=r"^predictions \(.*p\.csv\) has no rows$"):
        evaluate_stage(plan, plan.stage("canary"), now=END)


def test_a_window_shorter_than_min_duration_never_passes(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, guards=ERRORS_ONLY, canary="{name: canary, traffic: 50%, min_duration: 2h}")
    simulate(plan, tmp_path, units=20_000, candidate_pct=50)
    whole = evaluate_stage(plan, plan.stage("canary"), now=END)
    assert whole.verdict is Outcome.PASS, whole.reasons
    short = evaluate_stage(plan, plan.stage("canary"), since=END - timedelta(minutes=30), now=END)
    assert short.verdict is Outcome.INCONCLUSIVE
    assert "the window covers 30m of the stage's min_duration 2h" in short.reasons


def _table_plan(tmp_path: Path, database: Path, table: str) -> object:
    source = {"database": str(database), "table": table}
    return write_plan(tmp_path, predictions=source, outcomes=source)


def test_a_file_that_is_not_a_duckdb_database_is_refused_as_such(tmp_path: Path) -> None:
    lite = tmp_path / "logs.sqlite"
    with sqlite3.connect(lite) as con:  # DuckDB would hand this to its sqlite extension
        con.execute("CREATE TABLE predictions (a INTEGER)")
    plan = _table_plan(tmp_path, lite, "predictions")
    with pytest.raises(DataError, match="exists, but it is not a valid DuckDB database file"):
        evaluate_stage(plan, plan.stage("canary"), now=END)
    plan = _table_plan(tmp_path, tmp_path / "logs", "predictions")
    with pytest.raises(DataError, match=r"database '.*logs' is a directory, not a DuckDB database file"):
        evaluate_stage(plan, plan.stage("canary"), now=END)


def test_a_missing_table_lists_the_tables_with_their_schemas(tmp_path: Path) -> None:
    database = tmp_path / "logs.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("CREATE TABLE predictions (a INTEGER); CREATE SCHEMA raw; CREATE TABLE raw.answers (a INTEGER)")
    plan = _table_plan(tmp_path, database, "nope")
    with pytest.raises(DataError, match=r"the predictions table 'nope' is not in '.*' "
                                        r"\(tables: predictions, raw\.answers\)$"):
        evaluate_stage(plan, plan.stage("canary"), now=END)


@pytest.mark.parametrize("values, shown", [
    # 10% 1 and 10% -1 among the candidate's answers: read as true, -1 made the error rate look small
    ("CASE WHEN arm = 'candidate' AND hash(request_id) % 10 = 0 THEN 1 "
     "WHEN arm = 'candidate' AND hash(request_id) % 10 = 1 THEN -1 ELSE 0 END", "(-1)"),
    ("2", "(2)"),  # an error rate of 200%: a rollback on a broken log
    ("CASE WHEN error THEN 0.5 ELSE 0 END", "(0.5)"),
])
def test_a_numeric_flag_holding_other_values_than_0_and_1_is_refused(tmp_path: Path, values: str, shown: str) -> None:
    plan = write_plan(tmp_path, guards=ERRORS_ONLY)
    logs = simulate(plan, tmp_path, units=20_000, candidate_pct=50)
    rewrite(logs.predictions, "SELECT * REPLACE (CAST(error AS INTEGER) AS error) FROM logs")
    as_numbers = evaluate_stage(plan, plan.stage("canary"), now=END)  # 0 and 1 are false and true
    assert as_numbers.verdict is Outcome.PASS, as_numbers.reasons
    rewrite(logs.predictions, f"SELECT * REPLACE ({values} AS error) FROM logs")
    with pytest.raises(DataError) as caught:
        evaluate_stage(plan, plan.stage("canary"), now=END)
    message = caught.value.message
    glob = logs.predictions.parent / "predictions*.parquet"
    assert message.startswith(f"column 'error' in predictions ({glob}) is a true/false column but "), message
    assert f"hold other values than 0 and 1 {shown}, in {logs.predictions}" in message, message


@pytest.mark.parametrize("guards", [ERRORS_ONLY, [{"metric": "conversion", "max_drop": "2%"}]],
                         ids=["no guard on outcomes", "a guard on outcomes"])
@pytest.mark.parametrize("full", [True, False], ids=["full", "cached"])
def test_outcomes_without_the_unit_column_are_named(tmp_path: Path, guards: list[dict[str, str]], full: bool) -> None:
    plan = write_plan(tmp_path, guards=guards)
    logs = simulate(plan, tmp_path, units=2_000, candidate_pct=50)
    rewrite(logs.outcomes, "SELECT * EXCLUDE (user_id) FROM logs")
    with pytest.raises(DataError, match=r"^column 'user_id' \(role unit_id\) is missing from outcomes \(.*outcomes\*"
                                        r"\.parquet\); its columns are: event, request_id, ts, value$"):
        evaluate_stage(plan, plan.stage("canary"), now=END, cache_dir=tmp_path / "state", full=full)


@pytest.mark.parametrize("started", [False, True], ids=["ad hoc", "a rollout running"])
def test_an_until_after_now_counts_no_time_that_has_not_come(tmp_path: Path, started: bool) -> None:
    """20 minutes of logs for a canary of min_duration 1h: a window said to end in 2030 ends now."""
    plan = write_plan(tmp_path, guards=ERRORS_ONLY, canary="{name: canary, traffic: 50%, min_duration: 1h}")
    simulate(plan, tmp_path, units=20_000, candidate_pct=50, duration_s=20 * 60)
    now = START + timedelta(minutes=20)
    stage_started = START if started else None
    for until in (None, datetime(2030, 1, 1, tzinfo=UTC)):
        evaluation = evaluate_stage(plan, plan.stage("canary"), until=until, now=now, stage_started=stage_started)
        assert evaluation.verdict is Outcome.INCONCLUSIVE, evaluation.reasons
        assert evaluation.until == now and evaluation.duration_s <= 20 * 60
        expected = "the stage has run 20m of its min_duration 1h" if started else \
            "the window covers 20m of the stage's min_duration 1h"
        assert expected in evaluation.reasons, evaluation.reasons
