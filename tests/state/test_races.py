"""Races the journal must win: a completion never overwrites a finished rollback, and an advance
or completion that another command beat exits like a hold (3), not like a failing stage (1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_support import T0, plan_in, router_split

from rollout_cli.errors import ExitCode
from rollout_cli.routers.base import BASELINE_ONLY
from rollout_cli.state import journal
from rollout_cli.state.store import StateStore
from rollout_cli.transitions import controller, moves
from rollout_cli.transitions.context import LostRace, Rollout, Superseded
from rollout_cli.transitions.decide import Action
from rollout_cli.transitions.rollback import rollback


def _at_full(directory: Path) -> Rollout:
    plan = plan_in(directory)
    rollout = Rollout.open(plan, StateStore.open(directory / ".rollout"))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    previous = plan.stages[0].name
    for stage in plan.stages[1:]:
        moves.advance(rollout, previous, stage, actor="carol", reason="setup", now=T0, evidence=None)
        previous = stage.name
    return rollout


def _complete(rollout: Rollout) -> controller.StepReport:
    state = rollout.state()
    action = Action("complete", "the final stage passes", "pass", state.stage, None, ExitCode.OK)
    return controller.act(rollout, state, action, None, actor="controller", now=T0, reconciled=(),
                           evidence_extra={}, on_step=None, dedupe_holds=False)


def test_a_completion_never_overwrites_a_rollback_that_finished_after_its_router_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rollout = _at_full(tmp_path)
    real_check = moves.router_problem

    def check_then_lose_the_race(r: Rollout, state):  # type: ignore[no-untyped-def]
        problem = real_check(r, state)  # the router agrees ...
        rollback(rollout, actor="bob", reason="harm", now=T0)  # ... then a rollback finishes
        return problem

    monkeypatch.setattr(moves, "router_problem", check_then_lose_the_race)
    with pytest.raises(Superseded) as caught:
        _complete(rollout)
    assert caught.value.exit_code == ExitCode.FAILED
    state = rollout.state()
    assert (state.status, router_split(tmp_path)) == ("rolled_back", BASELINE_ONLY)
    completes = rollout.store.events("ranker", "complete")
    assert [(e.evidence or {}).get("result") for e in completes] == ["superseded"]


def test_a_second_completion_loses_with_exit_3_and_records_no_second_complete(tmp_path: Path) -> None:
    rollout = _at_full(tmp_path)
    state = rollout.state()
    _complete(rollout)
    action = Action("complete", "the final stage passes", "pass", state.stage, None, ExitCode.OK)
    with pytest.raises(LostRace) as caught:  # judged while "running", written after the first completed
        controller.act(rollout, state, action, None, actor="controller", now=T0, reconciled=(),
                        evidence_extra={}, on_step=None, dedupe_holds=False)
    assert caught.value.exit_code == ExitCode.INCONCLUSIVE
    results = [(e.evidence or {}).get("result") for e in rollout.store.events("ranker", "complete")]
    assert results == [None, "superseded"]
    assert rollout.state().status == "completed"


def test_an_advance_beaten_by_another_exits_3(tmp_path: Path) -> None:
    plan = plan_in(tmp_path)
    rollout = Rollout.open(plan, StateStore.open(tmp_path / ".rollout"))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    shadow, canary = plan.stages[0], plan.stages[1]
    moves.advance(rollout, shadow.name, canary, actor="carol", reason="first", now=T0, evidence=None)
    with pytest.raises(LostRace) as caught:  # judged at shadow, like the first one
        moves.advance(rollout, shadow.name, canary, actor="carol", reason="second", now=T0, evidence=None)
    assert caught.value.exit_code == ExitCode.INCONCLUSIVE
    assert "another command moved it first" in caught.value.message
    assert rollout.state().stage == canary.name
    assert not [t for t in journal.all_transitions(rollout.store, "ranker") if t.is_open]


def test_a_run_loop_overtaken_by_another_advance_keeps_ticking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from datetime import timedelta

    from rollout_support import simulate

    monkeypatch.chdir(tmp_path)  # the plan's log glob is relative
    monkeypatch.setenv("ROLLOUT_NOW", T0.isoformat())  # the store's clock
    plan = plan_in(tmp_path)
    rollout = Rollout.open(plan, StateStore.open(tmp_path / ".rollout"))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    simulate(plan, tmp_path, T0, 1, candidate_pct=0, shadow_pct=100, part=1)  # a shadow that passes
    shadow, canary = plan.stages[0], plan.stages[1]
    real_act, calls = controller.act, []

    def overtaken_once(r: Rollout, state, action, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(action.kind)
        if len(calls) == 1:  # a person advances between this tick's verdict and its move
            moves.advance(rollout, shadow.name, canary, actor="carol", reason="by hand", now=T0, evidence=None)
        return real_act(r, state, action, *args, **kwargs)

    monkeypatch.setattr(controller, "act", overtaken_once)
    result = controller.run_loop(rollout, run_by="controller", every_s=0, max_ticks=2, stop=threading.Event(),
                                 clock=lambda: T0 + timedelta(hours=1))
    first, second = result.rows
    assert calls[0] == "advance" and first.exit_code is ExitCode.INCONCLUSIVE
    assert first.reason.startswith("overtaken: ") and "another command moved it first" in first.reason
    assert second.report is not None and second.from_stage == canary.name  # the loop went on, from canary
    assert len(calls) == 2  # (what the canary tick then decides depends on its own data)
