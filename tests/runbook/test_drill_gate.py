"""The drill gate: traffic leaves shadow only after a recent, passing drill of this rollback section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from runbook_helpers import edited_plan_text

from rollout_cli.plan import load_plan
from rollout_cli.state.drills import DRILL_ACTION
from rollout_cli.state.records import RolloutState
from rollout_cli.state.store import StateStore
from rollout_cli.transitions.drill_gate import drill_gate

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def plan(workspace):
    return load_plan(workspace.plan)


@pytest.fixture
def store(workspace) -> StateStore:
    return StateStore.open(workspace.root / "state")


def drill(store: StateStore, plan, *, days_ago: float, outcome: str = "pass", digest: str | None = None) -> None:
    evidence = {"outcome": outcome, "duration_s": 0.5, "budget_s": 300.0, "router": "file:path=router.json",
                "rollback_digest": digest or plan.rollback.digest, "steps": []}
    store.record_event(plan, DRILL_ACTION, "alice", True, "drill", evidence=evidence,
                       at=NOW - timedelta(days=days_ago))


def refusal(plan, why: str, command: str = "rollout drill plan.yaml") -> str:
    return (
        "traffic may not leave shadow: no passing drill since 2026-11-11 12:00 UTC (require_drill: 14d) "
        f"whose rollback section matches the plan (digest {plan.rollback.digest}); {why}; run: {command}"
    )


def test_no_drill_on_record(plan, store) -> None:
    assert drill_gate(plan, store, NOW) == refusal(plan, "no drill on record")


def test_a_drill_older_than_the_window(plan, store) -> None:
    drill(store, plan, days_ago=15)
    assert drill_gate(plan, store, NOW) == refusal(
        plan, "the last passing drill (2026-11-10 12:00 UTC) is older than that")


def test_a_drill_of_another_rollback_section(plan, store) -> None:
    drill(store, plan, days_ago=1, digest="0123456789abcdef")
    assert drill_gate(plan, store, NOW) == refusal(
        plan, "the last passing drill (2026-11-24 12:00 UTC) rehearsed a different rollback section "
              "(digest 0123456789abcdef)")


def test_a_failed_drill(plan, store) -> None:
    drill(store, plan, days_ago=1, outcome="fail")
    assert drill_gate(plan, store, NOW) == refusal(plan, "the last drill (2026-11-24 12:00 UTC) failed")


def test_a_recent_passing_drill_opens_the_gate(plan, store) -> None:
    drill(store, plan, days_ago=13.9)
    drill(store, plan, days_ago=1, outcome="fail")  # a passing drill inside the window is enough
    assert drill_gate(plan, store, NOW) is None


def test_the_digest_follows_the_rollback_section(workspace, plan, store) -> None:
    drill(store, plan, days_ago=1)
    workspace.write_plan(edited_plan_text(lambda d: d["rollback"].update(authority=["team:oncall"])))
    changed = load_plan(workspace.plan)
    assert drill_gate(changed, store, NOW) is not None


def test_no_requirement_no_gate(workspace, store) -> None:
    workspace.write_plan(edited_plan_text(lambda d: d["rollback"].pop("require_drill")))
    assert drill_gate(load_plan(workspace.plan), store, NOW) is None


def test_during_a_rollout_the_refusal_asks_for_a_staging_router(plan, store) -> None:
    with store.write() as conn:
        store.put(conn, RolloutState(plan="ranker-v7", status="running", stage="shadow", stage_started_at=NOW,
                                     candidate_traffic=0.0, shadow=100.0))
    assert drill_gate(plan, store, NOW) == refusal(
        plan, "no drill on record",
        "rollout drill plan.yaml --router ADAPTER:KEY=VALUE,... (a staging router: the rollout in progress "
        "owns the live one)")
