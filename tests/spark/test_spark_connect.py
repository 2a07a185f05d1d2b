"""A real Spark Connect server (tests/spark/connect_server.py): `rollout evaluate` and `rollout shadow`
with `data.spark.connect: sc://127.0.0.1:PORT`, as real processes, give the verdict and the
figures DuckDB gives on the same small, fixed logs (the shadow comparison's `stable_hash` runs in
the server's Python workers).

The commands run as processes of their own: a Python process holds either a local Spark session
or a Spark Connect client, never both (pyspark refuses the second), and the suite's other Spark
tests share one local session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("grpc", reason="Spark Connect's client is not installed: pip install 'rollout-cli[spark]'")

from connect_server import connect_server
from rollout_support import cli
from shadow.shadow_helpers import write_shadow_plan
from spark_helpers import assert_same, differences, write_plans

from rollout_cli.sim.logs import scenario_named, simulate_logs
from rollout_cli.sim.shadow_logs import shadow_scenario, simulate_shadow

TIMEOUT_S = 300.0  # a cold server compiles each statement's plan the first time, on 2 busy cores


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with connect_server(tmp_path_factory.mktemp("connect") / "server.log") as url:
        yield url


def _on_connect(plan_file: Path, url: str) -> Path:
    document = yaml.safe_load(plan_file.read_text())
    document["data"] = {**document["data"], "engine": "spark", "spark": {"connect": url}}
    out = plan_file.with_name("plan-connect.yaml")
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    return out


def _both(folder: Path, plan_file: Path, url: str, args: list[str], now: str) -> tuple[dict[str, Any], dict[str, Any]]:
    env = {"ROLLOUT_NOW": now}
    duck = cli([args[0], str(plan_file), *args[1:], "--json"], cwd=folder, env=env, timeout=TIMEOUT_S)
    on = cli([args[0], str(_on_connect(plan_file, url)), *args[1:], "--json"], cwd=folder, env=env, timeout=TIMEOUT_S)
    assert duck.stdout and on.stdout, duck.stderr + on.stderr
    assert on.returncode == duck.returncode, on.stderr
    assert "Traceback" not in on.stderr
    return json.loads(duck.stdout), json.loads(on.stdout)


@pytest.mark.slow
def test_evaluate_over_spark_connect_gives_duckdbs_verdict_and_figures(tmp_path: Path, endpoint: str) -> None:
    plan, _ = write_plans(tmp_path)
    logs = simulate_logs(plan, tmp_path / "logs", scenario=scenario_named("harm", units=1200, candidate_pct=50.0),
                         seed=4)
    duck, on = _both(tmp_path, tmp_path / "plan.yaml", endpoint, ["evaluate", "--stage", "canary"],
                     logs.end.isoformat())
    # 1,200 units are too few for the test plan's guards to be sure either way: inconclusive on both,
    # with every estimate, interval and p-value compared below
    assert duck["verdict"] == on["verdict"] == "inconclusive"
    assert on["units"] == duck["units"] and sum(duck["units"].values()) == 1200
    assert any(check.get("interval") for check in duck["checks"])
    assert_same(duck, on, "evaluate")


@pytest.mark.slow
def test_shadow_over_spark_connect_gives_duckdbs_findings_and_figures(tmp_path: Path, endpoint: str) -> None:
    plan = write_shadow_plan(tmp_path)
    simulate_shadow(plan, tmp_path, scenario=shadow_scenario(plan, "shadow-segment", units=600), seed=7)
    duck, on = _both(tmp_path, tmp_path / "plan.yaml", endpoint, ["shadow", "--examples", "5"], "2026-01-05T06:00:00Z")
    assert [f["kind"] for f in on["findings"]] == [f["kind"] for f in duck["findings"]] == ["segment_disagreement"]
    assert on["verdict"] == duck["verdict"]
    # the same examples and random groups of units: the Connect server's Python workers hash the ids with
    # DuckDB (data/stable_hash.py), so unit counts, intervals and p-values are DuckDB's too
    assert len(duck["examples"]) == 5 and on["examples"] == duck["examples"]
    assert differences(duck, on, "shadow") == []
