"""`rollout export PLAN --out FILE` (the experiment for analysts) and `rollout report PLAN --out
report.html` (the rollout on one page). Thin: parse, call export.run / report.build, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from rollout_cli.cli.options import JsonOpt, PlanArg, StateDirOpt
from rollout_cli.cli.output import console, print_json
from rollout_cli.cli.plan_state import existing_store, no_state
from rollout_cli.errors import UsageError
from rollout_cli.plan.model import Plan
from rollout_cli.state.store import StateStore


def _existing_store(plan: Plan, state_dir: str | None) -> StateStore:
    """The plan's state store (found from the plan, state/location.py), never created here: a plan
    with no state yet is a clear message naming where it looked."""
    where, store = existing_store(plan, state_dir)
    if store is None:
        raise no_state(plan, where)
    return store


def export(
    plan: PlanArg,
    out: Annotated[Path | None, typer.Option("--out", help="The file to write (.parquet or .csv).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only requests from this time, or this long "
                                              "ago (2h).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only requests up to this time (or duration ago); "
                                              "outcomes after it are not counted.")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="Only the requests served while this stage "
                                              "was in force.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="parquet or csv \\[default: from --out, "
                                            "else parquet].")] = None,
    per: Annotated[str, typer.Option("--per", help="request (one row per request) or unit (one row per unit "
                                     "and stage).")] = "request",
    describe: Annotated[bool, typer.Option("--describe", help="Print the data dictionary (column, meaning, "
                                           "type) and write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    state_dir: StateDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Both arms' answers joined with outcomes, labelled with the stage and split in force, for analysis.

    Writes FILE under a temporary name and renames it, with FILE's data dictionary beside it
    (NAME.dictionary.csv). Refuses to replace a file without --force.
    Example: rollout export plans/ranker-v42.yaml --out ranker.parquet --stage ramp-25
    """
    from rollout_cli.cli.window import parse_moment
    from rollout_cli.export.run import ExportRequest, run_export
    from rollout_cli.plan import load_plan
    from rollout_cli.state.clock import utc_now

    if fmt not in (None, "parquet", "csv"):
        raise UsageError(f"--format {fmt}: choose parquet or csv")
    if per not in ("request", "unit"):
        raise UsageError(f"--per {per}: choose request or unit")
    if out is None and not describe:
        raise UsageError("--out FILE is missing", hint="e.g. --out ranker.parquet (or --describe to see the columns)")
    loaded = load_plan(plan)
    now = utc_now()
    request = ExportRequest(per=per, format=fmt, stage=stage,  # type: ignore[arg-type]
                            since=parse_moment(since, now, "--since") if since else None,
                            until=parse_moment(until, now, "--until") if until else None)
    store = _existing_store(loaded, state_dir)
    try:
        result = run_export(loaded, store, out, request, force=force, describe_only=describe)
    finally:
        store.close()
    if json_out:
        print_json(result.to_json())
        return
    if describe:
        table = Table(title=f"columns of an export of {loaded.name} (one row per {per})")
        for column in ("column", "type", "meaning"):
            table.add_column(column, overflow="fold", no_wrap=column != "meaning")
        for entry in result.entries:
            table.add_row(escape(entry.column), entry.type, escape(entry.meaning))
        console.print(table)
        return
    console.print(f"wrote {result.rows} rows ({per}s) to {result.path}; columns described in "
                  f"{result.dictionary_path}", markup=False, soft_wrap=True)


def report(
    plan: PlanArg,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path("report.html"),
    state_dir: StateDirOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One self-contained HTML page of the rollout: the ramp, every guard over time, SRM, shadow, drift, drills.

    Opens offline (nothing is fetched: styles and charts are inline), reads on a phone, prints.
    Example: rollout report plans/ranker-v42.yaml --out report.html
    """
    from rollout_cli.plan import load_plan
    from rollout_cli.report import write_report
    from rollout_cli.state.clock import utc_now

    loaded = load_plan(plan)
    store = _existing_store(loaded, state_dir)
    try:
        written = write_report(loaded, store, out, now=utc_now())
    finally:
        store.close()
    if json_out:
        print_json({"plan": loaded.name, "path": str(written.path), "bytes": written.size,
                    "sections": list(written.sections)})
        return
    console.print(f"wrote the report of {loaded.name} to {written.path} ({written.size // 1024} KiB)",
                  markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("report")(report)
