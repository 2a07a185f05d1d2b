"""`rollout drill` against the file router: pass, a failing step, an overrun, restore, record, refusals."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime

from runbook_helpers import plan_text

from rollout_cli.plan import load_plan
from rollout_cli.state.records import RolloutState
from rollout_cli.state.store import StateStore

FOUND = {"candidate_traffic": 0.0, "shadow": 100.0, "upstream": "pool-a"}


def _drills(workspace) -> list:
    store = StateStore.open(workspace.root / "state")
    return store.events("ranker-v7", action="drill")


def test_a_passing_drill_is_recorded_and_leaves_the_router_as_found(workspace, rollout) -> None:
    result = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["outcome"] == "pass" and doc["budget_s"] == 300.0 and doc["failure"] is None
    assert [(s["name"], s["outcome"]) for s in doc["steps"]] == [
        ("route baseline", "pass"), ("verify router", "pass"), ("run true", "pass")]
    assert doc["drill_split"] == {"candidate_traffic": 5.0, "shadow": 0.0}  # the canary's split
    assert 0 < doc["duration_s"] < 300
    assert workspace.router_split() == FOUND  # other keys kept too
    (event,) = _drills(workspace)
    assert (event.actor, event.allowed, event.reason) == ("alice", True, "drill pass on file:path=router.json")
    plan = load_plan(workspace.plan)
    assert event.evidence["rollback_digest"] == plan.rollback.digest
    assert event.evidence["router"] == "file:path=router.json"
    assert {"outcome", "duration_s", "budget_s", "steps"} <= set(event.evidence)
    assert event.evidence["steps"][2]["timeout_s"] == 5.0


def test_human_output_names_the_outcome_and_the_restored_split(workspace, rollout) -> None:
    result = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state")
    assert result.code == 0
    assert "budget 5m:" in result.out
    assert result.out.splitlines()[-1].startswith("drill pass on file:path=router.json: ")
    assert result.out.splitlines()[-1].endswith("s of a 5m budget; router restored to candidate 0% served, 100% mirrored")


def test_a_failing_step_fails_the_drill_and_says_which(workspace, rollout) -> None:
    workspace.write_plan(plan_text([(["false"], None), (["true"], None)]))
    result = rollout("drill", "plan.yaml", "--as", "bob", "--state-dir", "state", "--json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["outcome"] == "fail"
    assert doc["failure"] == "step 3 `run false` failed: exited 1"
    assert [s["outcome"] for s in doc["steps"]] == ["pass", "pass", "fail", "pass"]
    assert workspace.router_split() == FOUND
    (event,) = _drills(workspace)
    assert event.evidence["outcome"] == "fail"
    assert event.reason == "drill fail on file:path=router.json: step 3 `run false` failed: exited 1"


def test_a_step_that_overruns_its_timeout_fails_the_drill(workspace, rollout) -> None:
    workspace.write_plan(plan_text([(["sleep", "5"], "1s")]))
    result = rollout("drill", "plan.yaml", "--as", "carol", "--state-dir", "state")
    assert result.code == 1
    assert "drill failed: step 3 `run sleep 5` failed: timed out after 1s" in result.err
    assert workspace.router_split() == FOUND
    (event,) = _drills(workspace)
    assert event.evidence["steps"][2]["duration_s"] < 5  # killed at its timeout: `sleep 5` did not run to its end


def test_a_drill_over_the_budget_fails(workspace, rollout) -> None:
    # each step within its own timeout, together over the budget
    workspace.write_plan(plan_text([(["sleep", "0.6"], "1s"), (["sleep", "0.6"], "1s")], budget="1s"))
    result = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state", "--json")
    assert result.code == 1
    failure = json.loads(result.out)["failure"]
    took = re.fullmatch(r"the rollback took (\d+\.\d+)s, over its budget of 1s", failure)
    assert took and float(took.group(1)) >= 1.2, failure  # two steps of 0.6 s each
    assert workspace.router_split() == FOUND


def test_refused_while_the_rollout_is_in_progress_unless_another_router_is_given(workspace, rollout) -> None:
    store = StateStore.open(workspace.root / "state")
    with store.write() as conn:
        store.put(conn, RolloutState(plan="ranker-v7", status="running", stage="shadow",
                                     stage_started_at=datetime(2026, 11, 25, tzinfo=UTC),
                                     candidate_traffic=0.0, shadow=100.0))
    refused = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state")
    assert refused.code == 2
    assert "error: drill refused: the rollout of ranker-v7 is running: its router is live" in refused.err
    assert "what to do: rehearse on a staging router: rollout drill plan.yaml --router ADAPTER:KEY=VALUE,..." \
           in refused.err
    assert workspace.router_split() == FOUND
    again = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state", "--router", "file:path=router.json")
    assert again.code == 2  # naming the live router with --router does not make it a staging router
    staging = workspace.root / "staging.json"
    staging.write_text(json.dumps({"candidate_traffic": 0.0, "shadow": 0.0}))
    allowed = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state", "--router",
                      f"file:path={staging}", "--json")
    assert allowed.code == 0, allowed.err
    assert json.loads(allowed.out)["router"] == f"file:path={staging}"
    assert workspace.router_split() == FOUND  # the live router was never touched
    refusal, again_refused, drill = _drills(workspace)
    assert (refusal.allowed, again_refused.allowed, drill.allowed) == (False, False, True)


def test_refused_without_rollback_authority(workspace, rollout) -> None:
    result = rollout("drill", "plan.yaml", "--as", "mallory", "--state-dir", "state")
    assert result.code == 5
    assert "error: drill refused: mallory is not in rollback.authority (alice, bob, carol)" in result.err
    (event,) = _drills(workspace)
    assert not event.allowed


def test_a_router_that_cannot_be_read_is_a_router_failure(workspace, rollout) -> None:
    result = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state", "--router", "file:path=nope.json")
    assert result.code == 4
    assert "error: router file nope.json does not exist" in result.err
    (event,) = _drills(workspace)
    assert event.evidence["outcome"] == "fail" and event.evidence["error"] == "router file nope.json does not exist"


def test_the_countdown_shows_the_running_step_and_the_budget_left(workspace) -> None:
    from rich.console import Console

    from rollout_cli.cli.commands_runbook import DrillCountdown
    from rollout_cli.transitions.steps import StepResult

    view = DrillCountdown(load_plan(workspace.plan))
    console = Console(width=100, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(view)
    before = console.export_text()
    assert before.splitlines()[0] == "budget 5m: 0.0s used, 300.0s left"
    assert [line.split()[2] for line in before.splitlines()[2:]] == ["baseline", "router", "true"]
    assert before.count("waiting") == 3
    view.start()
    view.step_done(StepResult("route baseline", "route", 0.25, "pass", ""))
    console.print(view)
    during = console.export_text().splitlines()
    assert during[0].startswith("budget 5m: 0.") and during[0].endswith("s left")
    assert during[2].split()[:5] == ["1", "route", "baseline", "pass", "0.25s"]
    assert during[3].split()[:4] == ["2", "verify", "router", "running"]
    assert during[4].split()[:4] == ["3", "run", "true", "waiting"]


def test_a_router_that_cannot_be_put_back_is_a_router_failure_with_the_manual_fix(workspace, rollout) -> None:
    # the rollback "works", then something replaces the router file with a folder: restoring must fail loudly
    workspace.write_plan(plan_text([(["sh", "-c", "rm router.json && mkdir router.json"], "5s")]))
    result = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state")
    assert result.code == 4
    assert "error: the drill could not put the router back: router file router.json is not a regular file" \
        in result.err
    assert "what to do: restore it by hand to candidate 0% served, 100% mirrored: python3 -c" in result.err
    (event,) = _drills(workspace)
    assert event.evidence["outcome"] == "fail"
    assert event.reason.startswith("drill fail on file:path=router.json: the router failed: the drill could not put")
