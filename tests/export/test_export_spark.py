"""`rollout export` with `data.engine: spark`: the same rows as on DuckDB, streamed to a local file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from rollout_support import cli_in_process

from rollout_cli.sim.demo import DemoSummary

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install 'rollout-cli[spark]' (scripts/test does)")
pytest.importorskip("sqlglot", reason="sqlglot is not installed: pip install 'rollout-cli[spark]' (scripts/test does)")

SPARK = {"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "2", "spark.sql.adaptive.enabled": "false",
                                        "spark.sql.codegen.wholeStage": "false"}}


def _rows(path: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect() as con:
        return sorted(con.execute(f"SELECT * FROM '{path}'").fetchall(), key=repr)


@pytest.mark.slow
@pytest.mark.parametrize("per", ["unit", "request"])
def test_a_spark_export_holds_the_rows_of_the_duckdb_export(per: str, demo: DemoSummary, tmp_path: Path,
                                                            capsys: Any) -> None:
    document = yaml.safe_load(demo.plan_path.read_text())
    document["data"] = {**document["data"], "engine": "spark", "spark": SPARK}
    spark_plan = tmp_path / "plan-spark.yaml"
    spark_plan.write_text(yaml.safe_dump(document))
    state = str(demo.directory / ".rollout")
    outs = {}
    for name, plan in (("duckdb", demo.plan_path), ("spark", spark_plan)):
        outs[name] = tmp_path / f"{name}-{per}.parquet"
        done = cli_in_process(["export", str(plan), "--state-dir", state, "--out", str(outs[name]), "--per", per,
                               "--stage", "ramp-25"], capsys)
        assert done.returncode == 0, done.stderr
    duck, spark = _rows(outs["duckdb"]), _rows(outs["spark"])
    assert len(duck) > 1000 and duck == spark
    dictionaries = [outs[name].with_name(f"{outs[name].stem}.dictionary.csv").read_text() for name in outs]
    assert dictionaries[0].splitlines()[0] == dictionaries[1].splitlines()[0]
