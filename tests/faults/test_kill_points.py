"""kill -9 at every named point of start, advance and rollback (ROLLOUT_KILL_AT): the next
command reconciles, and state and router agree — every time."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rollout_support import T0, cli, router_split, write_plan

from rollout_cli.cli.main import main
from rollout_cli.plan import load_plan
from rollout_cli.routers.base import BASELINE_ONLY, splits_match
from rollout_cli.state import journal
from rollout_cli.state.killpoints import KILL_POINTS
from rollout_cli.state.records import not_started
from rollout_cli.state.store import StateStore
from rollout_cli.transitions import moves
from rollout_cli.transitions.context import Rollout

TRIALS = 50  # spread over the 12 kill points: 4 or 5 each
FOLLOW_UPS = ("status", "status", "advance", "rollback", "tick")


def _prepare(directory: Path, point: str, trial: int) -> list[str]:
    """A rollout ready for the command that will be killed; returns that command's arguments."""
    path = write_plan(directory)
    rollout = Rollout.open(load_plan(path), StateStore.open(directory / ".rollout"))
    kind = point.split(":")[0]
    if kind != "start":
        moves.start(rollout, actor="alice", reason="setup", now=T0)
        if trial % 2:  # half the trials from the canary stage, half from shadow
            moves.advance(rollout, "shadow", rollout.plan.stage("canary"), actor="alice", reason="setup",
                          now=T0, evidence=None)
    rollout.store.close()
    if kind == "start":
        return ["start", str(path), "--as", "alice"]
    if kind == "advance":
        return ["advance", str(path), "--force", "--reason", "kill test", "--as", "carol"]
    return ["rollback", str(path), "--reason", "kill test", "--as", "bob"]


def _trial(args: tuple[Path, str, int]) -> tuple[Path, str, int, int, str]:
    directory, point, trial = args
    directory.mkdir()
    command = _prepare(directory, point, trial)
    result = cli(command, cwd=directory, env={"ROLLOUT_KILL_AT": point})
    return directory, point, trial, result.returncode, result.stderr


def _follow_up(directory: Path, trial: int) -> int:
    plan = str(directory / "ranker.yaml")
    state_dir = ["--state-dir", str(directory / ".rollout")]
    command = FOLLOW_UPS[trial % len(FOLLOW_UPS)]
    if command == "status":  # read-only: it reports the interrupted transition and leaves it to the next tick
        store = StateStore.open(directory / ".rollout")
        before = journal.open_transitions(store, "ranker")
        code = main(["status", plan, "--json", *state_dir])
        assert journal.open_transitions(store, "ranker") == before and code == (4 if before else code)
        store.close()
        command = "tick"
    if command == "advance":
        return main(["advance", plan, "--force", "--reason", "after the crash", "--as", "carol", "--json", *state_dir])
    if command == "rollback":
        return main(["rollback", plan, "--reason", "after the crash", "--as", "bob", "--json", *state_dir])
    return main([command, plan, "--json", *state_dir])


@pytest.mark.slow  # one real process killed at each of the kill points (about 10 s)
def test_every_kill_point_reconciles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    points = [KILL_POINTS[i % len(KILL_POINTS)] for i in range(TRIALS)]
    trials = [(tmp_path / f"{point.replace(':', '_')}-{i}", point, i // len(KILL_POINTS)) for i, point in
              enumerate(points)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        killed = list(pool.map(_trial, trials))
    for directory, point, trial, code, stderr in killed:
        assert code == -9, f"{point} trial {trial}: the process was not killed at its point ({code}): {stderr}"
        follow_code = _follow_up(directory, trial)
        capsys.readouterr()
        store = StateStore.open(directory / ".rollout")
        assert journal.open_transitions(store, "ranker") == [], f"{point} trial {trial}: a transition is still open"
        state = store.get("ranker") or not_started("ranker")  # an undone start leaves no state
        # tick reconciles first, then finds no logs in these trials (a data error, exit 2); advance
        # refuses (exit 2) a rollout that is not running: an undone start, a finished rollback
        follow = FOLLOW_UPS[trial % len(FOLLOW_UPS)]
        expected = (0, 3, 2) if follow in ("tick", "status") else (2,) if follow == "advance" and state.status != "running" else (0, 3)
        assert follow_code in expected, f"{point} trial {trial}: follow-up exited {follow_code}"
        router = router_split(directory) if (directory / "router.json").exists() else BASELINE_ONLY
        assert splits_match(router, state.split), f"{point} trial {trial}: state {state.split} vs router {router}"
        if point.startswith("rollback"):
            assert (state.status, router) == ("rolled_back", BASELINE_ONLY), f"{point} trial {trial}"
        if FOLLOW_UPS[trial % len(FOLLOW_UPS)] != "rollback":  # a rollback supersedes instead (evidence)
            assert any(e.action == "reconcile" for e in store.events("ranker")) or point.startswith("rollback"), point
        store.close()


def test_the_killed_rollback_is_finished_by_the_next_command(tmp_path: Path) -> None:
    directory = tmp_path / "one"
    _, _, _, code, _ = _trial((directory, "rollback:after-intent", 0))
    assert code == -9
    assert router_split(directory).shadow == 100.0  # the killed rollback had not touched the router
    status = cli(["status", str(directory / "ranker.yaml"), "--json"], cwd=directory)
    doc = json.loads(status.stdout)  # read-only: says what waits, changes nothing
    assert status.returncode == 4 and doc["interrupted"] == [2] and router_split(directory).shadow == 100.0
    assert "an interrupted rollback" in doc["next"]
    tick = cli(["tick", str(directory / "ranker.yaml"), "--json"], cwd=directory)
    assert json.loads(tick.stdout)["reconciled"] == [
        "finished the interrupted rollback (transition 2): verified at baseline"]
    doc = json.loads(cli(["status", str(directory / "ranker.yaml"), "--json"], cwd=directory).stdout)
    assert (doc["status"], doc["router"]) == ("rolled_back", {"candidate_traffic": 0.0, "shadow": 0.0})
