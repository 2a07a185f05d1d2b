"""How the rollout commands show things to people (rich).

The panels render the same documents `--json` prints (the status document is built in
transitions/status.py), so `--json` and the tables never drift.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from rollout_cli.cli.output import console, err_console, styled_outcome
from rollout_cli.state.records import AuditEvent, EvaluationRecord
from rollout_cli.transitions.controller import StepReport
from rollout_cli.transitions.rollback import RollbackResult
from rollout_cli.transitions.steps import StepResult
from rollout_cli.units import format_duration, format_share, format_split

STATUS_STYLE = {"running": "bold cyan", "completed": "bold green", "rolled_back": "bold red",
                "not_started": "bold", "paused": "bold yellow", "monitoring": "bold blue"}


def status_panel(doc: dict[str, Any]) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    status = doc["status"] + (" (ROLLBACK INCOMPLETE)" if doc["rollback_incomplete"] else "")
    status += " (ROLLBACK PENDING)" if doc.get("pending_rollback") else ""
    grid.add_row("status", f"[{STATUS_STYLE.get(doc['status'], 'bold')}]{status}[/]")
    grid.add_row("stage", str(doc["stage"] or "-"))
    grid.add_row("state split", f"{format_share(doc['candidate_traffic'])} served by the candidate, "
                                f"{format_share(doc['shadow'])} mirrored")
    router = doc["router"]
    reported = format_split(router["candidate_traffic"], router["shadow"]) if router else None
    if reported and doc["router_agrees"] is False:
        reported = f"[bold red]{reported} (not what the state says)[/]"
    grid.add_row("router reports", reported or f"[red]{escape(doc['router_error'] or 'unreadable')}[/]")
    if doc["time_in_stage_s"] is not None:
        grid.add_row("time in stage", format_duration(doc["time_in_stage_s"], style="clock"))
    verdict = styled_outcome(doc["last_verdict"]) if doc["last_verdict"] else "-"
    if doc["last_verdict"] and doc["last_decision"]:
        verdict += f" ({escape(doc['last_decision'].split(':')[0])})"
    grid.add_row("last verdict", verdict)
    grid.add_row("next", escape(doc["next"]))
    found = "" if doc["state_found"] else " — no state there yet"
    grid.add_row("state", escape(f"{doc['state_dir']} ({doc['state_location']}){found}"))
    if doc.get("identity"):
        grid.add_row("identity", escape(doc["identity"]))
    drift = doc.get("drift")
    if drift is not None:
        words = drift["last_event"] or "no drift recorded"
        grid.add_row("drift", ("[bold red]DRIFT: [/]" if drift["episode_open"] else "") + escape(words))
    return Panel(grid, title=f"rollout {doc['plan']}", expand=False)


def print_step(report: StepReport) -> None:
    action = report.action
    style = {"advance": "bold green", "complete": "bold green", "rollback": "bold red"}.get(action.kind, "bold yellow")
    for line in report.reconciled:
        console.print(f"[bold]reconciled:[/] {escape(line)}", soft_wrap=True)
    if report.evaluation is not None:
        console.print(f"stage {report.evaluation.stage}: verdict {styled_outcome(report.evaluation.verdict.value)}")
    move = f" {action.from_stage} -> {action.to_stage}" if action.kind == "advance" else ""
    console.print(f"[{style}]{action.kind}[/]{move}: {escape(action.reason)}", soft_wrap=True)
    if report.drift is not None and action.code != "drift":
        console.print(f"drift: {escape(report.drift.summary())}", soft_wrap=True)
    if report.rollback is not None:
        print_rollback(report.rollback, steps_already_shown=True)


def print_step_result(result: StepResult) -> None:
    mark = {"pass": "[green]ok[/]", "fail": "[red]FAILED[/]", "skipped": "[yellow]skipped[/]"}[result.outcome]
    console.print(f"  {mark} {escape(result.name)} ({result.duration_s:.3f}s) {escape(result.detail)}", soft_wrap=True)


def print_rollback(result: RollbackResult, *, steps_already_shown: bool = False) -> None:
    if result.outcome == "already_rolled_back":
        console.print("[bold]already rolled back[/]: the router serves the baseline alone (verified)")
        return
    if result.outcome == "already_at_baseline":
        console.print("[bold]nothing to roll back[/]: the rollout never started here and the router serves the "
                      "baseline alone (verified)")
        return
    if result.outcome == "joined":
        console.print(f"[bold]joined[/] the rollback already in progress (transition {result.transition}): done")
        return
    run = result.run
    if run is not None and not steps_already_shown:
        for step in run.steps:
            print_step_result(step)
    if result.router_verified:
        failed = [s.name for s in run.steps if s.outcome == "fail"] if run else []
        took = f" in {run.duration_s:.2f}s" if run else ""
        if failed:
            console.print(f"[bold yellow]rolled back{took}, but steps failed:[/] {', '.join(failed)} — do them by hand")
        else:
            console.print(f"[bold green]rolled back{took}[/]: the router serves the baseline alone (verified)")
        return
    console.print("[bold red]ROLLBACK INCOMPLETE[/]: the router could not be verified at the baseline.", soft_wrap=True)
    if run is not None and run.manual_commands:
        console.print("[bold]do it by hand:[/]")
        for command in run.manual_commands:
            console.print(f"  {command}", markup=False, soft_wrap=True)


def _ok(event: AuditEvent) -> str:
    if not event.allowed:
        return "[red]REFUSED[/]"
    return "[green]yes[/]" if event.succeeded else "[red]FAILED[/]"


def _stages(event: AuditEvent) -> str:
    if event.action == "rollback":
        return f"{event.from_stage or ''} -> baseline"
    return " -> ".join(s for s in (event.from_stage, event.to_stage) if s)


def history_table(plan_name: str, events: list[AuditEvent]) -> Table:
    """The audit trail as a table whose every column wraps (never cuts) a value."""
    table = Table(title=f"audit trail of {plan_name}", show_lines=False)
    for name in ("at (UTC)", "actor", "action", "stage", "ok"):
        table.add_column(name, overflow="fold")
    table.add_column("reason", min_width=12, ratio=1, overflow="fold")
    for e in events:
        table.add_row(e.at.strftime("%m-%d %H:%M"), escape(e.actor), e.action, escape(_stages(e)), _ok(e),
                      escape(e.reason))
    return table


# Below this width (or in a pipe or a file) the trail is a list: a table's columns would wrap word by word.
HISTORY_TABLE_MIN_WIDTH = 100


def print_history(plan_name: str, events: list[AuditEvent]) -> None:
    """The audit trail for people: a table in a wide terminal, else one block per event, nothing cut."""
    if console.is_terminal and console.width >= HISTORY_TABLE_MIN_WIDTH:
        console.print(history_table(plan_name, events))
        return
    console.print(f"[bold]audit trail of {escape(plan_name)}[/]", soft_wrap=True)
    for e in events:
        stages = _stages(e)
        console.print(f"{e.at.strftime('%Y-%m-%d %H:%M:%S')}  {escape(e.actor)}  {e.action}"
                      f"{'  ' + escape(stages) if stages else ''}  ok: {_ok(e)}", soft_wrap=True)
        console.print(f"  {escape(e.reason)}", soft_wrap=True)


def print_manual_rollback(commands: list[str]) -> None:
    """The router's own commands for sending every request to the baseline, for a person to run."""
    if not commands:
        return
    err_console.print("[bold]to send every request to the baseline by hand:[/]")
    for command in commands:
        err_console.print(f"  {command}", markup=False, soft_wrap=True)


def evaluations_table(plan_name: str, records: list[EvaluationRecord]) -> Table:
    """One row per kept evaluation: when, who, the stage, the verdict and its failing checks."""
    table = Table(title=f"evaluations of {plan_name}", show_lines=False)
    for column, wrap in (("at (UTC)", False), ("by", False), ("stage", False), ("verdict", False),
                         ("units b/c", False), ("failing checks", True)):
        table.add_column(column, no_wrap=not wrap, overflow="fold")
    for r in records:
        failing = "; ".join(f"{c.metric}" + (f" {c.segment[0]}={c.segment[1]}" if c.segment else "")
                            for c in r.checks if c.outcome == "fail")
        table.add_row(r.at.strftime("%m-%d %H:%M"), escape(r.actor), escape(r.stage), styled_outcome(r.verdict),
                      f"{r.baseline_units}/{r.candidate_units}", escape(failing) or "-")
    return table
