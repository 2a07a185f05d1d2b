"""Bad input is a clear DataError naming the column or file — never a traceback, never a pass."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from data_helpers import PREDICTIONS, plan_with, write_logs

from rollout_cli.errors import DataError, ExitCode
from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.plan.model import DataSource

NOW = datetime(2026, 1, 5, 12, 0)
PRED_COLUMNS = "request_id, ts, user_id, arm, served, prediction, latency_ms, error, country, platform"


def evaluate(plan, stage="canary"):
    return evaluate_stage(plan, plan.stage(stage), now=NOW)


def error_of(plan, stage="canary") -> str:
    with pytest.raises(DataError) as caught:
        evaluate(plan, stage)
    assert caught.value.exit_code == ExitCode.USAGE
    return caught.value.message


def test_a_missing_role_column_names_the_role_the_column_and_the_file(tmp_path: Path) -> None:
    preds, outs = write_logs(tmp_path / "logs", "parquet")
    plan = plan_with(tmp_path, preds, outs, columns="{unit_id: customer}")
    assert error_of(plan) == (f"column 'customer' (role unit_id) is missing from predictions ({preds}); "
                              f"its columns are: {', '.join(sorted(PRED_COLUMNS.split(', ')))}")


def test_a_missing_segment_column_is_named(tmp_path: Path) -> None:
    preds, outs = write_logs(tmp_path / "logs", "parquet")
    plan = plan_with(tmp_path, preds, outs, segments="[country, region]")
    assert error_of(plan).startswith(f"column 'region' (segment) is missing from predictions ({preds}); ")


@pytest.mark.parametrize(("column", "kind", "expected"), [
    ("latency_ms", "VARCHAR", "column 'latency_ms' (column of metric latency_p99) in predictions ({}) is VARCHAR; "
                              "expected a number"),
    ("ts", "VARCHAR", "column 'ts' (role ts) in predictions ({}) is VARCHAR; expected a timestamp"),
    ("served", "VARCHAR", "column 'served' (role served) in predictions ({}) is VARCHAR; expected a boolean"),
])
def test_a_mistyped_column_is_an_error_with_the_types(tmp_path: Path, column: str, kind: str, expected: str) -> None:
    rows = [tuple(str(v) if i == PRED_COLUMNS.split(", ").index(column) else v for i, v in enumerate(r))
            for r in PREDICTIONS]
    preds, outs = write_logs(tmp_path / "logs", "parquet", predictions=rows, pred_types={column: kind})
    plan = plan_with(tmp_path, preds, outs)
    assert error_of(plan) == expected.format(preds)


def test_a_glob_that_matches_nothing(tmp_path: Path) -> None:
    _, outs = write_logs(tmp_path / "logs", "parquet")
    missing = str(tmp_path / "nowhere" / "*.parquet")
    plan = plan_with(tmp_path, missing, outs)
    assert error_of(plan) == f"no predictions files match '{missing}'"


def test_an_empty_predictions_source(tmp_path: Path) -> None:
    preds, outs = write_logs(tmp_path / "logs", "parquet", predictions=[])
    assert error_of(plan_with(tmp_path, preds, outs)) == f"predictions ({preds}) has no rows"


def test_an_empty_outcomes_source_when_outcome_metrics_are_guarded(tmp_path: Path) -> None:
    preds, outs = write_logs(tmp_path / "logs", "parquet", outcomes=[])
    assert error_of(plan_with(tmp_path, preds, outs)) == f"outcomes ({outs}) has no rows"


def test_an_unreadable_file(tmp_path: Path) -> None:
    _, outs = write_logs(tmp_path / "logs", "parquet")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"this is not parquet at all" * 10)
    message = error_of(plan_with(tmp_path, str(broken), outs))
    assert message.startswith(f"cannot read predictions ({broken}): ")


def test_an_unknown_extension(tmp_path: Path) -> None:
    _, outs = write_logs(tmp_path / "logs", "parquet")
    assert error_of(plan_with(tmp_path, str(tmp_path / "logs.xlsx"), outs)).startswith(
        f"cannot tell the format of '{tmp_path / 'logs.xlsx'}' from its extension (known: ")


def test_a_database_table_that_does_not_exist(tmp_path: Path) -> None:
    preds, outs = write_logs(tmp_path / "logs", "duckdb")
    database = tmp_path / "logs" / "logs.duckdb"
    plan = plan_with(tmp_path, {"database": str(database), "table": "nope"}, outs)
    assert error_of(plan) == f"the predictions table 'nope' is not in '{database}' (tables: outcomes, predictions)"


def test_a_database_file_that_does_not_exist(tmp_path: Path) -> None:
    _, outs = write_logs(tmp_path / "logs", "parquet")
    plan = plan_with(tmp_path, {"database": str(tmp_path / "none.duckdb"), "table": "t"}, outs)
    assert error_of(plan) == f"the predictions database '{tmp_path / 'none.duckdb'}' does not exist"


def test_a_database_is_read_only_and_left_untouched(tmp_path: Path) -> None:
    preds, outs = write_logs(tmp_path / "logs", "duckdb")
    database = tmp_path / "logs" / "logs.duckdb"
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    evaluation = evaluate(plan_with(tmp_path, preds, outs))
    assert evaluation.units == {"baseline": 2, "candidate": 2}  # all data: u4 is in the window too
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_injection_in_a_column_mapping_is_just_a_missing_column(tmp_path: Path) -> None:
    preds, outs = write_logs(tmp_path / "logs", "parquet")
    hostile = 'user_id\\" FROM predictions; DROP TABLE x; --'
    plan = plan_with(tmp_path, preds, outs, columns=f'{{unit_id: "{hostile}"}}')
    assert error_of(plan).startswith(
        f"column '{hostile.replace(chr(92), '')}' (role unit_id) is missing from predictions ({preds}); ")


def test_a_column_named_with_quotes_is_quoted_not_pasted(tmp_path: Path) -> None:
    con = duckdb.connect()
    originals = write_logs(tmp_path / "logs", "parquet")
    renamed = []
    for name, original in zip(("predictions", "outcomes"), originals):
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{original}')")
        con.execute(f'ALTER TABLE {name} RENAME user_id TO "we""ird id; --"')
        renamed.append(tmp_path / f"odd-{name}.parquet")
        con.execute(f"COPY {name} TO '{renamed[-1]}' (FORMAT parquet)")
    con.close()
    plan = plan_with(tmp_path, str(renamed[0]), str(renamed[1]), columns="{unit_id: 'we\"ird id; --'}")
    plan_units = evaluate(plan).crossover
    assert plan_units.units == 1  # it read the column: u2 is still the one unit served by both arms


def test_injection_in_a_glob_or_table_name_is_harmless(tmp_path: Path) -> None:
    preds, outs = write_logs(tmp_path / "logs", "duckdb")
    database = tmp_path / "logs" / "logs.duckdb"
    glob = str(tmp_path / "x.parquet') UNION SELECT 1; --.parquet")
    assert error_of(plan_with(tmp_path, f'"{glob}"', outs)) == f"no predictions files match '{glob}'"
    # the plan validator refuses such a table name; the data layer is safe on its own as well
    plan = plan_with(tmp_path, preds, outs)
    hostile = DataSource(database=str(database), table='predictions"; DROP TABLE outcomes; --')
    plan = replace(plan, data=replace(plan.data, predictions=hostile))
    message = error_of(plan)
    assert message.startswith("the predictions table 'predictions\"; DROP TABLE outcomes; --' is not in")
    con = duckdb.connect(str(database), read_only=True)
    assert con.execute("SELECT count(*) FROM outcomes").fetchone() == (7,)
    con.close()


def test_arm_values_other_than_baseline_and_candidate_hold_the_stage_with_a_reason(tmp_path: Path) -> None:
    rows = [(*r[:3], "ranker-v41" if r[3] == "baseline" else "ranker-v42", *r[4:]) for r in PREDICTIONS]
    plan = plan_with(tmp_path, *write_logs(tmp_path / "logs", "parquet", predictions=rows))
    evaluation = evaluate(plan)
    assert evaluation.verdict.value == "inconclusive"
    assert "the window has prediction rows but no answers of arm 'baseline' or 'candidate' (check the arm and " \
           "served columns)" in evaluation.reasons
