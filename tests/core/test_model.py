"""The typed plan: units, references and defaults resolved once, at load time."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout_cli.plan import load_plan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plan():
    return load_plan(ROOT / "plans" / "ranker-v42.yaml")


def test_stages_are_resolved(plan) -> None:
    shadow, canary = plan.stages[0], plan.stages[1]
    assert (shadow.name, shadow.is_shadow, shadow.shadow, shadow.min_duration_s) == ("shadow", True, 100.0, 86400)
    assert [g.metric.name for g in shadow.guards] == ["agreement", "latency_p99"]
    assert (canary.traffic, canary.min_units, canary.is_shadow) == (1.0, 2000, False)
    assert [g.metric.name for g in canary.guards] == ["conversion", "revenue", "latency_p99", "error_rate"]
    assert plan.stage("ramp-25").approval_required
    assert plan.next_stage(plan.stages[-1]) is None


def test_guards_carry_units_and_locations(plan) -> None:
    conversion, revenue, latency, errors = plan.guards
    assert conversion.max_drop == pytest.approx(0.02) and conversion.per_segment
    assert latency.max_increase == pytest.approx(0.10) and latency.max == 250
    assert errors.max == pytest.approx(0.005)
    assert conversion.metric.window_s == 3600
    assert conversion.location is not None and conversion.location.line == 30


def test_people_and_columns_are_resolved(plan) -> None:
    assert plan.rollback.authorized_people == {"alice", "bob", "carol"}
    assert plan.rollback.approver_people == {"carol"}
    assert plan.data.column("unit_id") == "user_id"
    assert plan.data.column("ts") == "ts"
    assert plan.rollback.steps[2].timeout_s == 120
    assert plan.rollback.steps[2].value == ("kubectl", "scale", "deploy/ranker-v42", "--replicas=0")


def test_rollback_digest_follows_the_section(plan, tmp_path: Path) -> None:
    text = (ROOT / "plans" / "ranker-v42.yaml").read_text()
    changed = tmp_path / "changed.yaml"
    changed.write_text(text.replace("authority: [team:ranking-oncall, carol]", "authority: [team:ranking-oncall]"))
    assert load_plan(changed).rollback.digest != plan.rollback.digest
    same = tmp_path / "same.yaml"
    same.write_text(text.replace("description: Two-tower", "description: The two-tower"))
    assert load_plan(same).rollback.digest == plan.rollback.digest
