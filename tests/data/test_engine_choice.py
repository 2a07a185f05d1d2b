"""Choosing the engine: without the Spark extra, a plan naming `engine: spark` says what to install;
a catalog table on DuckDB says it needs Spark. Runs whether or not pyspark is installed."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from rollout_cli.data.source import open_logs
from rollout_cli.errors import DataError
from rollout_cli.plan.model import ROLES, DataSource, DataSpec, SparkSpec

SPEC = DataSpec(predictions=DataSource(glob="p.parquet"), outcomes=None, training=None,
                columns={role: role for role in ROLES})


@pytest.mark.parametrize("missing", ["pyspark", "sqlglot"])
def test_without_the_extra_a_spark_plan_says_what_to_install(missing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # `import` raises ImportError, as when not installed
    if missing == "pyspark":
        monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    spec = dataclasses.replace(SPEC, engine="spark", spark=SparkSpec(master="local[2]"))
    with pytest.raises(DataError) as raised:
        open_logs(spec)
    assert "pyspark or sqlglot is not installed" in raised.value.message
    assert "pip install 'rollout-cli[spark]'" in str(raised.value.hint)


def test_a_catalog_table_on_duckdb_says_it_needs_spark(tmp_path: Path) -> None:
    spec = dataclasses.replace(SPEC, predictions=DataSource(catalog_table="lake.serving.predictions"))
    with pytest.raises(DataError, match="the predictions source is the catalog table lake.serving.predictions, "
                                        "which only Spark reads"):
        open_logs(spec)


def test_the_shadow_comparison_on_spark_without_the_extra_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`rollout shadow` runs on the plan's engine (docs/spark.md): on Spark it needs the extra too."""
    import yaml

    from rollout_cli.plan.build import build_plan
    from rollout_cli.plan.load import load_plan_text
    from rollout_cli.shadow import compare_shadow

    root = Path(__file__).resolve().parents[1]
    document = yaml.safe_load((root / "plans" / "good" / "minimal.yaml").read_text())
    document["data"] = {**document["data"], "engine": "spark", "spark": {"master": "local[2]"}}
    plan = build_plan(load_plan_text(yaml.safe_dump(document), "p.yaml"))
    monkeypatch.setitem(sys.modules, "sqlglot", None)
    with pytest.raises(DataError) as raised:
        compare_shadow(plan)
    assert "pyspark or sqlglot is not installed" in raised.value.message
    assert "pip install 'rollout-cli[spark]'" in str(raised.value.hint)
