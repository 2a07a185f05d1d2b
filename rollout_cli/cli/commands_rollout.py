"""`rollout start | status | advance | rollback | tick | run | history` (SPEC §5).

Thin: parse, call one core function in rollout_cli.transitions, hand the result to a reporter.
Every command reconciles an interrupted transition before doing anything else.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Self

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from rollout_cli.cli import rollout_views as views
from rollout_cli.cli.options import ActorOpt, JsonOpt, PlanArg, StateDirOpt
from rollout_cli.cli.output import console, err_console, print_json
from rollout_cli.errors import ExitCode, RouterError, UsageError
from rollout_cli.plan import load_plan
from rollout_cli.state.clock import utc_now
from rollout_cli.state.identity import current_actor
from rollout_cli.state.store import StateStore
from rollout_cli.transitions import controller, manual
from rollout_cli.transitions.context import Rollout
from rollout_cli.transitions.reconcile import reconcile
from rollout_cli.units import format_split, parse_duration

ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why: recorded in the audit trail.")]


def _open(plan_path: Path, state_dir: Path | None) -> Rollout:
    return Rollout.open(load_plan(plan_path), StateStore.open(state_dir))


def start(plan: PlanArg, reason: ReasonOpt = None, as_: ActorOpt = None, state_dir: StateDirOpt = None,
          json_out: JsonOpt = False) -> None:
    """Begin the rollout at its first stage: set the router, verify it, record the state.

    Example: rollout start plans/ranker-v42.yaml --as alice
    """
    rollout = _open(plan, state_dir)
    first = rollout.plan.stages[0]
    result = manual.start(rollout, actor=current_actor(as_), reason=reason or "start the rollout", now=utc_now())
    doc = {"plan": rollout.plan.name, "action": "start", "stage": result.to_stage, "status": result.state.status,
           **first.split.to_json()}
    if json_out:
        print_json(doc)
        return
    console.print(f"[bold green]started[/] {rollout.plan.name} at stage {first.name}: {result.split} (router verified)")


def status(plan: PlanArg, as_: ActorOpt = None, state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """Stage, shares, time in stage, last verdict, and what happens next.

    Example: rollout status plans/ranker-v42.yaml
    """
    rollout = _open(plan, state_dir)
    now = utc_now()
    reconcile_error = None
    try:
        reconciled = reconcile(rollout, actor=current_actor(as_), now=now)
    except RouterError as exc:  # still show what the state knows; the exit code says the router failed
        reconciled, reconcile_error = [], exc.message
    router_split, router_error = None, None
    try:
        router_split = rollout.router.read()
    except RouterError as exc:
        router_error = exc.message
    doc = views.status_document(rollout, rollout.state(), now, router_split, router_error, reconciled)
    doc["reconcile_error"] = reconcile_error
    if json_out:
        print_json(doc)
    else:
        console.print(views.status_panel(doc))
        if reconcile_error:
            err_console.print(f"[bold red]an interrupted transition could not be reconciled:[/] {reconcile_error}")
    # The router is the ground truth: a started rollout whose router cannot be read, or serves
    # another split than the state says, or whose rollback is unverified, is not fine (SPEC §5: 4).
    if reconcile_error or doc["rollback_incomplete"] or doc["router_agrees"] is False:
        raise typer.Exit(int(ExitCode.ROUTER))


def advance(plan: PlanArg, force: Annotated[bool, typer.Option("--force", help="Advance whatever the verdict "
            "(approvers only; needs --reason).")] = False, reason: ReasonOpt = None, as_: ActorOpt = None,
            state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """Move to the next stage if the current one passes; an approver's run also approves a gated stage.

    Example: rollout advance plans/ranker-v42.yaml --as carol
    """
    if force and not reason:
        raise UsageError("--force needs --reason TEXT: a forced advance must say why in the audit trail")
    rollout = _open(plan, state_dir)
    report = manual.advance(rollout, actor=current_actor(as_), reason=reason or "", force=force,
                                       now=utc_now())
    _finish_step(rollout, report, json_out)


def rollback(plan: PlanArg, reason: Annotated[str, typer.Option("--reason", help="Why: recorded in the audit trail.")],
             as_: ActorOpt = None, state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """Run the plan's rollback steps (route, verify, run, notify), timed, and record it.

    Exits 4 when the router cannot be verified at the baseline, printing what to do by hand.
    Example: rollout rollback plans/ranker-v42.yaml --reason "conversion down on iOS" --as bob
    """
    rollout_plan = load_plan(plan)
    on_step = None if json_out else views.print_step_result
    try:
        result = manual.roll_back(rollout_plan, state_dir=state_dir, actor=current_actor(as_), reason=reason,
                                  now=utc_now(), on_step=on_step)
    except manual.RollbackNotRun as exc:  # the person at 3am gets the router's manual commands
        views.print_manual_rollback(exc.manual_commands)
        raise
    if json_out:
        print_json(result.to_json(rollout_plan.name, rollout_plan.rollback.max_duration_s))
    else:
        views.print_rollback(result, steps_already_shown=True)
    if result.exit_code:
        raise typer.Exit(int(result.exit_code))


def tick(plan: PlanArg, as_: ActorOpt = None, state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """One controller step: evaluate the stage, then advance, hold, roll back or complete. For cron.

    Example: rollout tick plans/ranker-v42.yaml --json
    """
    rollout = _open(plan, state_dir)
    on_step = None if json_out else views.print_step_result
    report = controller.tick(rollout, run_by=current_actor(as_), now=utc_now(), on_step=on_step)
    _finish_step(rollout, report, json_out)


def _finish_step(rollout: Rollout, report: controller.StepReport, json_out: bool) -> None:
    if json_out:
        print_json(report.to_json(rollout.plan.name))
    else:
        views.print_step(report)
    if report.exit_code:
        raise typer.Exit(int(report.exit_code))


def run(plan: PlanArg, interval: Annotated[str, typer.Option("--interval", help="Time between ticks.")] = "1m",
        max_ticks: Annotated[int | None, typer.Option("--max-ticks", min=1, help="Stop after this many ticks.")] = None,
        as_: ActorOpt = None, state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """Tick in a loop with a live view until the rollout completes or rolls back.

    Ctrl-C (or SIGTERM) never cuts a transition in half: the current tick finishes, then the loop stops.
    Example: rollout run plans/ranker-v42.yaml --interval 5m
    """
    try:
        every = parse_duration(interval)
    except ValueError as exc:
        raise UsageError(f"--interval: {exc}") from None
    if every > 86400:
        raise UsageError(f"--interval {interval}: ticks more than a day apart would leave a harm unwatched",
                         hint="e.g. --interval 5m; for rare checks, run `rollout tick` from cron")
    if every <= 0 and max_ticks is None:
        # A loop without a pause would hammer the router and the logs for as long as it runs.
        raise UsageError(f"--interval {interval}: the time between ticks must be more than 0s",
                         hint="e.g. --interval 1m (0s is allowed only with --max-ticks N)")
    rollout = _open(plan, state_dir)
    stop = threading.Event()
    rows: list[controller.RunRow] = []

    def show(row: controller.RunRow) -> None:
        rows.append(row)
        live.update(_run_table(rollout, rows))

    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Live(_run_table(rollout, rows), console=console, refresh_per_second=4,
                  transient=False, redirect_stdout=False) if not json_out else _NoLive() as live:
            result = controller.run_loop(rollout, run_by=current_actor(as_), every_s=every, max_ticks=max_ticks,
                                         stop=stop, clock=utc_now, on_row=show)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if json_out:
        print_json(result.to_json(rollout.plan.name))
    else:
        console.line()
        if result.interrupted:
            err_console.print("stopped between ticks: no transition was cut short")
        if result.router_error is not None:
            raise result.router_error  # the one handler prints it with its hint, exit 4
    if result.exit_code:
        raise typer.Exit(int(result.exit_code))


class _NoLive:
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, _renderable: object) -> None:
        return None


def _run_table(rollout: Rollout, rows: list[controller.RunRow]) -> Table:
    state = rollout.state()
    table = Table(title=f"rollout {rollout.plan.name}: {state.status} at {state.stage or '-'} "
                  f"({format_split(state.candidate_traffic, state.shadow)})")
    for column in ("tick", "stage", "verdict", "decision", "reason"):
        table.add_column(column, overflow="fold")
    for i, row in enumerate(rows[-15:], start=max(1, len(rows) - 14)):
        table.add_row(str(i), str(row.from_stage or "-"), row.verdict or "-", row.decision, escape(row.reason))
    return table


def history(plan: PlanArg, action: Annotated[str | None, typer.Option("--action", help="Only this action.")] = None,
            state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """The audit trail: who did what, when, why, with the evidence.

    Example: rollout history plans/ranker-v42.yaml --json
    """
    rollout_plan = load_plan(plan)
    events = StateStore.open(state_dir).events(rollout_plan.name, action)
    if json_out:
        print_json({"plan": rollout_plan.name, "events": [e.to_json() for e in events]})
    else:
        console.print(views.history_table(rollout_plan.name, events))


def register(app: typer.Typer) -> None:
    for command in (start, status, advance, rollback, tick, run, history):
        app.command(name=command.__name__)(command)
