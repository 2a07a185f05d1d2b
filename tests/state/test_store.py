"""The state store: one SQLite file in WAL mode, safe across processes, secrets redacted."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from rollout_support import T0, plan_in

from rollout_cli.routers.base import RouterSplit
from rollout_cli.state import journal
from rollout_cli.state.identity import current_actor
from rollout_cli.state.records import RolloutState
from rollout_cli.state.store import StateStore


def test_state_round_trip_and_wal(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "st")
    assert store.get("ranker") is None
    state = RolloutState(plan="ranker", status="running", stage="canary", stage_started_at=T0,
                         candidate_traffic=5.0, shadow=0.0, approved_stage="ramp", last_verdict="pass")
    with store.write() as conn:
        store.put(conn, state)
    again = StateStore.open(tmp_path / "st").get("ranker")
    assert again is not None and (again.stage, again.stage_started_at, again.approved_stage) == ("canary", T0, "ramp")
    mode = sqlite3.connect(tmp_path / "st" / "state.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_default_state_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_STATE_DIR", str(tmp_path / "env-dir"))
    StateStore.open(None)
    assert (tmp_path / "env-dir" / "state.db").exists()


def test_events_are_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/hook?token=s3cr3t-value")
    plan = plan_in(tmp_path, extra_steps="    - notify: ${env:HOOK_URL}\n")
    store = StateStore.open(tmp_path / "st")
    store.record_event(plan, "rollback", "bob", True, "posted to http://127.0.0.1:9/hook?token=s3cr3t-value",
                       "canary", None, {"detail": ["url http://127.0.0.1:9/hook?token=s3cr3t-value"]})
    (event,) = store.events("ranker")
    assert event.reason == "posted to ***"
    assert event.evidence == {"detail": ["url ***"]}
    raw = (tmp_path / "st" / "state.db").read_bytes() + (tmp_path / "st" / "state.db-wal").read_bytes()
    assert b"s3cr3t-value" not in raw


def test_journal_open_and_supersede(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "st")
    with store.write() as conn:
        move = journal.begin(conn, "ranker", "advance", from_stage="shadow", to_stage="canary",
                             from_split=RouterSplit(0, 100), to_split=RouterSplit(5, 0), actor="alice", reason="r")
    assert [t.id for t in journal.open_transitions(store, "ranker")] == [move.id]
    with store.write() as conn:
        assert journal.supersede_open_moves(conn, "ranker") == [move.id]
    assert journal.open_transitions(store, "ranker") == []
    assert journal.all_transitions(store, "ranker")[0].phase == "superseded"


WRITER = """
import sys
from rollout_cli.plan import load_plan
from rollout_cli.state.store import StateStore
plan = load_plan(sys.argv[1]); store = StateStore.open(sys.argv[2])
for i in range(100):
    store.record_event(plan, "hold", sys.argv[3], True, str(i))
"""


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    plan = plan_in(tmp_path)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, plan.source, str(tmp_path / "st"), f"w{i}"])
             for i in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    events = StateStore.open(tmp_path / "st").events("ranker")
    assert len(events) == 400
    assert {e.actor for e in events} == {"w0", "w1", "w2", "w3"}


def test_identity_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLOUT_ACTOR", "dana")
    assert current_actor("carol") == "carol"
    assert current_actor(None) == "dana"
    monkeypatch.delenv("ROLLOUT_ACTOR")
    monkeypatch.setenv("LOGNAME", "erin")
    monkeypatch.setenv("USER", "erin")
    assert current_actor(None) == "erin"
