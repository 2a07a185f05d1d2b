"""`rollout runbook generate|check` and `rollout drill`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rollout_cli.cli.options import ActorOpt, JsonOpt, PlanArg, StateDirOpt
from rollout_cli.cli.output import console, err_console, print_json, styled_outcome
from rollout_cli.errors import ExitCode, UsageError
from rollout_cli.plan import load_plan
from rollout_cli.plan.model import Plan
from rollout_cli.units import format_duration

runbook_app = typer.Typer(help="Write and check the rollback runbook of a plan.\n\nExample: rollout runbook "
                          "generate plans/ranker-v42.yaml && rollout runbook check plans/", no_args_is_help=True)

OutOpt = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Where the runbook lives \\[default: runbooks/NAME.md].", show_default=False),
]
RouterOpt = Annotated[
    str | None,
    typer.Option(
        "--router",
        help=(
            "Drill against this router instead of the plan's: ADAPTER:KEY=VALUE,... "
            "(e.g. file:path=staging/router.json) or a YAML/JSON file with {adapter, options}."
        ),
        show_default=False,
    ),
]


PlansArg = Annotated[
    list[Path],
    typer.Argument(help="Plan files, or folders searched for *.yaml / *.yml.", show_default=False),
]


def _plan_files(paths: list[Path], output: Path | None) -> list[Path]:
    from rollout_cli.runbook.render import plan_files

    files = plan_files(paths)
    if output is not None and len(files) != 1:
        raise UsageError(f"-o names one runbook, but {len(files)} plans were given", hint="give one plan with -o")
    return files


@runbook_app.command("generate")
def generate_command(plans: PlansArg, output: OutOpt = None, state_dir: StateDirOpt = None) -> None:
    """Write runbooks/NAME.md: when to roll back, who, the commands, how long, whom to call.

    Drill timings come from the state store when one exists; without one the runbook says "No drill on record". The output is deterministic, so it can live in git.

    Example: rollout runbook generate plans/ranker-v42.yaml
    """
    from rollout_cli.runbook.render import existing_store, generate

    for plan_path in _plan_files(plans, output):
        loaded = load_plan(plan_path)
        target = generate(loaded, plan_path, output, existing_store(loaded, state_dir))
        console.print(f"wrote {target.as_posix()}", soft_wrap=True)


@runbook_app.command("check")
def check_command(plans: PlansArg, output: OutOpt = None, state_dir: StateDirOpt = None) -> None:
    """Exit 1 when a plan's runbook is missing or differs from what `generate` would write now.

    Example: rollout runbook check plans/
    """
    from rollout_cli.runbook.render import DIFF_LINES_SHOWN, check, existing_store, regenerate_command

    failed = False
    for plan_path in _plan_files(plans, output):
        loaded = load_plan(plan_path)
        result = check(loaded, plan_path, output, existing_store(loaded, state_dir))
        if result.ok:
            console.print(f"{result.path.as_posix()} is up to date", soft_wrap=True)
            continue
        failed = True
        if result.status == "missing":
            console.print(f"{result.path.as_posix()} is missing", soft_wrap=True)
        else:
            console.print(
                f"{result.path.as_posix()} is stale: -{result.removed} +{result.added} lines against what "
                "generate writes now",
                soft_wrap=True,
            )
            for line in result.diff[:DIFF_LINES_SHOWN]:
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            if len(result.diff) > DIFF_LINES_SHOWN:
                console.print(f"… {len(result.diff) - DIFF_LINES_SHOWN} more diff lines", soft_wrap=True)
        console.print(f"run: {regenerate_command(plan_path, output, state_dir)}", soft_wrap=True)
    if failed:
        raise typer.Exit(int(ExitCode.FAILED))


class DrillCountdown:
    """The live view of a drill: each step's state and time, and the budget counting down.

    Rich calls __rich__ on every refresh, so the countdown moves while a step runs.
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.started: float | None = None
        self.last_finish: float | None = None
        self.results: list[Any] = []

    def start(self) -> None:
        self.started = self.last_finish = time.monotonic()

    def step_done(self, result: Any) -> None:
        self.results.append(result)
        self.last_finish = time.monotonic()

    def __rich__(self) -> Group:
        now = time.monotonic()
        budget = self.plan.rollback.max_duration_s
        elapsed = now - self.started if self.started is not None else 0.0
        left = budget - elapsed
        clock = Text(
            f"budget {format_duration(budget, weeks=False)}: {elapsed:.1f}s used, "
            + (f"{left:.1f}s left" if left >= 0 else f"{-left:.1f}s OVER"),
            style="bold" if left >= 0 else "bold red",
        )
        table = Table(box=None, pad_edge=False)
        for column in ("#", "step", "outcome", "time", "timeout"):
            table.add_column(column)
        steps = self.plan.rollback.steps
        for i in range(max(len(steps), len(self.results))):
            step = steps[i] if i < len(steps) else None  # the store may add an implicit final verify
            timeout = format_duration(step.timeout_s, weeks=False) if step and step.timeout_s else "-"
            if i < len(self.results):
                r = self.results[i]
                table.add_row(str(i + 1), escape(r.name), styled_outcome(r.outcome), f"{r.duration_s:.2f}s", timeout)
            elif step is None:
                continue
            elif i == len(self.results) and self.last_finish is not None:
                table.add_row(str(i + 1), escape(step.describe()), "running", f"{now - self.last_finish:.1f}s", timeout)
            else:
                table.add_row(str(i + 1), escape(step.describe()), "waiting", "", timeout)
        return Group(clock, table)


def drill_command(
    plan_path: PlanArg,
    router: RouterOpt = None,
    actor: ActorOpt = None,
    state_dir: StateDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Rehearse the rollback for real, timed against rollback.max_duration, and record it.

    Puts the router in the first traffic stage's split, runs the plan's rollback steps, verifies the baseline alone is served, and restores what the router served before. Refused against the router of a rollout in progress unless --router names another (exit 2).

    Exit 1 when a step fails or is too slow, 4 when the router itself fails, 5 without rollback authority.

    Example: rollout drill plans/ranker-v42.yaml --router file:path=staging/router.json
    """
    from rich.live import Live

    from rollout_cli.runbook.rehearsal import admit, drill_lock, rehearse
    from rollout_cli.state.locate import open_store

    plan = load_plan(plan_path)
    store = open_store(state_dir, plan)
    who = store.actor(actor)  # self-asserted on SQLite; the database role on PostgreSQL (docs/team.md)
    with drill_lock(plan, store, router):
        spec = admit(plan, store, who, router)
        if json_out:
            result = rehearse(plan, store, who, spec)
        elif console.is_terminal:
            view = DrillCountdown(plan)
            with Live(view, console=console, refresh_per_second=8, transient=False):
                result = rehearse(plan, store, who, spec, on_step=view.step_done, on_started=view.start)
        else:  # a log or a pipe gets the finished table once, not a redraw per tick
            view = DrillCountdown(plan)
            result = rehearse(plan, store, who, spec, on_step=view.step_done, on_started=view.start)
            console.print(view)
    if json_out:
        print_json(result.to_json())
    else:
        summary = (
            f"drill {styled_outcome(result.outcome)} on {escape(result.router)}: {result.duration_s:.2f}s "
            f"of a {format_duration(result.budget_s, weeks=False)} budget; router restored to {result.found_split}"
        )
        console.print(summary, soft_wrap=True)
        if result.failure:
            err_console.print(f"[bold red]drill failed:[/] {escape(result.failure)}", soft_wrap=True)
    if not result.passed:
        raise typer.Exit(int(ExitCode.FAILED))


def register(app: typer.Typer) -> None:
    app.add_typer(runbook_app, name="runbook")
    app.command("drill")(drill_command)
