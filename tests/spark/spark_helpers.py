"""Plans on both engines over the same simulated logs, and a comparison of their results."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from evaluate.evaluate_helpers import plan_document

from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml
from rollout_cli.plan.model import Plan, SparkSpec

# Small data on 2 cores: a few shuffle partitions, no adaptive re-planning, no code generation
# (compiling the statement's generated code costs more than running it on a few thousand rows;
# `factoryMode` keeps even single expressions interpreted — Spark's own switch for its tests, the
# same results by design, which the parity tests then confirm once more).
TEST_CONF = {"spark.sql.shuffle.partitions": "2", "spark.sql.adaptive.enabled": "false",
             "spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN",
             "spark.driver.memory": "1g"}
TEST_SPARK = SparkSpec(master="local[2]", conf=TEST_CONF)


def write_plans(root: Path, **options: Any) -> tuple[Plan, Plan]:
    """The evaluator's test plan as written (DuckDB) and with `engine: spark` over the same files."""
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    document = plan_document(logs, **options)
    (root / "plan.yaml").write_text(plan_yaml(document))
    spark_doc = {**document, "data": {**document["data"], "engine": "spark",
                                      "spark": {"master": "local[2]", "conf": TEST_CONF}}}
    (root / "plan-spark.yaml").write_text(plan_yaml(spark_doc))
    return load_plan(root / "plan.yaml"), load_plan(root / "plan-spark.yaml")


def on_spark(plan: Plan) -> Plan:
    return dataclasses.replace(plan, data=dataclasses.replace(plan.data, engine="spark", spark=TEST_SPARK))


def assert_same(duck: Any, spark: Any, where: str = "") -> None:
    """Equal, floats to 1e-9 relative (sums are added in another order); everything else exactly."""
    if dataclasses.is_dataclass(duck) and not isinstance(duck, type):
        assert type(duck) is type(spark), where
        for f in dataclasses.fields(duck):
            assert_same(getattr(duck, f.name), getattr(spark, f.name), f"{where}.{f.name}")
    elif isinstance(duck, dict):
        assert duck.keys() == spark.keys(), where
        for key in duck:
            assert_same(duck[key], spark[key], f"{where}[{key!r}]")
    elif isinstance(duck, list | tuple):
        assert len(duck) == len(spark), where
        for i, (a, b) in enumerate(zip(duck, spark)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(duck, float) and isinstance(spark, float):
        assert math.isclose(duck, spark, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(duck) and math.isnan(spark)), \
            f"{where}: {duck} != {spark}"
    else:
        assert duck == spark, f"{where}: {duck!r} != {spark!r}"


def differences(duck: Any, on: Any, where: str = "") -> list[str]:
    """Where Spark's JSON document differs from DuckDB's: counts, texts (reasons quoting p-values
    included) and order exactly, floats to a relative 1e-9 (sums are added in another order). The
    figures resting on a hash of the unit id — unit counts, random groups, intervals, p-values — are
    compared the same way: both engines hash with DuckDB's own hash (data/stable_hash.py)."""
    if isinstance(duck, dict) and isinstance(on, dict):
        if duck.keys() != on.keys():
            return [f"{where}: keys {sorted(on)} != {sorted(duck)}"]
        return [d for k in duck for d in differences(duck[k], on[k], f"{where}.{k}")]
    if isinstance(duck, list) and isinstance(on, list):
        if len(duck) != len(on):
            return [f"{where}: {len(on)} items != {len(duck)}"]
        return [d for i, (a, b) in enumerate(zip(duck, on)) for d in differences(a, b, f"{where}[{i}]")]
    if isinstance(duck, float) and isinstance(on, float):
        return [] if math.isclose(duck, on, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(duck) and math.isnan(on)) \
            else [f"{where}: {on} != {duck}"]
    return [] if duck == on and type(duck) is type(on) else [f"{where}: {on!r} != {duck!r}"]
