"""`rollout demo`: the whole story on one machine (docs/operations.md), end to end in accelerated time."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.markup import escape
from rich.panel import Panel

from rollout_cli.cli.output import console, print_json, styled_outcome
from rollout_cli.cli.rollout_views import history_table
from rollout_cli.errors import UsageError
from rollout_cli.sim.demo import HARM, HARM_STAGE, DemoSummary, DemoTick, run_demo

ACTION_STYLE = {"advance": "bold green", "complete": "bold green", "rollback": "bold red"}


def demo(
    directory: Annotated[Path | None, typer.Option("--dir", help="Where to put the plan, logs, state and "
                                                      "runbook (default: a new temporary folder).")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the simulated traffic.")] = 7,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON summary instead of the story.")] = False,
) -> None:
    """Run a whole rollout on this machine: shadow, canary, a harm on one segment, automatic rollback.

    Example: rollout demo --dir /tmp/rollout-demo
    """
    target = directory or Path(tempfile.mkdtemp(prefix="rollout-demo-"))
    if target.exists() and not target.is_dir():
        raise UsageError(f"--dir {target} is a file, not a folder", hint="pass a new or empty folder, or none")
    if (target / ".rollout").exists():
        raise UsageError(f"{target} already holds a demo's state", hint="pass an empty --dir, or none")
    try:  # before the story starts: a folder that cannot be made is a message, not a story cut short
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--dir {target}: cannot create the folder: {error.strerror or error}",
                         hint="pass a folder you may write in, or none (a new temporary folder)") from None
    if not json_out:
        console.rule("[bold]rollout demo[/]")
        console.print(f"plan, simulated logs, router file and state in {target}")
        console.print(f"the candidate is 3% better on average — and, from {HARM_STAGE} on, "
                      f"{-HARM[2]:.0%} worse for {HARM[0]}={HARM[1]}")
    summary = run_demo(target, seed=seed, on_tick=None if json_out else _print_tick,
                       on_note=None if json_out else (lambda text: console.print(f"[bold]{text}[/]")))
    ok = summary.caught_the_segment
    if json_out:
        print_json({**summary.to_json(), "ok": ok})
    else:
        _print_ending(summary)
    if not ok:
        raise typer.Exit(1)


def _print_tick(tick: DemoTick) -> None:
    verdict = styled_outcome(tick.verdict) if tick.verdict else "-"
    style = ACTION_STYLE.get(tick.action, "yellow")
    console.print(f"{tick.at:%a %H:%M} [dim]{tick.stage} ({tick.split})[/] {verdict} "
                  f"[{style}]{tick.action}[/] {escape(tick.reason)}")


def _print_ending(summary: DemoSummary) -> None:
    console.print(history_table("demo-ranker", summary.events))
    if summary.runbook is not None:
        console.rule(f"runbook {summary.runbook}")
        console.print(Markdown(summary.runbook.read_text(encoding="utf-8")))
    if summary.caught_the_segment:
        caught = escape("; ".join(f"{c['metric']} {c['segment']}: {c['reason']}" for c in summary.caught))
        console.print(Panel(f"rolled back automatically at [bold]{summary.rolled_back_at}[/] after "
                            f"{summary.simulated_hours:g} simulated hours ({summary.wall_s:.1f}s here)\n"
                            f"caught by the per-segment guard: {caught}",
                            title="[bold green]the harm was caught[/]", expand=False))
    else:
        console.print(Panel(f"the rollout ended {summary.outcome} at {summary.ticks[-1].stage if summary.ticks else '-'}"
                            " without catching the harm", title="[bold red]unexpected ending[/]", expand=False))
    if summary.report is not None:
        console.print(f"the report: {summary.report}", markup=False, soft_wrap=True)
    console.print(f"look around: rollout history {shlex.quote(str(summary.plan_path))} "
                  f"--state-dir {shlex.quote(str(summary.directory / '.rollout'))}", markup=False)


def register(app: typer.Typer) -> None:
    app.command(name="demo")(demo)
