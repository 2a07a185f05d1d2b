"""One step of the rollout: evaluate the current stage, decide, act — for `tick`, `run` (the
loop of ticks, `run_loop`) and a person's `advance` (manual.py).

Automatic actions (tick, run) are recorded with the actor "controller"; the person or service
account that ran the controller is kept in the evidence as "run_by".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from rollout_cli.drift.check import DriftCheck
from rollout_cli.errors import DataError, ExitCode, RouterError
from rollout_cli.evaluation.verdict import Evaluation, SrmResult
from rollout_cli.plan.model import Plan
from rollout_cli.state import journal
from rollout_cli.state.identity import CONTROLLER
from rollout_cli.state.records import RolloutState
from rollout_cli.state.store import StateStoreError
from rollout_cli.stats.outcome import Outcome
from rollout_cli.transitions import alerts, moves
from rollout_cli.transitions.context import Rollout, Superseded, drill_refusal
from rollout_cli.transitions.decide import Action, decide
from rollout_cli.transitions.drift_actions import act_on_drift
from rollout_cli.transitions.history import keep_evaluation
from rollout_cli.transitions.reconcile import reconcile
from rollout_cli.transitions.rollback import RollbackNotRun, RollbackResult, manual_commands, rollback
from rollout_cli.transitions.steps import StepResult
from rollout_cli.units import format_duration


@dataclass(frozen=True)
class StepReport:
    """What one controller step (or a manual advance) did."""

    action: Action
    evaluation: Evaluation | None
    state: RolloutState
    rollback: RollbackResult | None = None
    reconciled: tuple[str, ...] = ()
    drift: DriftCheck | None = None  # the last complete window's drift, when the plan checks it

    @property
    def exit_code(self) -> ExitCode:
        if self.rollback is not None and self.rollback.exit_code is ExitCode.ROUTER:
            return ExitCode.ROUTER  # a rollback step failed or the router is not verified
        return self.action.exit_code

    def to_json(self, plan_name: str) -> dict[str, Any]:
        return {
            "plan": plan_name, "action": self.action.json_action, "decision": self.action.kind,
            "reason": self.action.reason, "from_stage": self.action.from_stage, "to_stage": self.action.to_stage,
            "status": self.state.status, "rollback_incomplete": self.state.rollback_incomplete,
            "evaluation": self.evaluation.to_json() if self.evaluation else None,
            "rollback": self.rollback.run.to_json() if self.rollback and self.rollback.run else None,
            "reconciled": list(self.reconciled),
            "drift": self.drift.to_json() if self.drift else None,
        }


def judged_since(plan: Plan, state: RolloutState) -> datetime | None:
    """Where a stage's window starts: its split was verified at the router (the stage clock), plus the
    plan's settling time, so requests in flight under the old split are never judged as the new one's."""
    if state.stage_started_at is None:
        return None
    return state.stage_started_at + timedelta(seconds=plan.decision.settling_s)


def evaluate_current(rollout: Rollout, state: RolloutState, now: datetime, *, actor: str, source: str) -> Evaluation:
    """The current stage judged on the data from `judged_since` up to `now` (inconclusive while settling);
    kept in the evaluation history (transitions/history.py)."""
    from rollout_cli.evaluation.stage import evaluate_stage

    stage = rollout.plan.stage(state.stage or "")
    since = judged_since(rollout.plan, state)
    if since is not None and now < since:
        from rollout_cli.data.source import open_logs

        with open_logs(rollout.plan.data):  # no data is judged yet, but missing logs are said at once
            evaluation = settling(rollout.plan, stage.name, since, now)
    else:
        from rollout_cli.logcache import cache_enabled

        cache_dir = getattr(rollout.store, "state_dir", None) if cache_enabled() else None  # a local store only
        evaluation = evaluate_stage(rollout.plan, stage, since=since, until=now, now=now, split=state.split,
                                    stage_started=state.stage_started_at, cache_dir=cache_dir)
    keep_evaluation(rollout.store, rollout.plan, evaluation, actor=actor, source=source, at=now)
    return evaluation


def settling(plan: Plan, stage: str, since: datetime, now: datetime) -> Evaluation:
    """Inconclusive, reading no data: the stage's judged window has not begun."""
    left = (since - now).total_seconds()
    why = (f"settling: {stage} is judged on requests from {since.isoformat()} (its split verified at the router "
           f"+ settling_time {format_duration(plan.decision.settling_s)}), {left:.0f}s from now")
    return Evaluation(plan=plan.name, stage=stage, verdict=Outcome.INCONCLUSIVE, since=since, until=now,
                      units={"baseline": 0, "candidate": 0},
                      srm=SrmResult(Outcome.INCONCLUSIVE, None, None, reason="settling"), checks=(), reasons=(why,))


def current_drift(rollout: Rollout, state: RolloutState, now: datetime) -> DriftCheck | None:
    """The drift of the last complete window, when the plan checks drift and the rollout is live."""
    if not rollout.plan.drift.enabled or state.status not in ("running", "monitoring") or state.rollback_incomplete:
        return None
    from rollout_cli.drift.run import check_drift

    return check_drift(rollout.plan, now)


def leaves_shadow(rollout: Rollout, state: RolloutState) -> bool:
    if state.stage is None:
        return False
    stage = rollout.plan.stage(state.stage)
    following = rollout.plan.next_stage(stage)
    return stage.is_shadow and following is not None and not following.is_shadow


def tick(rollout: Rollout, *, run_by: str, now: datetime,
         on_step: Callable[[StepResult], None] | None = None) -> StepReport:
    """One controller step, honouring auto_advance/auto_rollback and the stage's limits."""
    reconciled = tuple(reconcile(rollout, actor=CONTROLLER, now=now))
    state = rollout.state()
    drift = current_drift(rollout, state, now)
    evaluation = None
    if state.status == "running" and not state.rollback_incomplete:
        evaluation = replace(evaluate_current(rollout, state, now, actor=CONTROLLER, source="tick"), drift=drift)
    act_on_drift(rollout, state, drift, actor=CONTROLLER, now=now)
    refusal = drill_refusal(rollout, now) if leaves_shadow(rollout, state) else None
    action = decide(rollout.plan, state, evaluation, now, drill_refusal=refusal, drift=drift)
    report = act(rollout, state, action, evaluation, actor=CONTROLLER, now=now, reconciled=reconciled,
                 evidence_extra={"run_by": run_by, "drift": drift.to_json() if drift else None}, on_step=on_step,
                 dedupe_holds=True)
    return replace(report, drift=drift)


def act(rollout: Rollout, state: RolloutState, action: Action, evaluation: Evaluation | None, *, actor: str,
         now: datetime, reconciled: tuple[str, ...], evidence_extra: dict[str, Any],
         on_step: Callable[[StepResult], None] | None, dedupe_holds: bool) -> StepReport:
    plan, store = rollout.plan, rollout.store
    if action.kind in ("complete", "monitor"):  # an advance checks the same under the plan lock (moves.py)
        problem = moves.router_problem(rollout, state)
        if problem is not None:  # never call a rollout complete on a router the state does not describe
            action = Action("hold", f"not completing: {problem}; see `rollout status`, or roll back", "router",
                            action.from_stage, action.to_stage, ExitCode.ROUTER)
    evidence = {**evidence_extra, "decision": action.code,
                "evaluation": evaluation.to_json() if evaluation else None}
    if action.kind == "advance" and action.to_stage:
        try:
            moves.advance(rollout, state.stage or "", plan.stage(action.to_stage), actor=actor,
                          reason=action.reason, now=now, evidence=evidence)
        except Superseded as exc:
            store.record_event(plan, "advance", actor, True, exc.message, state.stage, action.to_stage,
                               {**evidence, "result": "superseded"}, at=now)
            raise
        new_state = _remember(rollout, evaluation, f"advance:{action.code}:{state.stage}", now)
        alerts.after_step(rollout, state, "advance", reason=action.reason, to_stage=action.to_stage, now=now,
                          deduped=False)
        return StepReport(action, evaluation, new_state, reconciled=reconciled)
    if action.kind == "rollback":
        try:
            outcome = rollback(rollout, actor=actor, reason=action.reason, now=now, evidence=evidence, on_step=on_step)
            new_state = _remember(rollout, evaluation, f"rollback:{action.code}:{state.stage}", now)
        except StateStoreError as exc:  # the store failed mid-way: nothing says the router is at the baseline (exit 4)
            raise RollbackNotRun(f"the rollback stopped, the router may not be at the baseline: {exc.message}",
                                 hint="check the router by hand (as above), then fix the state store; the next "
                                      "tick finishes the rollback from the journal",
                                 manual_commands=manual_commands(plan)) from None
        return StepReport(action, evaluation, new_state, rollback=replace(outcome, state=new_state),
                          reconciled=reconciled)
    key = f"{action.kind}:{action.code}:{state.stage}"
    try:
        return _record_decision(rollout, state, action, evaluation, key, evidence, actor=actor, now=now,
                                reconciled=reconciled, dedupe_holds=dedupe_holds)
    except Superseded as exc:  # a completion that lost: recorded, and nothing changed
        store.record_event(plan, "complete", actor, True, exc.message, state.stage, None,
                           {**evidence, "result": "superseded"}, at=now)
        raise


def _record_decision(rollout: Rollout, state: RolloutState, action: Action, evaluation: Evaluation | None, key: str,
                     evidence: dict[str, Any], *, actor: str, now: datetime, reconciled: tuple[str, ...],
                     dedupe_holds: bool) -> StepReport:
    plan, store = rollout.plan, rollout.store
    with store.write() as conn:
        current = rollout.state()
        if action.kind == "complete":
            # Re-checked in the transaction that writes `completed`: a rollback (or another
            # completion) that finished since the router check above must not be overwritten.
            if any(t.kind == "rollback" for t in journal.open_transitions(store, plan.name, conn)):
                raise Superseded(f"completion of {plan.name} aborted: a rollback is in progress")
            moves.check_still_running(rollout, current, state.stage, "completion", ("running", "monitoring"))
        updates: dict[str, Any] = {"last_decision": key}
        if evaluation is not None:
            updates.update(last_verdict=evaluation.verdict.value, last_evaluated_at=now)
        if action.kind == "complete":
            updates["status"] = "completed"
        if action.kind == "monitor":  # monitoring starts now: stage_started_at times drift.monitor_for
            updates.update(status="monitoring", stage_started_at=now)
        new_state = replace(current, **updates)
        if current.status in ("running", "monitoring") or action.kind == "complete":
            store.put(conn, new_state)
        if action.kind in ("complete", "monitor"):
            store.record_event(plan, action.kind, actor, True, action.reason, state.stage, None, evidence,
                               at=now, conn=conn)
        elif action.kind in ("hold", "await_approval") and not (dedupe_holds and current.last_decision == key):
            store.record_event(plan, "hold", actor, True, action.reason, state.stage, action.to_stage, evidence,
                               at=now, conn=conn)
    if action.kind in ("hold", "await_approval") and state.status == "running":
        alerts.after_step(rollout, state, action.kind, reason=action.reason, to_stage=action.to_stage, now=now,
                          deduped=current.last_decision == key)
    return StepReport(action, evaluation, new_state, reconciled=reconciled)


@dataclass(frozen=True)
class RunRow:
    """One tick of `run_loop`: its report, or the data or router error that ended it with a hold, or
    the move of another process that overtook it."""

    at: datetime
    state: RolloutState  # after the tick
    report: StepReport | None = None
    error: DataError | RouterError | Superseded | None = None

    @property
    def verdict(self) -> str | None:
        return self.report.evaluation.verdict.value if self.report and self.report.evaluation else None

    @property
    def decision(self) -> str:
        return self.report.action.kind if self.report else "hold"

    @property
    def reason(self) -> str:
        if self.report is not None:
            return self.report.action.reason
        if isinstance(self.error, Superseded):
            return f"overtaken: {self.error.message}"
        kind = "router" if isinstance(self.error, RouterError) else "data"
        return f"{kind} error: {self.error.message if self.error else ''}"

    @property
    def from_stage(self) -> str | None:
        return self.report.action.from_stage if self.report else self.state.stage

    @property
    def exit_code(self) -> ExitCode:
        if self.report is not None:
            return self.report.exit_code
        return self.error.exit_code if self.error else ExitCode.OK

    def to_json(self, plan_name: str) -> dict[str, Any]:
        if self.report is not None:
            return {"at": self.at.isoformat(), **self.report.to_json(plan_name)}
        return {"at": self.at.isoformat(), "plan": plan_name, "action": "hold", "decision": "hold",
                "reason": self.reason, "from_stage": self.state.stage, "to_stage": None,
                "status": self.state.status, "evaluation": None}


@dataclass(frozen=True)
class RunResult:
    """How `run_loop` ended: its rows, whether a stop was asked for, and the state at the end."""

    rows: tuple[RunRow, ...]
    interrupted: bool
    state: RolloutState

    @property
    def router_error(self) -> RouterError | None:
        """The router error that ended the loop (a person must look at the router), if any."""
        last = self.rows[-1].error if self.rows else None
        return last if isinstance(last, RouterError) else None

    @property
    def exit_code(self) -> ExitCode:
        """Interrupted: 130. Else the last tick's code, where a hold (3) is not a failure of `run`."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        code = self.rows[-1].exit_code if self.rows else ExitCode.OK
        return ExitCode.OK if code is ExitCode.INCONCLUSIVE else code

    def to_json(self, plan_name: str) -> dict[str, Any]:
        return {"plan": plan_name, "ticks": [row.to_json(plan_name) for row in self.rows],
                "interrupted": self.interrupted, "status": self.state.status}


def run_loop(rollout: Rollout, *, run_by: str, every_s: float, max_ticks: int | None, stop: threading.Event,
             clock: Callable[[], datetime], on_row: Callable[[RunRow], None] | None = None) -> RunResult:
    """Tick every `every_s` seconds until the rollout ends (completed or rolled back), a router
    error needs a person, `max_ticks` ticks ran, or `stop` is set. `stop` is only looked at
    between ticks, so a transition is never cut in half.

    Logs missing or malformed for a while hold (bad data is never good news) and the loop keeps
    watching rather than leave the rollout without a controller. A tick that another process
    overtook (a second controller, a person's advance or rollback) is a row too: nothing changed
    here, and the next tick starts from where the rollout now is (a rollback that took over ends
    the loop, as any rolled-back rollout does).
    """
    rows: list[RunRow] = []
    while not stop.is_set():
        try:
            report = tick(rollout, run_by=run_by, now=clock())
        except RollbackNotRun as exc:  # the store is failing: a person must act now (exit 4)
            alerts.controller_error(rollout, exc.message, now=clock())
            raise
        except (DataError, RouterError) as exc:
            alerts.controller_error(rollout, exc.message, now=clock())
            row = RunRow(at=clock(), state=rollout.state(), error=exc)
        except Superseded as exc:  # recorded by `act`; not an error of this controller
            row = RunRow(at=clock(), state=rollout.state(), error=exc)
        else:
            row = RunRow(at=clock(), state=report.state, report=report)
        rows.append(row)
        if on_row is not None:
            on_row(row)
        if (rollout.state().is_terminal or row.exit_code is ExitCode.ROUTER
                or (max_ticks and len(rows) >= max_ticks)):
            break
        stop.wait(every_s)
    return RunResult(tuple(rows), stop.is_set(), rollout.state())


def _remember(rollout: Rollout, evaluation: Evaluation | None, decision: str, now: datetime) -> RolloutState:
    """Keep the verdict that caused an advance or a rollback, and the decision, for `status`."""
    with rollout.store.write() as conn:
        current = rollout.state()
        if evaluation is None:
            return current
        remembered = replace(current, last_verdict=evaluation.verdict.value, last_evaluated_at=now,
                             last_decision=decision)
        rollout.store.put(conn, remembered)
    return remembered
