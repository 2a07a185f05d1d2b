"""Logs that would be compared on the wrong pairs are refused with the column and the file named."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from shadow_helpers import write_shadow_plan

from rollout_cli.errors import DataError
from rollout_cli.shadow import compare_shadow

ROWS = [  # request, unit, arm, served, prediction
    ("r1", "u1", "baseline", True, "0.2"), ("r1", "u1", "candidate", False, "0.21"),
    ("r2", "u2", "baseline", True, "0.7"), ("r2", "u2", "candidate", False, "0.69"),
]


def write_log(folder: Path, rows: list[tuple[str, str, str, bool, str]], *, numeric: bool = True) -> Path:
    path = folder / "predictions.parquet"
    con = duckdb.connect()
    pred_type = "DOUBLE" if numeric else "VARCHAR"
    con.execute(f"CREATE TABLE p (request_id VARCHAR, user_id VARCHAR, arm VARCHAR, served BOOLEAN, "
                f"prediction {pred_type}, ts TIMESTAMP, latency_ms DOUBLE, error BOOLEAN, country VARCHAR, "
                "platform VARCHAR)")
    for i, (rid, unit, arm, served, pred) in enumerate(rows):
        con.execute("INSERT INTO p VALUES (?, ?, ?, ?, ?, TIMESTAMP '2026-01-05 00:00:00' + to_seconds(?), 50, false,"
                    " 'US', 'ios')", [rid, unit, arm, served, pred, i])
    con.execute("COPY p TO ? (FORMAT parquet)", [str(path)])
    con.close()
    return path


def refused(folder: Path, rows: list, numeric: bool = True) -> str:
    plan = write_shadow_plan(folder, predictions=str(folder / "predictions.parquet"))
    write_log(folder, rows, numeric=numeric)
    with pytest.raises(DataError) as caught:
        compare_shadow(plan, until=None, now=None, examples=0)
    return caught.value.message


def test_a_candidate_that_never_answered(tmp_path: Path) -> None:
    message = refused(tmp_path, [r for r in ROWS if r[2] == "baseline"])
    assert message == (f"the candidate never answered: predictions ({tmp_path / 'predictions.parquet'}) has no unserved "
                       "candidate answers in the window (column 'arm' = 'candidate', 'served' false)")


def test_a_label_against_a_score(tmp_path: Path) -> None:
    rows = [(r, u, a, s, "cat" if a == "candidate" else p) for r, u, a, s, p in ROWS]
    message = refused(tmp_path, rows, numeric=False)
    assert message == (f"column 'prediction' in predictions ({tmp_path / 'predictions.parquet'}) holds scores "
                       "(numbers) for the baseline and labels (text) for the candidate: answers of different types "
                       "cannot be compared")


def test_repeated_request_ids(tmp_path: Path) -> None:
    message = refused(tmp_path, [*ROWS, ("r2", "u2", "candidate", False, "0.1")])
    assert message.startswith(f"column 'request_id' in predictions ({tmp_path / 'predictions.parquet'}) repeats "
                              "request ids: 0 baseline and 1 candidate requests have more than one answer (e.g. 'r2'")


@pytest.mark.parametrize(("extra", "counts"), [
    (("r2", "u2", "baseline", True, "0.7"), "1 baseline and 0 candidate"),  # an answered request, twice
    (("r3", "u3", "baseline", True, "0.5"), "1 baseline and 0 candidate"),  # an unanswered one, twice
])
def test_repeated_baseline_request_ids(tmp_path: Path, extra: tuple[str, str, str, bool, str], counts: str) -> None:
    rows = [*ROWS, ("r3", "u3", "baseline", True, "0.5"), extra]
    message = refused(tmp_path, rows)
    assert message.startswith(f"column 'request_id' in predictions ({tmp_path / 'predictions.parquet'}) repeats "
                              f"request ids: {counts} requests have more than one answer (e.g. '{extra[0]}'")


def test_both_arms_repeating_an_id_is_refused(tmp_path: Path) -> None:
    rows = [*ROWS, ("r1", "u1", "baseline", True, "0.2"), ("r1", "u1", "candidate", False, "0.21")]
    assert "repeats request ids: 2 baseline and 2 candidate requests" in refused(tmp_path, rows)


def test_served_candidate_rows_in_a_shadow_log(tmp_path: Path) -> None:
    message = refused(tmp_path, [*ROWS, ("r3", "u3", "candidate", True, "0.5")])
    assert message.startswith(f"predictions ({tmp_path / 'predictions.parquet'}) has 1 candidate answers with "
                              "'served' true in the window")


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    plan = write_shadow_plan(tmp_path, predictions=str(tmp_path / "predictions.parquet"),
                             columns="{unit_id: user_id, request_id: req}")
    write_log(tmp_path, ROWS)
    with pytest.raises(DataError, match=r"column 'req' \(role request_id\) is missing from predictions"):
        compare_shadow(plan, examples=0)


def test_the_command_says_so_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    write_shadow_plan(tmp_path, predictions=str(tmp_path / "predictions.parquet"))
    write_log(tmp_path, [r for r in ROWS if r[2] == "baseline"])
    env = {**os.environ, "ROLLOUT_NOW": "2026-01-05T06:00:00Z", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "rollout_cli", "shadow", "plan.yaml"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "error: the candidate never answered" in done.stderr and "Traceback" not in done.stderr
    assert "what to do: check that the router mirrors requests" in done.stderr


def test_requests_without_a_unit_are_left_out_and_answers_outside_the_window_ignored(tmp_path: Path) -> None:
    plan = write_shadow_plan(tmp_path, predictions=str(tmp_path / "predictions.parquet"))
    # r3 has no unit; r9's baseline answer lies before the window, so its candidate answer pairs with nothing
    write_log(tmp_path, [("r9", "u9", "baseline", True, "0.5"), ("r9", "u9", "candidate", False, "0.5"), *ROWS,
                         ("r3", None, "baseline", True, "0.5"), ("r3", None, "candidate", False, "0.9")])
    result = compare_shadow(plan, since=datetime(2026, 1, 5, 0, 0, 0, 500000), examples=0)
    assert (result.coverage.baseline_requests, result.coverage.paired, result.agreement.count) == (2, 2, 2)


def test_a_numeric_error_column_holding_other_values_than_0_and_1_is_refused(tmp_path: Path) -> None:
    plan = write_shadow_plan(tmp_path, predictions=str(tmp_path / "predictions.parquet"))
    path = write_log(tmp_path, ROWS)
    con = duckdb.connect()  # errors as numbers: 0 and 1 compare; the candidate's 2 is no true/false value
    con.execute(f"COPY (SELECT * REPLACE (CASE WHEN arm = 'candidate' AND request_id = 'r2' THEN 2 ELSE 0 END AS error) "
                f"FROM read_parquet('{path}')) TO '{tmp_path / 'odd.parquet'}' (FORMAT parquet)")
    con.close()
    (tmp_path / "odd.parquet").replace(path)
    with pytest.raises(DataError) as caught:
        compare_shadow(plan, until=None, now=None, examples=0)
    assert caught.value.message == (f"column 'error' in predictions ({path}) is a true/false column but 1 rows of the "
                                    f"window hold other values than 0 and 1 (2), in {path}")
