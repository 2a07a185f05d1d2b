"""The evaluation history on PostgreSQL: `state copy` carries it there and back, and a person's
`rollout evaluate` joins it on the shared store as it does on SQLite (docs/team.md)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from rollout_support import T0, evaluation, simulate, write_plan
from rollout_support import run_in_process as run

from rollout_cli.evaluation.verdict import Check
from rollout_cli.plan import load_plan
from rollout_cli.state.locate import open_store
from rollout_cli.stats.outcome import Outcome
from rollout_cli.transitions import moves
from rollout_cli.transitions.context import Rollout
from rollout_cli.transitions.history import keep_evaluation


def history(capsys: pytest.CaptureFixture[str], path: Path, where: str) -> list[dict]:  # type: ignore[type-arg]
    code, out, err = run(capsys, "history", str(path), "--state", where, "--evaluations", "--json")
    assert code == 0, err
    return list(json.loads(out)["evaluations"])


def test_state_copy_carries_the_evaluation_history_to_postgresql_and_back(here: Path, pg_cluster, capsys) -> None:  # type: ignore[no-untyped-def]
    path = write_plan(here)
    source = str(here / ".rollout")
    rollout = Rollout.open(load_plan(path), open_store(source))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    moves.advance(rollout, "shadow", rollout.plan.stage("canary"), actor="alice", reason="setup", now=T0,
                  evidence=None)
    harm = evaluation("fail", failing=("ios",))
    harm = replace(harm, checks=tuple(replace(c, effect=-0.4, interval=(-0.5, -0.3), units={"baseline": 900,
                   "candidate": 60}, guard="max_drop 2%") for c in harm.checks) + (
        Check("conversion", None, Outcome.INCONCLUSIVE, "undecided", 0.1, 0.099, -0.01, (-0.03, 0.01),
              {"baseline": 9000, "candidate": 500}, guard="max_drop 2%"),))
    for i, kept in enumerate((evaluation("inconclusive", reasons=("too few units",)), harm)):
        keep_evaluation(rollout.store, rollout.plan, kept, actor="controller", source="tick",
                        at=T0 + timedelta(minutes=i))
    rollout.store.close()
    before = history(capsys, path, source)
    assert [len(e["checks"]) for e in before] == [0, 2]

    target = pg_cluster.new_database(init=False)
    code, out, err = run(capsys, "state", "copy", "--state", source, "--to", target, "--json")
    assert code == 0, err
    assert json.loads(out)["rows"] == {"rollouts": 1, "transitions": 2, "events": 2, "evaluations": 2,
                                       "evaluation_checks": 2}
    assert history(capsys, path, target) == before  # ids, checks, estimates, intervals and limits alike

    back = str(here / "back")  # and back to a SQLite folder (a team that stops sharing)
    code, out, err = run(capsys, "state", "copy", "--state", target, "--to", back, "--json")
    assert code == 0, err
    assert json.loads(out)["rows"]["evaluations"] == 2
    assert history(capsys, path, back) == before
    assert run(capsys, "state", "copy", "--state", target, "--to", back)[0] == 2  # never twice
    status = json.loads(run(capsys, "status", str(path), "--state", back, "--json")[1])
    assert (status["status"], status["stage"]) == ("running", "canary")
    # both copies keep numbering after the copied ids
    for where in (target, back):
        store = open_store(where)
        try:
            assert keep_evaluation(store, load_plan(path), harm, actor="controller", source="tick", at=T0) == 3
        finally:
            store.close()
    events = json.loads(run(capsys, "history", str(path), "--state", target, "--json")[1])["events"]
    assert [e["action"] for e in events][-2:] == ["state_copied", "state_copied"]  # from SQLite, then to it


def test_a_persons_evaluate_joins_the_history_on_postgresql(here: Path, pg_cluster, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.new_database()
    path = write_plan(here)
    plan = load_plan(path)
    simulate(plan, here, T0, 1, candidate_pct=5, shadow_pct=0, part=1, units=4000)
    monkeypatch.setenv("ROLLOUT_NOW", (T0 + timedelta(hours=1)).isoformat())
    # no rollout of this plan on the shared store yet: the verdict is given, nothing is kept
    code, out, err = run(capsys, "evaluate", str(path), "--stage", "canary", "--state", url, "--json")
    assert code in (0, 1, 3), err
    assert history(capsys, path, url) == []

    rollout = Rollout.open(plan, open_store(url))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    rollout.store.close()
    code, out, err = run(capsys, "evaluate", str(path), "--stage", "canary", "--state", url, "--json")
    assert code in (0, 1, 3) and "not kept" not in err, err
    verdict = json.loads(out)["verdict"]
    monkeypatch.setenv("ROLLOUT_ACTOR", "alice")  # one of the role's names: it may narrow to it
    assert run(capsys, "evaluate", str(path), "--stage", "canary", "--state", url, "--json")[0] == code
    monkeypatch.setenv("ROLLOUT_ACTOR", "dana")  # not one of the role's names: the verdict stands, not kept
    code_dana, _, err = run(capsys, "evaluate", str(path), "--stage", "canary", "--state", url, "--json")
    assert code_dana == code and "the evaluation was not kept in the history" in err and "may not act as dana" in err
    kept = history(capsys, path, url)
    # the actor is the authenticated role's name, never a claim: `test` here, then `alice` it may act as
    assert [(e["actor"], e["source"], e["stage"], e["verdict"]) for e in kept] == [
        ("test", "evaluate", "canary", verdict), ("alice", "evaluate", "canary", verdict)]
