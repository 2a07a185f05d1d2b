"""The `rollout` command: typer apps wired together, and the one error handler."""

from __future__ import annotations

import sys
import traceback
from importlib import import_module
from types import ModuleType

import typer
from typer.exceptions import Abort, TyperException

from rollout_cli import __version__
from rollout_cli.cli.help_format import plain_help
from rollout_cli.cli import output
from rollout_cli.errors import ExitCode, PlanError, RolloutError
from rollout_cli.secrets import ScrubbedStream

app = typer.Typer(
    name="rollout",
    help=(
        "Take an ML model from offline evaluation to serving everyone, safely: shadow mode, "
        "a guarded traffic ramp judged on real user behaviour, and a practised rollback.\n\n"
        "Example: rollout plan validate plans/"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rollout {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Shadow first, then a guarded ramp, and a rollback you have practised."""


# Which module serves each first word of the command line: the one table to edit when adding a
# command (the module defines `register(app)`, and may define `fast_path(args)`). Modules are
# imported when their command runs, not when this module loads: `plan validate` runs on every
# pull request, and `rollout rollback` at 3am should not wait for DuckDB or the demo's imports.
COMMANDS: dict[str, str] = {
    "plan": "commands_plan",
    "runbook": "commands_runbook",
    **{name: "commands_rollout" for name in ("start", "status", "advance", "rollback", "tick", "run", "history",
                                             "pause", "resume")},
    "evaluate": "commands_evaluate",
    "simulate": "commands_evaluate",
    "shadow": "commands_shadow",
    "drill": "commands_runbook",
    "demo": "commands_demo",
    "router": "commands_router",
    "export": "commands_report",
    "report": "commands_report",
    "state": "commands_state",
    "metrics": "commands_metrics",
    "drift": "commands_drift",
}
_registered: set[str] = set()


def register_commands(only: str | None = None) -> typer.Typer:
    """Register the command modules on `app` (all of them, in COMMANDS' order, or just the module
    named `only`) and return it. Idempotent, so in-process callers may run main() many times."""
    for name in [only] if only is not None else dict.fromkeys(COMMANDS.values()):
        _register(import_module(f"rollout_cli.cli.{name}"))
    return app


def _register(module: ModuleType) -> None:
    name = module.__name__
    if name not in _registered:
        _registered.add(name)
        module.register(app)


def _run_fast_path(module_name: str | None, args: list[str]) -> int | None:
    """A module may serve its hottest command without typer's parameter machinery, which costs
    more start-up time than the command itself (`plan validate` on every pull request): it defines
    `fast_path(args) -> int | None`, None meaning "let typer handle these arguments"."""
    if module_name is None:
        return None
    fast_path = getattr(import_module(f"rollout_cli.cli.{module_name}"), "fast_path", None)
    return fast_path(args) if fast_path is not None else None


def _first_word(args: list[str]) -> str | None:
    return next((arg for arg in args if not arg.startswith("-")), None)


def _report(error: RolloutError) -> None:
    from rich.markup import escape  # messages quote plans, routers and logs: "[/]" in one is text

    output.err_console.print(f"[bold red]error:[/] {escape(error.message)}", markup=True, soft_wrap=True)
    if isinstance(error, PlanError):
        for p in error.problems:
            output.err_console.print(f"  {p.file}:{p.line}:{p.column}: {p.path}: {p.message}", markup=False, soft_wrap=True)
    if error.hint:
        output.err_console.print(f"[bold]what to do:[/] {escape(error.hint)}", soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every error becomes a message and an exit code (docs/commands.md)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    first = _first_word(args) or ""
    module = COMMANDS.get(first)
    register_commands(module)
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbedStream(sys.stdout), ScrubbedStream(sys.stderr)  # docs/operations.md, "Secrets"
    try:
        code = _main(args, debug, module)
    finally:
        sys.stdout, sys.stderr = streams
    if argv is None:
        sys.exit(code)
    return code


def _main(args: list[str], debug: bool, module: str | None) -> int:
    try:
        result = _run_fast_path(module, args)
        if result is None:
            plain_help()
            command = typer.main.get_command(app)
            result = command.main(args=args, prog_name="rollout", standalone_mode=False)
        code = int(result) if isinstance(result, int) else 0
    except RolloutError as error:
        if debug:
            traceback.print_exc()
        _report(error)
        code = int(error.exit_code)
    except Abort:
        output.err_console.print("aborted")
        code = int(ExitCode.INTERRUPTED)
    except TyperException as error:  # click's usage errors, as typer ships them
        show = getattr(error, "show", None)
        if show:
            show()
        else:
            output.err_console.print(f"error: {error.format_message()}")
        code = int(ExitCode.USAGE)
    except KeyboardInterrupt:
        output.err_console.print("interrupted")
        code = int(ExitCode.INTERRUPTED)
    except Exception as error:  # noqa: BLE001 - the one place that turns surprises into a message
        if debug:
            traceback.print_exc()
        from rich.markup import escape

        output.err_console.print(
            f"[bold red]internal error:[/] {type(error).__name__}: {escape(str(error))} (run with --debug for the traceback)",
            soft_wrap=True,
        )
        code = int(ExitCode.USAGE)
    return code
