"""Bad input on Spark: an unreachable endpoint, a missing path or table, a mistyped column —
one clear message, exit 2 from `evaluate`, never a pass."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rollout_support import cli_in_process
from spark_helpers import on_spark, write_plans

from rollout_cli.errors import DataError
from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.plan.model import DataSource, SparkSpec
from rollout_cli.sim.logs import scenario_named, simulate_logs


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens there


def test_an_unreachable_spark_connect_endpoint_is_said_at_once(tmp_path: Path, capsys: Any) -> None:
    write_plans(tmp_path)
    port = _closed_port()
    text = (tmp_path / "plan-spark.yaml").read_text().replace("master: local[2]", f"connect: sc://127.0.0.1:{port}")
    (tmp_path / "plan-spark.yaml").write_text(text)
    done = cli_in_process(["evaluate", str(tmp_path / "plan-spark.yaml"), "--stage", "canary"], capsys)
    assert done.returncode == 2
    assert f"cannot reach the Spark Connect endpoint sc://127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.slow
def test_a_missing_path_a_missing_table_and_a_mistyped_column(tmp_path: Path, spark: Any) -> None:
    plan, _ = write_plans(tmp_path)
    logs = simulate_logs(plan, tmp_path / "logs", scenario=scenario_named("healthy", units=300), seed=1)
    stage = plan.stage("canary")
    spark_plan = on_spark(plan)
    nowhere = dataclasses.replace(spark_plan, data=dataclasses.replace(
        spark_plan.data, predictions=DataSource(glob=str(tmp_path / "nope" / "*.parquet"))))
    with pytest.raises(DataError, match=r"no predictions files match '.*nope/\*\.parquet'"):
        evaluate_stage(nowhere, stage, until=logs.end, now=logs.end)
    no_table = dataclasses.replace(spark_plan, data=dataclasses.replace(
        spark_plan.data, outcomes=DataSource(catalog_table="serving.outcomes")))
    with pytest.raises(DataError, match="the outcomes table 'serving.outcomes' is not in Spark's catalog"):
        evaluate_stage(no_table, stage, until=logs.end, now=logs.end)
    elsewhere = dataclasses.replace(spark_plan, data=dataclasses.replace(
        spark_plan.data, outcomes=DataSource(catalog_table="lake.serving.outcomes")))
    with pytest.raises(DataError, match="the outcomes table 'lake.serving.outcomes' is not in Spark's catalog"):
        evaluate_stage(elsewhere, stage, until=logs.end, now=logs.end)
    table = pq.read_table(logs.predictions)
    column = table.schema.get_field_index("latency_ms")
    text = table.set_column(column, "latency_ms", pa.array([str(v) for v in table.column("latency_ms").to_pylist()]))
    pq.write_table(text, tmp_path / "text.parquet")
    mistyped = dataclasses.replace(spark_plan, data=dataclasses.replace(
        spark_plan.data, predictions=DataSource(glob=str(tmp_path / "text.parquet"))))
    with pytest.raises(DataError, match=r"column 'latency_ms' \(column of metric latency_p99\) in predictions "
                                        r"\(.*text\.parquet\) is VARCHAR; expected a number"):
        evaluate_stage(mistyped, stage, until=logs.end, now=logs.end)


def test_spark_credentials_are_resolved_from_the_environment_and_never_shown(tmp_path: Path, capsys: Any,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    write_plans(tmp_path)
    port = _closed_port()
    monkeypatch.setenv("SPARK_TOKEN", "tok-7f3a9c2e")
    text = (tmp_path / "plan-spark.yaml").read_text().replace(
        "master: local[2]", f"connect: 'sc://127.0.0.1:{port}/;token=${{env:SPARK_TOKEN}}'")
    (tmp_path / "plan-spark.yaml").write_text(text)
    done = cli_in_process(["evaluate", str(tmp_path / "plan-spark.yaml"), "--stage", "canary", "--json"], capsys)
    assert done.returncode == 2 and "cannot reach the Spark Connect endpoint" in done.stderr
    assert "tok-7f3a9c2e" not in done.stdout + done.stderr


def test_a_spark_spec_without_master_or_endpoint_starts_a_local_session_only_when_asked() -> None:
    assert SparkSpec().master is None and SparkSpec().connect is None  # the plan rules require one of them
