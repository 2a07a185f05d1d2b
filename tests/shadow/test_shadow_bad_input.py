"""Logs that would be compared on the wrong pairs are refused with the column and the file named."""

from __future__ import annotations

import os
import subprocess
import sys
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
