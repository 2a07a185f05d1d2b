"""How the rollout commands show things to people (rich) — and the status document they share.

The JSON documents are built here too, from core results, so `--json` and the tables never drift.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from rollout_cli.cli.output import console, err_console, styled_outcome
from rollout_cli.plan.model import Plan
from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit, splits_match
from rollout_cli.state.location import StateLocation
from rollout_cli.state.records import AuditEvent, EvaluationRecord, RolloutState, Transition
from rollout_cli.state.store import StateStore
from rollout_cli.transitions.controller import StepReport
from rollout_cli.transitions.rollback import RollbackResult
from rollout_cli.transitions.steps import StepResult
from rollout_cli.units import format_duration, format_share, format_split

STATUS_STYLE = {"running": "bold cyan", "completed": "bold green", "rolled_back": "bold red",
                "not_started": "bold", "paused": "bold yellow", "monitoring": "bold blue"}


def describe_next(plan: Plan, state: RolloutState, now: datetime) -> str:
    """What happens next, in one sentence a person at 3am can act on."""
    ref = plan.source or plan.name
    if state.rollback_incomplete:
        return (f"ROLLBACK INCOMPLETE: the router is not verified at the baseline — retry `rollout rollback {ref} "
                "--reason TEXT` or set the router by hand (see `rollout rollback` output)")
    if state.status == "not_started" or state.stage is None:
        first = plan.stages[0]
        return f"start with `rollout start {ref}` (first stage {first.name})"
    if state.status == "rolled_back":
        return "nothing: the rollout was rolled back; every request goes to the baseline"
    if state.status == "completed":
        return "nothing: the rollout is complete"
    if state.status == "paused":
        return (f"nothing moves while paused (the router keeps {state.split}): `rollout resume {ref}` lets the "
                f"controller judge {state.stage} again; `rollout rollback {ref} --reason TEXT` still works")
    if state.status == "monitoring":
        limit = plan.drift.monitor_for_s or 0.0
        remaining = max(limit - (now - (state.stage_started_at or now)).total_seconds(), 0.0)
        return (f"monitoring drift at 100%: each tick checks the last complete window; complete in "
                f"{format_duration(remaining, style='clock')} (drift.monitor_for {format_duration(limit)})")
    stage = plan.stage(state.stage)
    following = plan.next_stage(stage)
    then = (f"then {following.name} ({format_split(following.traffic, following.shadow)})"
            if following else "then complete")
    elapsed = (now - state.stage_started_at).total_seconds() if state.stage_started_at else 0.0
    if elapsed < stage.min_duration_s:
        left = format_duration(stage.min_duration_s - elapsed, style="clock")
        return f"{stage.name} runs at least {left} more (min_duration {format_duration(stage.min_duration_s)}), {then}"
    if following and following.approval_required and state.approved_stage != following.name:
        approvers = ", ".join(sorted(plan.rollback.approver_people))
        return f"{following.name} needs approval: an approver ({approvers}) runs `rollout advance {ref} --as NAME`"
    verdict = state.last_verdict or "not yet evaluated"
    return f"the next tick judges {stage.name} (last verdict: {verdict}); if it passes, {then}"


def router_disagreement(plan: Plan, state: RolloutState, router: RouterSplit | None,
                        router_error: str | None, where: StateLocation, found: bool) -> str | None:
    """Why the router does not back up the state, with what to do; None when it does."""
    ref = plan.source or plan.name
    stop = f"to stop serving the candidate run `rollout rollback {ref} --reason TEXT`"
    if state.status == "not_started":
        if router is None or splits_match(router, BASELINE_ONLY):
            return None
        # A state that says "never started" beside a router serving the candidate: the state is new, lost
        # or elsewhere — the worst moment to say "nothing to do".
        looked = f"no state found in {where.describe()}" if not found else "the state says not started"
        return f"ROUTER SERVES THE CANDIDATE: the router reports {router}, but {looked}; {stop}"
    if state.rollback_incomplete:
        return None  # describe_next already says ROLLBACK INCOMPLETE
    if router is None:
        return f"ROUTER UNREADABLE: {router_error or 'no answer'} — nothing can be verified until it answers; {stop}"
    if splits_match(router, state.split):
        return None
    return (f"ROUTER DISAGREES: the router reports {router}, the state expects {state.split} — it was changed "
            f"outside rollout; {stop}, or set the router back by hand")


def pending_rollback(plan: Plan, interrupted: list[Transition]) -> tuple[dict[str, Any] | None, str | None]:
    """The first unfinished rollback transition, as JSON and in words for `next`; (None, None)."""
    from rollout_cli.state import journal

    rollbacks = [t for t in interrupted if t.kind == "rollback"]
    if not rollbacks:
        return None, None
    first = rollbacks[0]
    alive = journal.owner_alive(first)
    owner = "its process still runs (waiting for the plan lock)" if alive else "its process is gone"
    ref = plan.source or plan.name
    words = (f"ROLLBACK PENDING: an interrupted rollback (transition {first.id}, phase {first.phase}, by {first.actor}); "
             f"{owner}; the state above may still show the candidate serving — finish it with "
             f"`rollout rollback {ref} --reason TEXT` (the next `rollout tick` or `advance` finishes it too)")
    return {"transition": first.id, "actor": first.actor, "phase": first.phase, "owner_alive": alive}, words


def status_document(plan: Plan, state: RolloutState, now: datetime, router: RouterSplit | None,
                    router_error: str | None, interrupted: list[Transition], where: StateLocation,
                    *, found: bool, drift: dict[str, Any] | None = None) -> dict[str, Any]:
    # Time in stage counts only while the stage runs: after a rollback or a completion it would mislead.
    running = state.status == "running" and state.stage_started_at is not None
    in_stage = (now - state.stage_started_at).total_seconds() if running and state.stage_started_at else None
    disagreement = router_disagreement(plan, state, router, router_error, where, found)
    waiting = [f"an interrupted {t.kind} {t.from_stage or '(not started)'} -> {t.to_stage or 'baseline'} "
               f"(transition {t.id}, phase {t.phase}, by {t.actor})" for t in interrupted]
    ref = plan.source or plan.name
    next_words = disagreement or describe_next(plan, state, now)
    if waiting and not disagreement:
        next_words = (f"{'; '.join(waiting)} — the next `rollout tick`, `advance` or `rollback {ref}` reconciles "
                      "it with the router (status changes nothing)")
    # An unfinished rollback is named whatever else is true (docs/operations.md, "Reconciliation").
    pending, pending_words = pending_rollback(plan, interrupted)
    next_words = pending_words or next_words
    return {
        "plan": plan.name, "stage": state.stage, "status": state.status,
        "candidate_traffic": state.candidate_traffic, "shadow": state.shadow,
        "stage_started_at": state.stage_started_at.isoformat() if state.stage_started_at else None,
        "next": next_words,
        "time_in_stage_s": round(in_stage, 1) if in_stage is not None else None,
        "rollback_incomplete": state.rollback_incomplete, "approved_stage": state.approved_stage,
        "last_verdict": state.last_verdict,
        "last_evaluated_at": state.last_evaluated_at.isoformat() if state.last_evaluated_at else None,
        "last_decision": state.last_decision,
        "router": router.to_json() if router else None, "router_error": router_error,
        # True/False: whether the router reports the state's split; None mid-rollback, or before start
        # with the router at the baseline
        "router_agrees": None if state.rollback_incomplete or (state.status == "not_started" and not disagreement)
        else disagreement is None,
        "state_dir": str(where.directory), "state_found": found, "state_location": where.how,
        "interrupted": [t.id for t in interrupted],
        "pending_rollback": pending,
        "drift": drift,
    }


def identity_note(store: Any) -> str:
    """How far the recorded actor can be trusted, said plainly (docs/team.md); None: no store yet (SQLite)."""
    if store is not None and store.identity_verified:
        return (f"verified: the actor is the authenticated database role {store.role()}; --as may only narrow it; "
                "the audit trail is append-only in the database")
    return ("self-asserted: on a SQLite state store the actor is whatever --as, ROLLOUT_ACTOR or the login name "
            "claims, and anyone who can write the state file can edit the audit trail")


def drift_status(plan: Plan, store: StateStore | None) -> dict[str, Any] | None:
    """The last drift event of the audit trail (the tick that started or ended an episode)."""
    if not plan.drift.enabled:
        return None
    if store is None:
        return {"episode_open": False, "last_event": None, "at": None}
    events = [e for action in ("drift", "drift_cleared") for e in store.events(plan.name, action)]
    if not events:
        return {"episode_open": False, "last_event": None, "at": None}
    last = max(events, key=lambda e: (e.at, e.id))
    return {"episode_open": last.action == "drift", "last_event": last.reason, "at": last.at.isoformat()}


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
