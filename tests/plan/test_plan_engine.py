"""`data.engine` and `data.spark` (docs/spark.md): checked offline, secrets only by reference."""

from __future__ import annotations

import subprocess
import sys

import yaml
from plan_paths import GOOD, ROOT

from rollout_cli.plan.build import build_plan
from rollout_cli.plan.load import load_plan_text
from rollout_cli.plan.validate import validate_document

MINIMAL = yaml.safe_load((GOOD / "minimal.yaml").read_text())


def problems(data: dict) -> list[str]:
    doc = load_plan_text(yaml.safe_dump({**MINIMAL, "data": data}, sort_keys=False), "p.yaml")
    return [f"{p.path}: {p.message}" for p in validate_document(doc)]


def test_a_spark_plan_with_a_master_paths_and_catalog_tables_builds() -> None:
    data = {"engine": "spark", "predictions": "s3a://lake/predictions/*.parquet",
            "spark": {"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": 8},
                      "tables": {"outcomes": "lake.serving.outcomes"}}}
    assert problems(data) == []
    plan = build_plan(load_plan_text(yaml.safe_dump({**MINIMAL, "data": data}), "p.yaml"))
    assert plan.data.engine == "spark" and plan.data.spark is not None
    assert plan.data.spark.master == "local[2]" and dict(plan.data.spark.conf) == {"spark.sql.shuffle.partitions": "8"}
    assert plan.data.predictions.glob == "s3a://lake/predictions/*.parquet"
    assert plan.data.outcomes is not None and plan.data.outcomes.catalog_table == "lake.serving.outcomes"
    assert build_plan(load_plan_text(yaml.safe_dump(MINIMAL), "p.yaml")).data.engine == "duckdb"  # the default


def test_a_catalog_table_may_stand_for_the_predictions() -> None:
    data = {"engine": "spark", "spark": {"connect": "sc://spark.internal:15002",
                                         "tables": {"predictions": "main.serving.predictions"}}}
    assert problems(data) == []
    assert problems({}) == ["$.data: data.predictions is required (or data.spark.tables.predictions with engine: spark)"]
    assert problems({"engine": "spark", "spark": {"master": "yarn"}}) == [
        "$.data: data.predictions is required (or data.spark.tables.predictions with engine: spark)"]


def test_the_engine_options_are_checked() -> None:
    base = {"predictions": "p.parquet"}
    assert problems({**base, "engine": "spark"}) == [
        "$.data: engine: spark needs data.spark with a `connect` endpoint (sc://host:15002) or a `master`"]
    assert problems({**base, "engine": "spark", "spark": {"master": "local[2]", "connect": "sc://h:15002"}}) == [
        "$.data.spark: data.spark needs exactly one of `connect` (a Spark Connect endpoint, sc://host:15002) or "
        "`master` (local[2], yarn, spark://host:7077)"]
    assert problems({**base, "spark": {"master": "local[2]"}}) == [
        "$.data.spark: data.spark is set but data.engine is not spark; add `engine: spark` or remove data.spark"]
    assert any("Spark cannot read a DuckDB database file" in p for p in problems(
        {"engine": "spark", "predictions": {"database": "logs.duckdb", "table": "p"}, "spark": {"master": "yarn"}}))
    assert any("both name the predictions" in p for p in problems(
        {**base, "engine": "spark", "spark": {"master": "yarn", "tables": {"predictions": "a.b.c"}}}))
    assert any("engine" in p for p in problems({**base, "engine": "bigquery"}))
    assert any("connect" in p for p in problems({**base, "engine": "spark", "spark": {"connect": "http://h:15002"}}))
    # a URL source is refused on DuckDB (rollout reads local files) but is Spark's to open
    assert any("is a URL" in p for p in problems({"predictions": "s3a://lake/p/*.parquet"}))


def test_spark_credentials_only_by_reference() -> None:
    base = {"predictions": "p.parquet", "engine": "spark"}
    inline = problems({**base, "spark": {"connect": "sc://h:15002/;token=abcdef123;user_id=ci",
                                         "conf": {"spark.hadoop.fs.s3a.secret.key": "AKIAxyz"}}})
    assert inline == [
        "$.data.spark.connect: the endpoint's parameter 'token' looks like a secret written inline; plans hold "
        "secrets only by reference, e.g. ${env:SPARK_TOKEN}",
        "$.data.spark.conf.spark.hadoop.fs.s3a.secret.key: configuration 'spark.hadoop.fs.s3a.secret.key' looks "
        "like a secret written inline; plans hold secrets only by reference, e.g. ${env:NAME}"]
    assert not any("abcdef123" in p or "AKIAxyz" in p for p in inline)  # never quoted back
    assert problems({**base, "spark": {"connect": "sc://h:15002/;token=${env:SPARK_TOKEN}",
                                       "conf": {"spark.hadoop.fs.s3a.secret.key": "${env:S3_SECRET}"}}}) == []


def test_validating_a_spark_plan_starts_no_spark_and_imports_neither_pyspark_nor_sqlglot(tmp_path) -> None:
    plan = {**MINIMAL, "data": {"predictions": "p.parquet", "engine": "spark",
                                "spark": {"connect": "sc://192.0.2.1:15002/;token=${env:SPARK_TOKEN}"}}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(plan))
    code = ("import sys; from rollout_cli.plan import load_plan; load_plan(sys.argv[1]); "
            "print([m for m in ('pyspark', 'sqlglot', 'py4j', 'duckdb', 'socket') if m in sys.modules and m != 'socket'])")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p.yaml")], cwd=ROOT, capture_output=True,
                          text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
