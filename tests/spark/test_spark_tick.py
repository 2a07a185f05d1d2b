"""A controller tick on Spark: the shadow stage judged there advances the rollout as on DuckDB;
an unreachable endpoint changes nothing (exit 2, the router keeps its split)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rollout_support import T0, cli_in_process, router_split, simulate, write_plan
from spark_helpers import TEST_CONF

from rollout_cli.plan import load_plan
from rollout_cli.routers.base import RouterSplit


@pytest.mark.slow
def test_a_tick_on_spark_advances_and_an_unreachable_endpoint_holds(tmp_path: Path, capsys: Any, spark: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROLLOUT_STATE_DIR", str(tmp_path / ".rollout"))
    monkeypatch.setenv("ROLLOUT_NOW", T0.isoformat())
    path = write_plan(tmp_path)
    document = yaml.safe_load(path.read_text())
    document["data"] = {**document["data"], "engine": "spark", "spark": {"master": "local[2]", "conf": TEST_CONF}}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    assert cli_in_process(["start", str(path), "--as", "alice"], capsys).returncode == 0
    simulate(load_plan(path), tmp_path, T0, 1, candidate_pct=0, shadow_pct=100, part=1, units=2000)
    monkeypatch.setenv("ROLLOUT_NOW", (T0 + timedelta(hours=1)).isoformat())
    done = cli_in_process(["tick", str(path), "--json"], capsys)
    assert done.stdout, done.stderr
    doc = json.loads(done.stdout)
    assert (done.returncode, doc["action"], doc["to_stage"]) == (0, "advance", "canary"), done.stderr
    assert doc["evaluation"]["verdict"] == "pass"
    assert router_split(tmp_path) == RouterSplit(5, 0)

    document["data"]["spark"] = {"connect": "sc://127.0.0.1:9"}  # the discard port: nothing listens there
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.setenv("ROLLOUT_NOW", (T0 + timedelta(hours=2)).isoformat())
    done = cli_in_process(["tick", str(path), "--json"], capsys)
    assert done.returncode == 2 and "cannot reach the Spark Connect endpoint sc://127.0.0.1:9" in done.stderr
    assert router_split(tmp_path) == RouterSplit(5, 0)  # nothing moved: a hold, never a pass
