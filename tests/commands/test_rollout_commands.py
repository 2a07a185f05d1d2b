"""start | status | advance | rollback | tick | history: documents, exit codes, authority, audit."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from rollout_support import T0, cli, router_split, simulate, write_plan
from rollout_support import run_in_process as run

from rollout_cli.plan import load_plan
from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit


def at(monkeypatch: pytest.MonkeyPatch, hours: float) -> None:
    monkeypatch.setenv("ROLLOUT_NOW", (T0 + timedelta(hours=hours)).isoformat())


def test_start_status_and_history_documents(here: Path, capsys) -> None:
    plan = write_plan(here)
    code, out, _ = run(capsys, "start", str(plan), "--as", "alice", "--json")
    assert code == 0
    assert json.loads(out) == {"plan": "ranker", "action": "start", "stage": "shadow", "status": "running",
                               "candidate_traffic": 0.0, "shadow": 100.0}
    assert router_split(here) == RouterSplit(0, 100)
    code, out, _ = run(capsys, "status", str(plan), "--json")
    doc = json.loads(out)
    assert code == 0
    assert {k: doc[k] for k in ("plan", "stage", "status", "candidate_traffic", "shadow", "stage_started_at")} == {
        "plan": "ranker", "stage": "shadow", "status": "running", "candidate_traffic": 0.0, "shadow": 100.0,
        "stage_started_at": T0.isoformat()}
    assert doc["next"] == "shadow runs at least 1h more (min_duration 1h), then canary (5% served, 0% mirrored)"
    assert doc["router"] == {"candidate_traffic": 0.0, "shadow": 100.0} and doc["rollback_incomplete"] is False
    code, out, _ = run(capsys, "start", str(plan), "--as", "alice")
    assert code == 2
    code, out, _ = run(capsys, "history", str(plan), "--json")
    (event,) = json.loads(out)["events"]
    assert {k: event[k] for k in ("actor", "action", "from_stage", "to_stage", "allowed", "reason")} == {
        "actor": "alice", "action": "start", "from_stage": None, "to_stage": "shadow", "allowed": True,
        "reason": "start the rollout"}


def test_refused_attempts_exit_5_and_are_recorded(here: Path, capsys) -> None:
    plan = write_plan(here)
    assert run(capsys, "start", str(plan), "--as", "alice")[0] == 0
    code, _, err = run(capsys, "rollback", str(plan), "--reason", "hmm", "--as", "mallory")
    assert code == 5
    assert "mallory may not roll back ranker: not in rollback.authority (team:oncall, carol)" in err
    code, _, err = run(capsys, "advance", str(plan), "--force", "--reason", "hurry", "--as", "bob")
    assert code == 5
    assert "bob may not force an advance of ranker: not in rollback.approvers (carol)" in err
    assert run(capsys, "advance", str(plan), "--force", "--as", "carol")[0] == 2  # --force needs --reason
    assert run(capsys, "advance", str(plan), "--force", "--reason", "  ", "--as", "carol")[0] == 2  # a real one
    events = json.loads(run(capsys, "history", str(plan), "--json")[1])["events"]
    refused = [(e["actor"], e["action"], e["allowed"]) for e in events if not e["allowed"]]
    assert refused == [("mallory", "rollback", False), ("bob", "advance", False)]
    assert router_split(here) == RouterSplit(0, 100)


def test_a_rollout_through_ticks_approval_and_rollback(here: Path, capsys, monkeypatch) -> None:
    path = write_plan(here)
    plan = load_plan(path)
    assert run(capsys, "start", str(path), "--as", "alice")[0] == 0
    simulate(plan, here, T0, 1, candidate_pct=0, shadow_pct=100, part=1)
    at(monkeypatch, 0.5)
    code, out, _ = run(capsys, "tick", str(path), "--json")
    doc = json.loads(out)
    assert (code, doc["action"], doc["decision"]) == (3, "hold", "hold")
    assert doc["reason"] == "stage shadow has run 30m of its min_duration 1h (30m left)"
    at(monkeypatch, 1)
    code, out, _ = run(capsys, "tick", str(path), "--json")
    doc = json.loads(out)
    assert (code, doc["action"], doc["from_stage"], doc["to_stage"]) == (0, "advance", "shadow", "canary")
    assert doc["evaluation"]["verdict"] == "pass" and doc["evaluation"]["stage"] == "shadow"
    assert router_split(here) == RouterSplit(5, 0)
    simulate(plan, here, T0 + timedelta(hours=1), 1, candidate_pct=5, shadow_pct=0, part=2)
    at(monkeypatch, 2)
    code, out, _ = run(capsys, "tick", str(path), "--json")
    doc = json.loads(out)
    assert code == 3 and doc["decision"] in ("await_approval", "hold")
    code, _, err = run(capsys, "advance", str(path), "--as", "alice", "--force", "--reason", "x")
    assert code == 5
    code, _, err = run(capsys, "advance", str(path), "--as", "alice")
    assert code == 5 and "alice may not approve ranker into ramp (approval: required)" in err
    code, out, _ = run(capsys, "advance", str(path), "--as", "carol", "--reason", "looks fine", "--json")
    doc = json.loads(out)
    events = json.loads(run(capsys, "history", str(path), "--json")[1])["events"]
    assert next(e["action"] for e in events if e["actor"] == "carol") == "approve"
    assert doc["decision"] in ("advance", "hold")  # the canary data may or may not be conclusive yet
    code, out, _ = run(capsys, "rollback", str(path), "--reason", "enough", "--as", "bob", "--json")
    doc = json.loads(out)
    assert (code, doc["outcome"], doc["router_verified"]) == (0, "rolled_back", True)
    assert [s["name"] for s in doc["steps"]] == ["route baseline", "verify router"]
    assert router_split(here) == BASELINE_ONLY
    code, out, _ = run(capsys, "status", str(path), "--json")
    assert json.loads(out)["status"] == "rolled_back"
    code, out, _ = run(capsys, "tick", str(path), "--json")
    assert (code, json.loads(out)["decision"]) == (0, "none")


def test_tick_rolls_back_a_segment_harm(here: Path, capsys, monkeypatch, backend: str) -> None:
    path = write_plan(here)
    plan = load_plan(path)
    assert run(capsys, "start", str(path), "--as", "alice")[0] == 0
    simulate(plan, here, T0, 1, candidate_pct=0, shadow_pct=100, part=1)
    at(monkeypatch, 1)
    assert run(capsys, "tick", str(path))[0] == 0
    simulate(plan, here, T0 + timedelta(hours=1), 1, candidate_pct=5, shadow_pct=0, part=2, units=60_000,
             segment_effect=("platform", "ios", -0.6))
    at(monkeypatch, 2)
    code, out, _ = run(capsys, "tick", str(path), "--json")
    doc = json.loads(out)
    assert (code, doc["action"], doc["status"]) == (1, "rollback", "rolled_back")
    assert "platform=ios" in doc["reason"]
    # the controller reads through the evaluation cache by default, where the state is a local folder
    assert doc["evaluation"].get("cache", {}).get("mode") == ("incremental" if backend == "sqlite" else None)
    events = json.loads(run(capsys, "history", str(path), "--json")[1])["events"]
    rollback = events[-1]
    assert (rollback["actor"], rollback["action"]) == ("controller", "rollback")
    assert rollback["evidence"]["evaluation"]["verdict"] == "fail"
    assert rollback["evidence"]["run_by"]
    # status keeps the verdict that caused the rollback, and time in stage stops counting
    status = json.loads(run(capsys, "status", str(path), "--json")[1])
    assert status["last_verdict"] == "fail" and status["last_decision"].startswith("rollback:")
    assert status["time_in_stage_s"] is None


def test_unverifiable_rollback_exits_4_and_says_what_to_do(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    assert cli(["start", str(plan), "--as", "alice"], cwd=tmp_path).returncode == 0
    (tmp_path / "router.json").unlink()
    (tmp_path / "router.json").mkdir()  # the router is gone: neither readable nor writable
    result = cli(["rollback", str(plan), "--reason", "harm", "--as", "bob"], cwd=tmp_path)
    assert result.returncode == 4
    assert "ROLLBACK INCOMPLETE: the router could not be verified at the baseline." in result.stdout
    assert "do it by hand:" in result.stdout and "python3 -c" in result.stdout
    status = json.loads(cli(["status", str(plan), "--json"], cwd=tmp_path).stdout)
    assert (status["status"], status["rollback_incomplete"]) == ("running", True)
    assert status["next"].startswith("ROLLBACK INCOMPLETE")


def test_the_drill_gate_holds_traffic_in_shadow(here: Path, capsys, monkeypatch) -> None:
    path = write_plan(here, require_drill="14d")
    plan = load_plan(path)
    assert run(capsys, "start", str(path), "--as", "alice")[0] == 0  # shadow first: no drill needed yet
    simulate(plan, here, T0, 1, candidate_pct=0, shadow_pct=100, part=1)
    at(monkeypatch, 1)
    code, out, _ = run(capsys, "tick", str(path), "--json")
    doc = json.loads(out)
    assert (code, doc["action"], doc["to_stage"]) == (3, "hold", "canary")
    assert doc["reason"].startswith("traffic may not leave shadow: no passing drill since")
    assert "run: rollout drill" in doc["reason"]
    assert router_split(here) == RouterSplit(0, 100)


def test_secrets_never_reach_output_or_audit(here: Path, capsys, monkeypatch) -> None:
    secret_url = "http://127.0.0.1:9/hooks/very-secret-token-42"  # port 9: nothing answers
    monkeypatch.setenv("ROLL_HOOK", secret_url)
    path = write_plan(here, extra_steps="    - notify: ${env:ROLL_HOOK}\n")
    assert run(capsys, "start", str(path), "--as", "alice")[0] == 0
    code, out, err = run(capsys, "rollback", str(path), "--reason", "drill the webhook", "--as", "bob", "--json")
    assert code == 4  # the router is at baseline, but the notify step failed
    doc = json.loads(out)
    assert (doc["outcome"], doc["steps"][-1]["outcome"]) == ("rolled_back", "fail")
    assert doc["steps"][-1]["detail"] == "webhook *** did not answer (ConnectionError)"
    history = run(capsys, "history", str(path), "--json")[1]
    assert "very-secret-token-42" not in out + err + history
    assert "***" in history
