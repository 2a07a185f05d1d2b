"""A rollback killed while it runs as PID 1 of its own PID namespace (a container's entrypoint,
an OOM kill) is finished by the next command: its owner is recognised as gone by PID *and* start
time, not taken for the checker's own PID 1. And `status` names a pending rollback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rollout_support import T0, cli, router_split, write_plan

from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit
from rollout_cli.state import journal
from rollout_cli.state.liveness import process_identity
from rollout_cli.state.store import StateStore

NOW = {"ROLLOUT_NOW": T0.isoformat()}


def _can_unshare(*flags: str) -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", *flags, "true"], capture_output=True, check=False).returncode == 0


def _started_at_canary(directory: Path) -> Path:
    plan = write_plan(directory)
    assert cli(["start", str(plan), "--as", "alice"], cwd=directory, env=NOW).returncode == 0
    (directory / "router.json").write_text(json.dumps({"candidate_traffic": 5.0, "shadow": 0.0}))
    with StateStore.open(directory / ".rollout").write() as conn:
        conn.execute("UPDATE rollouts SET stage = 'canary', candidate_traffic = 5.0, shadow = 0.0")
    return plan


@pytest.mark.parametrize("flags", [("--pid", "--fork"), ("--pid", "--fork", "--mount-proc")],
                         ids=["host-proc", "own-proc"])
def test_a_rollback_killed_as_pid_1_is_finished_by_the_next_command(tmp_path: Path, flags: tuple[str, ...]) -> None:
    if not _can_unshare(*flags):
        pytest.skip(f"unshare {' '.join(flags)} is not permitted here")
    plan = _started_at_canary(tmp_path)
    env = {**os.environ, "ROLLOUT_STATE_DIR": str(tmp_path / ".rollout"), "ROLLOUT_KILL_AT": "rollback:after-intent"}
    killed = subprocess.run(["unshare", *flags, sys.executable, "-m", "rollout_cli", "rollback", str(plan),
                             "--reason", "oom", "--as", "bob"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert killed.returncode != 0
    store = StateStore.open(tmp_path / ".rollout")
    [intent] = journal.open_transitions(store, "ranker")
    assert (intent.kind, intent.phase, intent.owner_pid) == ("rollback", "intent", 1)
    assert journal.owner_alive(intent) is False
    store.close()
    tick = cli(["tick", str(plan), "--json"], cwd=tmp_path, env=NOW)
    assert "internal error" not in tick.stderr
    store = StateStore.open(tmp_path / ".rollout")
    assert journal.open_transitions(store, "ranker") == []
    state = store.get("ranker")
    assert state is not None and (state.status, state.rollback_incomplete) == ("rolled_back", False)
    assert router_split(tmp_path) == BASELINE_ONLY


def test_status_names_a_pending_rollback_whose_owner_still_runs(tmp_path: Path) -> None:
    plan = _started_at_canary(tmp_path)
    store = StateStore.open(tmp_path / ".rollout")
    with store.write() as conn:  # opened by this (live) test process, which never takes the lock
        intent = journal.begin(conn, "ranker", "rollback", from_stage="canary", to_stage=None,
                               from_split=RouterSplit(5.0, 0.0), to_split=BASELINE_ONLY, actor="bob", reason="harm")
    assert intent.owner_start == process_identity()
    result = cli(["status", str(plan), "--json"], cwd=tmp_path, env=NOW)
    doc = json.loads(result.stdout)
    assert result.returncode == 4
    assert doc["pending_rollback"] == {"transition": intent.id, "actor": "bob", "phase": "intent", "owner_alive": True}
    assert doc["next"].startswith(f"ROLLBACK PENDING: an interrupted rollback (transition {intent.id}, phase intent, "
                                  "by bob); its process still runs")
    text = cli(["status", str(plan)], cwd=tmp_path, env=NOW)
    assert "ROLLBACK PENDING" in text.stdout


def test_a_reused_pid_is_not_the_owner(tmp_path: Path) -> None:
    """The owner's PID now belongs to another process (here: this one): the start time differs."""
    _started_at_canary(tmp_path)
    store = StateStore.open(tmp_path / ".rollout")
    with store.write() as conn:
        intent = journal.begin(conn, "ranker", "rollback", from_stage="canary", to_stage=None,
                               from_split=RouterSplit(5.0, 0.0), to_split=BASELINE_ONLY, actor="bob", reason="harm")
        pid, start, boot = (intent.owner_start or "").split(":")
        conn.execute("UPDATE transitions SET owner_start = ? WHERE id = ?", (f"{pid}:{int(start) - 1}:{boot}", intent.id))
    assert journal.owner_alive(journal.get(store.conn, intent.id)) is False
