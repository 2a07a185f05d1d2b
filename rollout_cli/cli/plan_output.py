"""How `plan validate` and `plan show` print: text for people, JSON and GitHub annotations for CI."""

from __future__ import annotations

import sys
from typing import Any

from rich.markup import escape
from rich.table import Table

from rollout_cli.cli.output import console
from rollout_cli.plan.describe import (
    TimelineEntry,
    describe_drift,
    describe_guard,
    fastest_to_full_s,
    guard_limits,
    timeline,
)
from rollout_cli.plan.model import Guard, Plan
from rollout_cli.plan.validate_files import FileReport
from rollout_cli.units import format_duration, format_fraction, format_share


def print_reports_text(reports: list[FileReport]) -> None:
    for report in reports:
        if report.valid:
            console.print(f"[green]valid[/]    {escape(report.path)}", soft_wrap=True, emoji=False)
            continue
        count = len(report.problems)
        console.print(
            f"[bold red]invalid[/]  {escape(report.path)} ({count} problem{'s' if count > 1 else ''})",
            soft_wrap=True,
            emoji=False,
        )
        for p in report.problems:
            console.print(
                f"  {escape(p.file)}:{p.line}:{p.column}: {escape(p.path)}: {escape(p.message)}",
                soft_wrap=True,
                emoji=False,
            )
    invalid = [r for r in reports if not r.valid]
    problems = sum(len(r.problems) for r in invalid)
    summary = f"{len(reports) - len(invalid)} valid, {len(invalid)} invalid"
    if problems:
        summary += f" ({problems} problem{'s' if problems > 1 else ''})"
    console.print(summary, style="bold red" if invalid else "bold green")


def _escape_github(text: str, *, prop: bool = False) -> str:
    """Workflow-command escaping: %, CR and LF always; ':' and ',' inside properties."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def print_reports_github(reports: list[FileReport]) -> None:
    """One annotation per problem; the message leads with the JSON path, as the text output does."""
    lines = [
        f"::error file={_escape_github(p.file, prop=True)},line={p.line},col={p.column}::"
        f"{_escape_github(p.path + ': ' + p.message)}"
        for report in reports
        for p in report.problems
    ]
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


def guard_summary(guard: Guard) -> str:
    """A guard in a table cell: "conversion: ≤2% below baseline, per segment"."""
    text = f"{guard.metric.name}: {', '.join(guard_limits(guard))}"
    return text + (", per segment" if guard.per_segment else "")


def show_json(plan: Plan) -> dict[str, Any]:
    fastest = fastest_to_full_s(plan)
    return {
        "plan": plan.name,
        "baseline": plan.baseline,
        "candidate": plan.candidate,
        "router": plan.router.adapter,
        "stages": [
            {
                "name": e.stage.name,
                "mode": e.mode,
                "traffic": e.stage.traffic,
                "shadow": e.stage.shadow,
                "min_duration_s": e.stage.min_duration_s,
                "max_duration_s": e.stage.max_duration_s,
                "min_units": e.stage.min_units,
                "approval_required": e.stage.approval_required,
                "earliest_start_s": e.earliest_start_s,
                "gates": list(e.gates),
                "guards": [{"metric": g.metric.name, "text": describe_guard(g)} for g in e.stage.guards],
            }
            for e in timeline(plan)
        ],
        "fastest_to_full_s": fastest,
        "fastest_to_full": format_duration(fastest, style="span") if fastest is not None else None,
        "drift": describe_drift(plan),
    }


def _guards_cell(plan: Plan, entry: TimelineEntry) -> str:
    guards = entry.stage.guards
    if guards == plan.guards and guards:
        return f"the plan's {len(guards)} guards"
    return "\n".join(guard_summary(g) for g in guards) or "-"


_STAGE_HEADERS = ("#", "stage", "mode", "share", "min duration", "gates to leave", "guards")


def _stage_rows(plan: Plan, entries: list[TimelineEntry]) -> list[tuple[str, ...]]:
    return [(str(e.stage.index + 1), e.stage.name, e.mode, e.share, format_duration(e.stage.min_duration_s),
             "\n".join(e.gates) or "-", _guards_cell(plan, e)) for e in entries]


def _stage_table(rows: list[tuple[str, ...]], width: int) -> Table | None:
    """The stages as a table whose columns are never narrower than their longest word (so a name
    like ramp-25 is never cut into "ramp-2" and "5"); None when that does not fit `width`."""
    longest = [max(len(word) for cell in column for word in cell.split() or [""])
               for column in zip(_STAGE_HEADERS, *rows, strict=False)]
    if sum(longest) + 3 * len(longest) + 1 > width:
        return None
    table = Table(title="Stages", title_justify="left", show_lines=True)
    for header, least in zip(_STAGE_HEADERS, longest, strict=True):
        table.add_column(header, overflow="fold", min_width=least)
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table


def _print_stage_list(rows: list[tuple[str, ...]]) -> None:
    """The stages one block each, for a terminal too narrow for the table: nothing cut, nothing broken."""
    console.print("[bold]Stages[/]")
    for number, name, mode, share, duration, gates, guards in rows:
        console.print(f"{number}. [bold]{escape(name)}[/] — {mode}, {escape(share)}, min duration {duration}",
                      soft_wrap=True)
        console.print(f"   gates to leave: {escape(gates.replace(chr(10), '; '))}", soft_wrap=True)
        console.print(f"   guards: {escape(guards.replace(chr(10), '; '))}", soft_wrap=True)


def _timeline_lines(plan: Plan, entries: list[TimelineEntry]) -> list[str]:
    longest = max((e.stage.min_duration_s for e in entries), default=0) or 1
    lines = []
    for e in entries:
        width = max(1, round(30 * e.stage.min_duration_s / longest)) if e.stage.min_duration_s else 0
        bar = ("[magenta]" if e.stage.is_shadow else "[cyan]") + "█" * width + "[/]"
        start = "t+" + format_duration(e.earliest_start_s, style="span") if e.earliest_start_s else "t+0"
        lines.append(f"  {start:>10}  {escape(e.stage.name):<12} {bar} {e.share}")
    fastest = fastest_to_full_s(plan)
    if fastest is None:
        last = plan.stages[-1]
        share = format_share(last.traffic) if not last.is_shadow else f"shadow {format_share(last.shadow)}"
        lines.append(f"The plan ends at {share} (final stage); it never serves everyone.")
    else:
        lines.append(
            f"[bold]Fastest possible time from start to 100%: {format_duration(fastest, style='span')}[/] "
            "(units, approvals and verdicts can only add to it)"
        )
    return lines


def print_show(plan: Plan) -> None:
    entries = timeline(plan)
    console.print(
        f"[bold]{escape(plan.name)}[/]: {escape(plan.baseline)} -> {escape(plan.candidate)} "
        f"(router: {escape(plan.router.adapter)})",
        soft_wrap=True,
    )
    if plan.description:
        console.print(escape(plan.description), soft_wrap=True, emoji=False)
    rows = _stage_rows(plan, entries)
    table = _stage_table(rows, console.width)
    if table is not None:
        console.print(table)
    else:
        _print_stage_list(rows)
    console.print("[bold]Timeline[/] (each stage at its earliest start)")
    for line in _timeline_lines(plan, entries):
        console.print(line, soft_wrap=True, emoji=False)
    console.print("[bold]Guards in words[/]")
    seen: set[tuple[Guard, ...]] = set()
    for e in entries:
        if e.stage.guards in seen:
            continue
        seen.add(e.stage.guards)
        users = [x.stage.name for x in entries if x.stage.guards == e.stage.guards]
        console.print(f"  {escape(', '.join(users))}:", soft_wrap=True, emoji=False)
        for guard in e.stage.guards:
            console.print(f"    - {escape(describe_guard(guard))}", soft_wrap=True, emoji=False)
    drift_lines = describe_drift(plan)
    if drift_lines:
        console.print("[bold]Drift[/]")
        for line in drift_lines:
            console.print(f"  - {escape(line)}", soft_wrap=True, emoji=False)
    d, rb = plan.decision, plan.rollback
    no_verdict = (
        f"after {format_duration(d.max_duration_s)} without a verdict: {d.on_inconclusive}"
        if d.max_duration_s
        else "no time limit on a stage without a verdict"
    )
    console.print(
        f"[bold]Decisions[/] at {format_fraction(d.confidence)} confidence; {no_verdict}; "
        f"auto advance {'on' if d.auto_advance else 'off'}, auto rollback {'on' if d.auto_rollback else 'off'}",
        soft_wrap=True,
    )
    drill = (
        f"; a passing drill within {format_duration(rb.require_drill_s, style='span')} before leaving shadow"
        if rb.require_drill_s
        else ""
    )
    console.print(
        f"What would this plan do to a harmful candidate? [bold]rollout plan simulate "
        f"{escape(plan.source or plan.name)} --traffic 20000/h --harm {escape(_example_harm(plan))}[/]",
        soft_wrap=True,
    )
    console.print(
        f"[bold]Rollback[/] by {escape(', '.join(sorted(rb.authorized_people)))} within {format_duration(rb.max_duration_s)}"
        f" ({len(rb.steps)} steps){drill}",
        soft_wrap=True,
    )


def _example_harm(plan: Plan) -> str:
    """A harm worth simulating: twice the first relative drop limit of a traffic guard."""
    for guard in plan.guards:
        if guard.max_drop is not None:
            return f"{guard.metric.name}=-{200 * guard.max_drop:g}%"
    return f"{next(iter(plan.metrics))}=-10%"
