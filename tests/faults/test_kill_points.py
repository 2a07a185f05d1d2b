"""kill -9 at every named point of start, advance and rollback (ROLLOUT_KILL_AT): the next
command reconciles, and state and router agree — every time, on both stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kill_trials import follow_up, inconsistencies, kill, state_env
from rollout_support import cli, router_split

from rollout_cli.state.killpoints import KILL_POINTS

# SQLite: 50 trials spread over the 12 kill points (4 or 5 each). PostgreSQL: 2 per point here;
# benchmarks/bench_pg_kill.py runs 240 (benchmarks/README.md).
TRIALS = {"sqlite": 50, "postgresql": 24}


@pytest.fixture(params=["sqlite", "postgresql"])
def new_location(request: pytest.FixtureRequest) -> Callable[[Path], str]:
    """Per trial: a fresh state folder, or a fresh PostgreSQL database."""
    if request.param == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        return lambda _directory: cluster.new_database()
    return lambda directory: str(directory / ".rollout")


@pytest.mark.slow  # real processes killed at each of the kill points (about 10 s per store)
def test_every_kill_point_reconciles(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     new_location: Callable[[Path], str]) -> None:
    count = TRIALS["postgresql" if new_location(tmp_path).startswith("postgresql") else "sqlite"]
    trials = []
    for i in range(count):
        point = KILL_POINTS[i % len(KILL_POINTS)]
        directory = tmp_path / f"{point.replace(':', '_')}-{i}"
        trials.append((directory, new_location(directory), point, i // len(KILL_POINTS)))
    with ThreadPoolExecutor(max_workers=4) as pool:
        killed = list(pool.map(lambda t: (*t, *kill(*t)), trials))
    for directory, location, point, trial, code, stderr in killed:
        assert code == -9, f"{point} trial {trial}: the process was not killed at its point ({code}): {stderr}"
        follow_code = follow_up(directory, location, trial)
        capsys.readouterr()
        assert inconsistencies(directory, location, point, trial, follow_code) == []


def test_the_killed_rollback_is_finished_by_the_next_command(tmp_path: Path,
                                                             new_location: Callable[[Path], str]) -> None:
    directory = tmp_path / "one"
    location = new_location(directory)
    code, _ = kill(directory, location, "rollback:after-intent", 0)
    assert code == -9
    assert router_split(directory).shadow == 100.0  # the killed rollback had not touched the router
    status = cli(["status", str(directory / "ranker.yaml"), "--json"], cwd=directory, env=state_env(location))
    doc = json.loads(status.stdout)  # read-only: says what waits, changes nothing
    assert status.returncode == 4 and doc["interrupted"] == [2] and router_split(directory).shadow == 100.0
    assert "an interrupted rollback" in doc["next"]
    tick = cli(["tick", str(directory / "ranker.yaml"), "--json"], cwd=directory, env=state_env(location))
    assert json.loads(tick.stdout)["reconciled"] == [
        "finished the interrupted rollback (transition 2): verified at baseline"]
    doc = json.loads(cli(["status", str(directory / "ranker.yaml"), "--json"], cwd=directory,
                         env=state_env(location)).stdout)
    assert (doc["status"], doc["router"]) == ("rolled_back", {"candidate_traffic": 0.0, "shadow": 0.0})
