"""10 concurrent advance and rollback processes: no lost or doubled transition, and rollback wins."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kill_trials import state_env
from rollout_support import T0, router_split, write_plan

from rollout_cli.plan import load_plan
from rollout_cli.routers.base import BASELINE_ONLY
from rollout_cli.state import journal
from rollout_cli.state.locate import open_store
from rollout_cli.state.store import StateStore
from rollout_cli.transitions import moves
from rollout_cli.transitions.context import Rollout

ROUNDS = 2


def _launch(directory: Path, location: str, plan: Path, round_no: int) -> list[subprocess.Popen[str]]:
    """7 forced advances, then (after a delay that differs per round) 3 rollbacks, all at once in flight."""
    env = {**os.environ, **state_env(location)}
    advances = [["advance", str(plan), "--force", "--reason", f"advance {i}", "--as", "carol"] for i in range(7)]
    rollbacks = [["rollback", str(plan), "--reason", f"rollback {i}", "--as", "bob"] for i in range(3)]

    def spawn(args: list[str]) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "rollout_cli", *args], cwd=directory, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    procs = [spawn(a) for a in advances]
    # round 0: all at once; round N: the rollbacks start once N advances have landed, with the rest in flight
    store = open_store(location)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _done_advances(store) < round_no:
        time.sleep(0.02)
    store.close()
    return procs + [spawn(r) for r in rollbacks]


def _done_advances(store: StateStore) -> int:
    return sum(1 for t in journal.all_transitions(store, "ranker") if t.kind == "advance" and t.phase == "done")


@pytest.mark.slow  # many real processes racing for the state store (about 10 s per store)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_advances_and_rollbacks(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    cluster = request.getfixturevalue("pg_cluster") if backend == "postgresql" else None
    rounds = []
    for round_no in range(ROUNDS):
        directory = tmp_path / f"round{round_no}"
        directory.mkdir()
        location = cluster.new_database() if cluster else str(directory / ".rollout")
        plan = write_plan(directory)
        rollout = Rollout.open(load_plan(plan), open_store(location))
        moves.start(rollout, actor="alice", reason="setup", now=T0)
        rollout.store.close()
        rounds.append((directory, location, _launch(directory, location, plan, round_no)))
    stage_order = ["shadow", "canary", "ramp", "full"]
    for directory, location, procs in rounds:
        codes = [p.wait(timeout=90) for p in procs]
        for p in procs:
            p.communicate()
        # 1: an advance that gave way to a rollback; 2: nothing to advance; 3: another advance moved it first
        assert all(code in (0, 1, 2, 3) for code in codes), codes
        store = open_store(location)
        state = store.get("ranker")
        assert state is not None and (state.status, state.rollback_incomplete) == ("rolled_back", False)
        assert router_split(directory) == BASELINE_ONLY  # the rollback won
        transitions = journal.all_transitions(store, "ranker")
        assert not [t for t in transitions if t.is_open]
        rollbacks = [t for t in transitions if t.kind == "rollback"]
        assert [t.phase for t in rollbacks] == ["done"]  # exactly one rollback transition, done
        done_moves = [t for t in transitions if t.kind != "rollback" and t.phase == "done"]
        # every completed advance happened before the rollback, one stage at a time, none twice
        assert all(t.id < rollbacks[0].id for t in done_moves)
        path = [done_moves[0].to_stage] + [t.to_stage for t in done_moves[1:]]
        assert path == stage_order[: len(path)]
        assert [t.from_stage for t in done_moves[1:]] == path[:-1]
        assert state.stage == path[-1]  # the rollback happened at the last stage reached
        advance_events = [e for e in store.events("ranker", "advance") if (e.evidence or {}).get("transition")
                          and e.evidence.get("result") is None]
        assert len(advance_events) == len(done_moves) - 1  # one audit event per completed advance
