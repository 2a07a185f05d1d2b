"""kill -9 trials on either store: a prepared rollout, a command killed at a named point
(ROLLOUT_KILL_AT), a follow-up command, then a check that state and router agree.

Shared by tests/faults/, tests/shared_state/ and benchmarks/bench_pg_kill.py. `location` is a
state folder (SQLite) or a postgresql:// URL.
"""

from __future__ import annotations

from pathlib import Path

from rollout_support import T0, cli, router_split, write_plan

from rollout_cli.cli.main import main
from rollout_cli.plan import load_plan
from rollout_cli.routers.base import BASELINE_ONLY, splits_match
from rollout_cli.state import journal
from rollout_cli.state.locate import open_store
from rollout_cli.state.records import not_started
from rollout_cli.transitions import moves
from rollout_cli.transitions.context import Rollout

FOLLOW_UPS = ("status", "status", "advance", "rollback", "tick")


def state_env(location: str) -> dict[str, str]:
    """The environment that points a `rollout` process at `location`."""
    if location.startswith("postgresql://"):
        return {"ROLLOUT_STATE_URL": location}
    return {"ROLLOUT_STATE_DIR": location, "ROLLOUT_STATE_URL": ""}


def prepare(directory: Path, location: str, point: str, trial: int) -> list[str]:
    """A rollout ready for the command that will be killed; returns that command's arguments."""
    path = write_plan(directory)
    rollout = Rollout.open(load_plan(path), open_store(location))
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


def kill(directory: Path, location: str, point: str, trial: int) -> tuple[int, str]:
    """Run the prepared command with ROLLOUT_KILL_AT=point; its exit code (-9 when killed) and stderr."""
    directory.mkdir()
    command = prepare(directory, location, point, trial)
    result = cli(command, cwd=directory, env={"ROLLOUT_KILL_AT": point, **state_env(location)})
    return result.returncode, result.stderr


def follow_up(directory: Path, location: str, trial: int) -> int:
    plan = str(directory / "ranker.yaml")
    state = ["--state-dir", location]
    command = FOLLOW_UPS[trial % len(FOLLOW_UPS)]
    if command == "status":  # read-only: it reports the interrupted transition and leaves it to the next tick
        store = open_store(location)
        before = journal.open_transitions(store, "ranker")
        code = main(["status", plan, "--json", *state])
        assert journal.open_transitions(store, "ranker") == before and code == (4 if before else code)
        store.close()
        command = "tick"
    if command == "advance":
        return main(["advance", plan, "--force", "--reason", "after the crash", "--as", "carol", "--json", *state])
    if command == "rollback":
        return main(["rollback", plan, "--reason", "after the crash", "--as", "bob", "--json", *state])
    return main([command, plan, "--json", *state])


def inconsistencies(directory: Path, location: str, point: str, trial: int, follow_code: int) -> list[str]:
    """What is wrong after the follow-up (empty: state and router agree, nothing left open)."""
    store = open_store(location)
    try:
        wrong = []
        if journal.open_transitions(store, "ranker"):
            wrong.append("a transition is still open")
        state = store.get("ranker") or not_started("ranker")  # an undone start leaves no state
        # tick reconciles first, then finds no logs in these trials (a data error, exit 2); advance
        # refuses (exit 2) a rollout that is not running: an undone start, a finished rollback
        follow = FOLLOW_UPS[trial % len(FOLLOW_UPS)]
        expected = (0, 3, 2) if follow in ("tick", "status") else (2,) if follow == "advance" and state.status != "running" else (0, 3)
        if follow_code not in expected:
            wrong.append(f"follow-up {follow} exited {follow_code}")
        router = router_split(directory) if (directory / "router.json").exists() else BASELINE_ONLY
        if not splits_match(router, state.split):
            wrong.append(f"state {state.split} vs router {router}")
        if point.startswith("rollback") and (state.status, router) != ("rolled_back", BASELINE_ONLY):
            wrong.append(f"a killed rollback ended {state.status} with the router at {router}")
        if follow != "rollback" and not point.startswith("rollback") and not any(
                e.action == "reconcile" for e in store.events("ranker")):
            wrong.append("no reconcile event")
        return [f"{point} trial {trial}: {w}" for w in wrong]
    finally:
        store.close()
