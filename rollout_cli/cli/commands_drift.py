"""`rollout drift PLAN`: each feature and output against the reference, window by window."""

from __future__ import annotations

from typing import Annotated

import typer

from rollout_cli.cli import output
from rollout_cli.cli.options import JsonOpt, PlanArg
from rollout_cli.cli.window import UntilOpt, parse_moment, window_end
from rollout_cli.errors import ExitCode, UsageError
from rollout_cli.units import parse_duration

SinceOpt = Annotated[str | None, typer.Option("--since", help="First window: a time, or a duration ago (7d) "
                                             "\\[default: all data].")]
WindowOpt = Annotated[str | None, typer.Option("--window", help="Window length (1h, 1d) \\[default: drift.window].")]


def drift(plan: PlanArg, since: SinceOpt = None, until: UntilOpt = None, window: WindowOpt = None,
          json_out: JsonOpt = False) -> None:
    """Compare each drift feature and model output with the reference, one window at a time.

    For every window: the PSI with its interval at the plan's confidence, the decision (drifted only
    when the whole interval is above the threshold), and the bins that moved most. Exit 0 when no
    column's last complete window drifted, 1 when one did, 2 for bad input.
    Example: rollout drift plans/ranker-v42.yaml --since 2d --window 1h
    """
    from rollout_cli.cli.drift_views import print_report, report_json
    from rollout_cli.cli.output import print_json
    from rollout_cli.drift.run import drift_report
    from rollout_cli.plan import load_plan
    from rollout_cli.state.clock import utc_now

    loaded = load_plan(plan)
    now = utc_now()
    window_s = None
    if window is not None:
        try:
            window_s = parse_duration(window)
        except ValueError:
            raise UsageError(f"--window: {window!r} is not a duration (1h, 1d)") from None
        if window_s < 60:
            raise UsageError(f"--window: {window!r} is shorter than a minute")
    window_until, capped = window_end(until, now)  # a window still open is never judged as complete
    if capped and not json_out:
        output.err_console.print(f"note: {capped}", markup=False)
    report = drift_report(loaded, since=parse_moment(since, now, "--since") if since else None,
                          until=window_until or now, window_s=window_s)
    if json_out:
        print_json(report_json(report))
    else:
        print_report(report)
    if report.drifted():
        raise typer.Exit(int(ExitCode.FAILED))


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)
