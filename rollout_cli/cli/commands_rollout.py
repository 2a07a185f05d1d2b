"""`rollout start | status | advance | rollback | tick | run | history` (docs/commands.md).

Thin: parse, call one core function in rollout_cli.transitions, hand the result to a reporter.
The state is found from the plan (state/location.py). Every command that moves the rollout
reconciles an interrupted transition first; `status` and `history` are read-only.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from rollout_cli.cli import rollout_views as views
from rollout_cli.cli.options import ActorOpt, JsonOpt, PlanArg, StateDirOpt
from rollout_cli.cli.output import console, err_console, print_json
from rollout_cli.cli.plan_state import existing_store, open_rollout
from rollout_cli.cli.run_view import TickView
from rollout_cli.errors import DataError, RouterError, UsageError
from rollout_cli.plan import load_plan
from rollout_cli.routers.registry import router_for
from rollout_cli.state.clock import utc_now
from rollout_cli.state.records import EVENT_ACTIONS
from rollout_cli.transitions import alerts, controller, manual
from rollout_cli.transitions import pause as pausing
from rollout_cli.transitions.authority import acting
from rollout_cli.transitions.context import Rollout
from rollout_cli.transitions.status import read_status
from rollout_cli.units import parse_duration

ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why: recorded in the audit trail.")]


def _open(plan_path: Path, state_dir: str | None) -> Rollout:
    return open_rollout(plan_path, state_dir, create=False)


AdoptOpt = Annotated[bool, typer.Option("--adopt", help="The router already serves one of the plan's stages: "
                                        "record the rollout as running there instead of refusing (audited).")]


def start(plan: PlanArg, reason: ReasonOpt = None, adopt: AdoptOpt = False, as_: ActorOpt = None,
          state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """Begin the rollout at its first stage: set the router, verify it, record the state.

    Refused when the router does not serve the baseline alone (a rollout is live) unless --adopt.
    Example: rollout start plans/ranker-v42.yaml --as alice
    """
    rollout = open_rollout(plan, state_dir, create=True)
    now = utc_now()
    result = manual.start(rollout, actor=acting(rollout, as_, action="start", now=now),
                          reason=reason or "start the rollout", now=now, adopt=adopt)
    doc = {"plan": rollout.plan.name, "action": "start", "stage": result.to_stage, "status": result.state.status,
           **result.split.to_json(), **({"adopted": True} if adopt else {})}
    if json_out:
        print_json(doc)
    elif adopt:
        console.print(f"[bold green]adopted[/] {rollout.plan.name} at stage {result.to_stage}: {result.split} "
                      "(read back from the router; the router was not changed)")
    else:
        console.print(f"[bold green]started[/] {rollout.plan.name} at stage {result.to_stage}: {result.split} "
                      "(router verified)")


def status(plan: PlanArg, state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """Stage, shares, time in stage, last verdict, and what happens next. Read-only.

    Example: rollout status plans/ranker-v42.yaml
    """
    rollout_plan = load_plan(plan)
    where, store = existing_store(rollout_plan, state_dir)
    report = read_status(rollout_plan, store, where, router_for(rollout_plan.router.adapter, rollout_plan.router.options),
                         utc_now())
    if json_out:
        print_json(report.document)
    else:
        console.print(views.status_panel(report.document))
    if report.attention:  # the router is the ground truth (docs/commands.md, `status`)
        raise typer.Exit(int(report.exit_code))


def advance(plan: PlanArg, force: Annotated[bool, typer.Option("--force", help="Advance whatever the verdict "
            "(approvers only; needs --reason).")] = False, reason: ReasonOpt = None, as_: ActorOpt = None,
            state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """Move to the next stage if the current one passes; an approver's run also approves a gated stage.

    Example: rollout advance plans/ranker-v42.yaml --as carol
    """
    if force and not (reason or "").strip():
        raise UsageError("--force needs --reason TEXT: a forced advance must say why in the audit trail")
    rollout = _open(plan, state_dir)
    report = manual.advance(rollout, actor=acting(rollout, as_, action="advance", now=utc_now()),
                            reason=reason or "", force=force,
                                       now=utc_now())
    _finish_step(rollout, report, json_out)


def rollback(plan: PlanArg, reason: Annotated[str, typer.Option("--reason", help="Why: recorded in the audit trail.")],
             as_: ActorOpt = None, state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """Run the plan's rollback steps (route, verify, run, notify), timed, and record it.

    Exits 4 when the router cannot be verified at the baseline, printing what to do by hand.
    Example: rollout rollback plans/ranker-v42.yaml --reason "conversion down on iOS" --as bob
    """
    if not reason.strip():  # checked before anything is read or moved
        raise UsageError("--reason is empty: a rollback must say why, in the audit trail",
                         hint='e.g. --reason "conversion down on iOS"')
    rollout_plan = load_plan(plan)
    on_step = None if json_out else views.print_step_result
    try:
        result = manual.roll_back(rollout_plan, state_dir=state_dir, requested_actor=as_, reason=reason,
                                  now=utc_now(), on_step=on_step)
    except manual.RollbackNotRun as exc:  # the person at 3am gets the router's manual commands
        views.print_manual_rollback(exc.manual_commands)
        raise
    if json_out:
        print_json(result.to_json(rollout_plan.name, rollout_plan.rollback.max_duration_s))
    else:
        views.print_rollback(result, steps_already_shown=True)
    if result.state_problem is not None:  # the rollback ran without the state store
        err_console.print(f"[bold yellow]the state store is unusable ({escape(result.state_problem)}); rolling back "
                          f"without it[/]; recorded in {result.audit_file or 'NOTHING — write down who, when, why'}",
                          soft_wrap=True)
        if not result.router_verified:
            views.print_manual_rollback(manual.manual_commands(rollout_plan))
    if result.exit_code:
        raise typer.Exit(int(result.exit_code))


def tick(plan: PlanArg, as_: ActorOpt = None, state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """One controller step: evaluate the stage, then advance, hold, roll back or complete. For cron.

    Example: rollout tick plans/ranker-v42.yaml --json
    """
    rollout = _open(plan, state_dir)
    on_step = None if json_out else views.print_step_result
    now = utc_now()
    run_by = acting(rollout, as_, action="tick", now=now)
    try:
        report = controller.tick(rollout, run_by=run_by, now=now, on_step=on_step)
    except manual.RollbackNotRun as exc:  # the state store failed during the rollback: exit 4, manual steps
        alerts.controller_error(rollout, exc.message, now=now)
        views.print_manual_rollback(exc.manual_commands)
        raise
    except (DataError, RouterError) as exc:
        alerts.controller_error(rollout, exc.message, now=now)
        raise
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
        as_: ActorOpt = None, state_dir: StateDirOpt = None, json_out: JsonOpt = False,
        metrics_port: Annotated[int | None, typer.Option("--metrics-port", min=0, max=65535, help="Serve the "
                                "rollout's state for Prometheus on 127.0.0.1:PORT/metrics while running.")] = None,
        json_lines: Annotated[bool, typer.Option("--json-lines", help="One JSON document per tick, on one line, "
                                                 "as it happens (for log collectors).")] = False) -> None:
    """Tick in a loop until the rollout completes or rolls back: a live view in a terminal, one line
    per tick (time, stage, verdict, action) in a pipe or a log.

    Ctrl-C (or SIGTERM) never cuts a transition in half: the current tick finishes, then the loop stops.
    Example: rollout run plans/ranker-v42.yaml --interval 5m
    """
    if json_out and json_lines:
        raise UsageError("--json and --json-lines exclude each other: one document at the end, or one per tick")
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
    run_by = acting(rollout, as_, action="run", now=utc_now())
    exporter = _metrics_server(metrics_port, rollout)
    stop = threading.Event()
    rows: list[dict[str, object]] = []
    mode = "none" if json_out else "json-lines" if json_lines else "live" if console.is_terminal else "lines"
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with TickView(console, rollout.plan.name, mode=mode) as view:

            def show(row: controller.RunRow) -> None:
                rows.append(row.to_json(rollout.plan.name))
                if exporter is not None:
                    from rollout_cli.exporter import collect

                    evaluation = row.report.evaluation.to_json() if row.report and row.report.evaluation else None
                    exporter.update(collect(rollout.plan, rollout.store, utc_now(), evaluation))
                view.show(rows, row.state)

            try:
                result = controller.run_loop(rollout, run_by=run_by, every_s=every, max_ticks=max_ticks,
                                             stop=stop, clock=utc_now, on_row=show)
            except manual.RollbackNotRun as exc:
                views.print_manual_rollback(exc.manual_commands)
                raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if exporter is not None:
            exporter.close()
    if json_out:
        print_json(result.to_json(rollout.plan.name))
    else:
        if mode == "live":
            console.line()
        if result.interrupted:
            err_console.print("stopped between ticks: no transition was cut short")
        if result.router_error is not None and not json_lines:
            raise result.router_error  # the one handler prints it with its hint, exit 4
    if result.exit_code:
        raise typer.Exit(int(result.exit_code))


def _metrics_server(port: int | None, rollout: Rollout) -> Any:
    if port is None:
        return None
    from rollout_cli.exporter import collect, serve

    try:
        server = serve(port)
    except OSError as exc:
        raise UsageError(f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    server.update(collect(rollout.plan, rollout.store, utc_now()))
    err_console.print(f"metrics on http://127.0.0.1:{server.port}/metrics")
    return server


def history(plan: PlanArg, action: Annotated[str | None, typer.Option("--action", help="Only this action.")] = None,
            evaluations: Annotated[bool, typer.Option("--evaluations", help="The evaluation history instead: "
                                   "every evaluation's verdict and each check's estimate and interval.")] = False,
            state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """The audit trail: who did what, when, why, with the evidence (or, with --evaluations, every evaluation).

    Example: rollout history plans/ranker-v42.yaml --evaluations --json
    """
    rollout_plan = load_plan(plan)
    where, store = existing_store(rollout_plan, state_dir)
    if evaluations:
        records = store.evaluations(rollout_plan.name) if store is not None else []
        if json_out:
            print_json({"plan": rollout_plan.name, "evaluations": [r.to_json() for r in records],
                        "state_dir": str(where.directory), "state_found": store is not None})
        elif store is None:
            err_console.print(f"no state for {rollout_plan.name}: looked in {where.describe()}", soft_wrap=True)
        else:
            console.print(views.evaluations_table(rollout_plan.name, records))
        return
    events = store.events(rollout_plan.name, action) if store is not None else []
    if action is not None and not events and action not in EVENT_ACTIONS:  # one on record is never refused
        raise UsageError(f"--action {action}: no such action (actions: {', '.join(EVENT_ACTIONS)})")
    if json_out:
        print_json({"plan": rollout_plan.name, "events": [e.to_json() for e in events],
                    "state_dir": store.location if store is not None else str(where.directory),
                    "state_found": store is not None})
        return
    if store is None:
        err_console.print(f"no state for {rollout_plan.name}: looked in {where.describe()}", soft_wrap=True)
        return
    views.print_history(rollout_plan.name, events)


def pause(plan: PlanArg, reason: ReasonOpt = None, as_: ActorOpt = None, state_dir: StateDirOpt = None,
          json_out: JsonOpt = False) -> None:
    """Stop the controller from moving the rollout; the router keeps its split, a rollback still works.

    Example: rollout pause plans/ranker-v42.yaml --reason "holiday traffic" --as alice
    """
    _switch(pausing.pause, plan, reason, as_, state_dir, json_out)


def resume(plan: PlanArg, reason: ReasonOpt = None, as_: ActorOpt = None, state_dir: StateDirOpt = None,
           json_out: JsonOpt = False) -> None:
    """Let a paused rollout run again; the stage clock kept running while it was paused.

    Example: rollout resume plans/ranker-v42.yaml --as alice
    """
    _switch(pausing.resume, plan, reason, as_, state_dir, json_out)


def _switch(action: Any, plan: Path, reason: str | None, as_: str | None, state_dir: str | None,
            json_out: bool) -> None:
    rollout = _open(plan, state_dir)
    now = utc_now()
    state = action(rollout, actor=acting(rollout, as_, action=action.__name__, now=now), reason=reason or "", now=now)
    if json_out:
        print_json({"plan": rollout.plan.name, "action": action.__name__, "status": state.status,
                    "stage": state.stage, **state.split.to_json()})
    else:
        console.print(f"[bold]{state.status}[/] {rollout.plan.name} at stage {state.stage}: {state.split}")


COMMANDS = (start, status, advance, rollback, tick, run, history, pause, resume)


def register(app: typer.Typer) -> None:
    for command in COMMANDS:
        app.command(name=command.__name__)(command)


def fast_path(args: list[str]) -> int | None:
    """`rollout tick PLAN`, `status`, … on a plain line without typer's parameter coercion
    (cli/plain_args.py): the controller runs them every few minutes, a person at 3am."""
    from rollout_cli.cli.plain_args import call_plain

    return call_plain({command.__name__: command for command in COMMANDS}, args)
