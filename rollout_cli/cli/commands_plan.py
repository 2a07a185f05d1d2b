"""`rollout plan …`: validate, show, schema, init."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from rollout_cli.cli.options import JsonOpt, PlanArg
from rollout_cli.errors import ExitCode, UsageError

plan_app = typer.Typer(help="Write and check rollout plans.\n\nExample: rollout plan init ranker-v42 && "
                       "rollout plan validate plans/", no_args_is_help=True)


class ValidateFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


@plan_app.command("validate")
def validate_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Plan files, or folders searched for *.yaml and *.yml.", metavar="PATH", show_default=False
        ),
    ],
    output_format: Annotated[
        ValidateFormat, typer.Option("--format", "-f", help="text for people, json for tools, github for annotations.")
    ] = ValidateFormat.text,
) -> None:
    """Check plans against the schema and every rule, listing all problems with file, line and column.

    Safe on untrusted input: nothing in the plan is run, no network is used, no secret is read.
    Exits 0 when every plan is valid, 2 otherwise.

    Example: rollout plan validate plans/ --format github
    """
    code = run_validate([str(p) for p in paths], output_format)
    if code:
        raise typer.Exit(code)


def run_validate(paths: list[str], output_format: ValidateFormat) -> int:
    """Validate `paths`, print the reports in `output_format`, and return the exit code."""
    from rollout_cli.cli import plan_output
    from rollout_cli.cli.output import print_json
    from rollout_cli.plan.validate_files import validate_paths

    reports = validate_paths(paths)
    if output_format is ValidateFormat.json:
        print_json({"files": [report.to_json() for report in reports]})
    elif output_format is ValidateFormat.github:
        plan_output.print_reports_github(reports)
    else:
        plan_output.print_reports_text(reports)
    return 0 if all(report.valid for report in reports) else int(ExitCode.USAGE)


def fast_path(args: list[str]) -> int | None:
    """`rollout [--debug] plan validate …` without typer's parameter coercion, whose imports cost more
    than validating a plan (cli/plain_args.py). None: typer handles the line as usual."""
    from rollout_cli.cli.plain_args import call_plain

    words = list(args)
    while words and words[0] == "--debug":
        words.pop(0)
    return call_plain({"validate": validate_command}, words[1:]) if words[:1] == ["plan"] else None


@plan_app.command("show")
def show_command(plan_path: PlanArg, as_json: JsonOpt = False) -> None:
    """The ramp as a table and a timeline: stages, shares, durations, gates, guards in words,
    and the fastest possible time from start to 100%.

    Example: rollout plan show plans/ranker-v42.yaml
    """
    from rollout_cli.cli import plan_output
    from rollout_cli.cli.output import print_json
    from rollout_cli.plan import load_plan

    plan = load_plan(plan_path)
    if as_json:
        print_json(plan_output.show_json(plan))
    else:
        plan_output.print_show(plan)


@plan_app.command("simulate")
def simulate_command(
    plan_path: PlanArg,
    traffic: Annotated[str | None, typer.Option("--traffic", help="Units per hour, e.g. 20000/h "
                                                 "\\[default: the plan's traffic_estimate].")] = None,
    harm: Annotated[list[str] | None, typer.Option("--harm", help="A harm to simulate, e.g. conversion=-5% or "
                                                    "'conversion\\[platform=ios]=-20%' (repeatable; none: A/A).")] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, max=100_000, help="Simulated rollouts.")] = 500,
    catch: Annotated[str | None, typer.Option("--catch", help="A target share of harms to catch, e.g. 95%.")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed (same seed, same figures).")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """What the plan would do to a harmful (or harmless) candidate: per stage the chance the harm
    is caught there, the time to the rollback, the users exposed to the candidate before it, and
    the chance of reaching 100% anyway — through the plan's real guards and decisions, on
    simulated statistics. Run it right after `plan init`.

    Example: rollout plan simulate plans/ranker-v42.yaml --traffic 20000/h --harm conversion=-5% --catch 95%
    """
    from rollout_cli.cli.output import print_json
    from rollout_cli.plan import load_plan
    from rollout_cli.planning import Scenario, parse_harm, simulate_plan
    from rollout_cli.units import parse_fraction, parse_rate

    plan = load_plan(plan_path)
    try:
        per_hour = parse_rate(traffic) if traffic is not None else plan.traffic_estimate
        target = parse_fraction(catch) if catch is not None else None
    except ValueError as error:
        raise UsageError(f"{error}") from None
    if per_hour is None:
        raise UsageError("the plan declares no traffic_estimate: give --traffic, e.g. --traffic 20000/h")
    if target is not None and not 0 < target < 1:
        raise UsageError(f"--catch {catch}: give a share between 0% and 100%, e.g. 95%")
    scenario = Scenario(traffic_per_h=per_hour, harms=tuple(parse_harm(h, plan) for h in harm or []), runs=runs,
                        seed=seed, catch=target)
    result = simulate_plan(plan, scenario)
    if as_json:
        print_json(result.to_json())
    else:
        from rollout_cli.cli.simulate_output import print_simulation

        print_simulation(result)


@plan_app.command("schema")
def schema_command() -> None:
    """Print the plan's JSON Schema (draft 2020-12), for editors and other tools.

    Example: rollout plan schema > plans/plan.schema.json
    """
    from rollout_cli.plan.schema_check import SCHEMA_PATH

    sys.stdout.write(SCHEMA_PATH.read_text(encoding="utf-8"))
    sys.stdout.flush()


@plan_app.command("init")
def init_command(
    name: Annotated[str, typer.Argument(help="The rollout's name (letters, digits, . _ -).")] = "my-model",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Where to write \\[default: plans/NAME.yaml].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter plan that validates as written and explains each section.

    Example: rollout plan init fraud-v7
    """
    from rollout_cli.cli.output import console
    from rollout_cli.files import write_text
    from rollout_cli.plan.starter import starter_plan, valid_plan_name

    target = output if output is not None else Path("plans") / f"{valid_plan_name(name)}.yaml"
    if target.is_dir():
        raise UsageError(f"{target} is a folder; -o takes the plan file's path")
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="pass --force to overwrite it, or -o to write elsewhere")
    write_text(target, starter_plan(name, str(target)))
    console.print(f"wrote {target}", soft_wrap=True, markup=False)
    schema_copy = target.parent / "plan.schema.json"  # what the plan's yaml-language-server line names
    if not schema_copy.exists():
        from rollout_cli.plan.schema_check import SCHEMA_PATH

        write_text(schema_copy, SCHEMA_PATH.read_text(encoding="utf-8"))
        console.print(
            f"wrote {schema_copy} (for editors: completion and checks as you type)", soft_wrap=True, markup=False
        )
    console.print(
        f"next: edit it, then run `rollout plan validate {target}` and `rollout plan show {target}`",
        soft_wrap=True,
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
