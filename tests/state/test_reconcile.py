"""Reconcile against the router: finish, undo, or restore — and say so in the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_support import T0, plan_in, router_split

from rollout_cli.errors import RouterError
from rollout_cli.routers.base import RouterSplit
from rollout_cli.state import journal
from rollout_cli.state.store import StateStore
from rollout_cli.transitions import moves
from rollout_cli.transitions.context import Rollout
from rollout_cli.transitions.reconcile import reconcile

DEAD_PID = 2**22 + 12345  # above the default pid_max: no process has it


def _interrupted_advance(tmp_path: Path) -> Rollout:
    rollout = Rollout.open(plan_in(tmp_path), StateStore.open(tmp_path / ".rollout"))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    with rollout.store.write() as conn:
        intent = journal.begin(conn, "ranker", "advance", from_stage="shadow", to_stage="canary",
                               from_split=RouterSplit(0, 100), to_split=RouterSplit(5, 0), actor="bob", reason="r")
        conn.execute("UPDATE transitions SET owner_pid = ?, owner_start = NULL WHERE id = ?", (DEAD_PID, intent.id))
    return rollout


@pytest.mark.parametrize(
    ("router_at", "stage", "resolution"),
    [
        (RouterSplit(5, 0), "canary", ("finished the interrupted advance shadow -> canary (found at phase intent; "
                                      "the router serves the target split)")),
        (RouterSplit(0, 100), "shadow", ("undid the interrupted advance shadow -> canary (found at phase intent; "
                                        "the router never left the source split)")),
        (RouterSplit(30, 0), "shadow", ("undid the interrupted advance shadow -> canary (found at phase intent; the "
                                       "router reported candidate 30% served, 0% mirrored; restored candidate 0% "
                                       "served, 100% mirrored)")),
    ],
)
def test_reconcile_follows_the_router(tmp_path: Path, router_at: RouterSplit, stage: str, resolution: str) -> None:
    rollout = _interrupted_advance(tmp_path)
    rollout.router.apply(router_at)
    assert reconcile(rollout, actor="carol", now=T0) == [resolution]
    state = rollout.state()
    assert state.stage == stage and router_split(tmp_path) == state.split
    event = rollout.store.events("ranker", "reconcile")[-1]
    assert (event.actor, event.reason, event.evidence["interrupted_actor"]) == ("carol", resolution, "bob")
    assert reconcile(rollout, actor="carol", now=T0) == []  # nothing left open


def test_an_unreadable_router_leaves_the_transition_open(tmp_path: Path) -> None:
    rollout = _interrupted_advance(tmp_path)
    (tmp_path / "router.json").unlink()
    (tmp_path / "router.json").mkdir()
    with pytest.raises(RouterError, match="cannot reconcile the interrupted advance shadow -> canary"):
        reconcile(rollout, actor="carol", now=T0)
    assert [t.kind for t in journal.open_transitions(rollout.store, "ranker")] == ["advance"]
