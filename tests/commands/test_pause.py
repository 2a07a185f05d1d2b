"""pause | resume: the controller leaves a paused rollout alone, a rollback still works, all audited."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from rollout_support import T0, router_split, simulate, write_plan
from rollout_support import run_in_process as run

from rollout_cli.plan import load_plan
from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit


def test_a_paused_rollout_is_left_alone_until_resumed(here: Path, capsys, monkeypatch) -> None:
    path = write_plan(here)
    plan = load_plan(path)
    assert run(capsys, "start", str(path), "--as", "alice")[0] == 0
    simulate(plan, here, T0, 1, candidate_pct=0, shadow_pct=100, part=1)
    code, out, _ = run(capsys, "pause", str(path), "--as", "bob", "--reason", "holiday traffic", "--json")
    assert (code, json.loads(out)["status"]) == (0, "paused")
    monkeypatch.setenv("ROLLOUT_NOW", (T0 + timedelta(hours=1)).isoformat())
    code, out, _ = run(capsys, "tick", str(path), "--json")  # shadow passes now, yet nothing moves
    doc = json.loads(out)
    assert (code, doc["decision"], doc["status"]) == (3, "none", "paused") and doc["evaluation"] is None
    assert router_split(here) == RouterSplit(0, 100)
    code, _, err = run(capsys, "advance", str(path), "--as", "carol")
    assert code == 2 and "paused" in err
    status = json.loads(run(capsys, "status", str(path), "--json")[1])
    assert status["status"] == "paused" and "rollout resume" in status["next"]
    assert run(capsys, "pause", str(path), "--as", "bob")[0] == 2  # already paused: refused, recorded
    code, out, _ = run(capsys, "resume", str(path), "--as", "alice", "--json")
    assert (code, json.loads(out)["status"]) == (0, "running")
    code, out, _ = run(capsys, "tick", str(path), "--json")
    assert (code, json.loads(out)["to_stage"]) == (0, "canary")  # the stage clock kept running while paused
    events = json.loads(run(capsys, "history", str(path), "--json")[1])["events"]
    assert [(e["actor"], e["action"], e["evidence"]["result"]) for e in events if e["action"] in ("pause", "resume")] \
        == [("bob", "pause", "paused"), ("bob", "pause", "refused"), ("alice", "resume", "running")]


def test_a_paused_rollout_still_rolls_back_and_strangers_may_not_pause(here: Path, capsys) -> None:
    path = write_plan(here)
    assert run(capsys, "start", str(path), "--as", "alice")[0] == 0
    code, _, err = run(capsys, "pause", str(path), "--as", "mallory")
    assert code == 5 and "mallory may not pause ranker" in err
    assert run(capsys, "pause", str(path), "--as", "alice")[0] == 0
    code, out, _ = run(capsys, "rollback", str(path), "--as", "bob", "--reason", "stop", "--json")
    assert (code, json.loads(out)["outcome"]) == (0, "rolled_back")
    assert router_split(here) == BASELINE_ONLY
    code, _, err = run(capsys, "resume", str(path), "--as", "alice")
    assert code == 2 and "rolled back" in err
    events = json.loads(run(capsys, "history", str(path), "--json")[1])["events"]
    assert ("mallory", "pause", False) in [(e["actor"], e["action"], e["allowed"]) for e in events]
