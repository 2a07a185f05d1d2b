"""Rules of the `data` section the schema cannot express: the engine and its options (docs/spark.md).

Nothing here starts Spark or opens a connection: `plan validate` stays offline and fast.
"""

from __future__ import annotations

import re

from rollout_cli.plan.rules_common import RuleContext, as_mapping
from rollout_cli.plan.rules_secrets import SECRET_KEY

_ROLES = ("predictions", "outcomes", "training")
# Spark Connect takes its parameters after `/;`: sc://host:15002/;token=…;user_id=…
_CONNECT_PARAM = re.compile(r";([^=;/]+)=([^;]*)")


def rule_engine(ctx: RuleContext) -> None:
    data = ctx.section("data")
    if not isinstance(ctx.root.get("data"), dict):
        return  # the schema reports a missing or malformed section
    spark = as_mapping(data.get("spark"))
    tables = as_mapping(spark.get("tables"))
    engine = data.get("engine", "duckdb")
    if "predictions" not in data and "predictions" not in tables:
        ctx.report("$.data", "data.predictions is required (or data.spark.tables.predictions with engine: spark)")
    if engine != "spark":
        if "spark" in data:
            ctx.report("$.data.spark", "data.spark is set but data.engine is not spark; add `engine: spark` "
                                       "or remove data.spark", key=True)
        return
    if "spark" not in data:
        ctx.report("$.data", "engine: spark needs data.spark with a `connect` endpoint (sc://host:15002) or a `master`")
        return
    if ("connect" in spark) == ("master" in spark):
        ctx.report("$.data.spark", "data.spark needs exactly one of `connect` (a Spark Connect endpoint, "
                                   "sc://host:15002) or `master` (local[2], yarn, spark://host:7077)")
    for role in _ROLES:
        if role in tables and role in data:
            ctx.report(f"$.data.{role}", f"data.{role} and data.spark.tables.{role} both name the {role}; keep one",
                       key=True)
        if isinstance(data.get(role), dict):
            ctx.report(f"$.data.{role}", f"Spark cannot read a DuckDB database file; give data.{role} as a path "
                                         f"or name a catalog table in data.spark.tables.{role}")
    _spark_secrets(ctx, spark)


def _spark_secrets(ctx: RuleContext, spark: dict[str, object]) -> None:
    """Credentials in Spark's options only by `${env:NAME}` (docs/plan.md#secrets)."""
    connect = spark.get("connect")
    if isinstance(connect, str):
        for key, value in _CONNECT_PARAM.findall(connect):
            if SECRET_KEY.search(key) and value and "${" not in value:
                ctx.report("$.data.spark.connect", f"the endpoint's parameter {key!r} looks like a secret written "
                                                   "inline; plans hold secrets only by reference, e.g. ${env:SPARK_TOKEN}")
    for key, value in as_mapping(spark.get("conf")).items():
        if SECRET_KEY.search(str(key)) and isinstance(value, str) and value and "${" not in value:
            ctx.report(f"$.data.spark.conf.{key}", f"configuration {key!r} looks like a secret written inline; "
                                                   "plans hold secrets only by reference, e.g. ${env:NAME}")
