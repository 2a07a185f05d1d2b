"""`rollout shadow PLAN`: the candidate's shadow answers against the baseline's, request by request."""

from __future__ import annotations

from typing import Annotated

import typer

from rollout_cli.cli import output
from rollout_cli.cli.options import JsonOpt, PlanArg
from rollout_cli.cli.output import print_json
from rollout_cli.cli.window import EXIT_FOR, UntilOpt, parse_moment, window_end
from rollout_cli.errors import UsageError

# `shadow` reads no state, so its window starts with the data, not with the stage (docs/shadow.md)
ShadowSinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Window start: a time, or a duration ago (2h) \\[default: all data]."),
]
ShadowStageOpt = Annotated[str | None, typer.Option("--stage", help="The shadow stage \\[default: the plan's first].")]
SegmentOpt = Annotated[
    str | None,
    typer.Option("--segment", help="Break down by this prediction-log column only \\[default: the plan's segments]."),
]
ExamplesOpt = Annotated[int, typer.Option("--examples", min=0, max=10_000, help="Disagreeing requests to show.")]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", min=0, help="Candidate answers slower than this many ms are late "
                 "\\[default: the coverage metric's timeout]."),
]


def shadow(plan: PlanArg, stage: ShadowStageOpt = None, since: ShadowSinceOpt = None, until: UntilOpt = None,
           segment: SegmentOpt = None, examples: ExamplesOpt = 10, timeout: TimeoutOpt = None,
           json_out: JsonOpt = False) -> None:
    """Compare the candidate's shadow answers with the baseline's on the same requests: coverage, agreement per
    segment, labels or scores, latency under load, unusual inputs, examples, and the shadow stage's guards.

    Exit 0 when the stage's shadow guards pass, 1 when one fails, 3 inconclusive, 2 bad input.
    Example: rollout shadow plans/ranker-v42.yaml --since 24h --segment country --examples 5
    """
    from rollout_cli.plan import load_plan
    from rollout_cli.shadow import compare_shadow
    from rollout_cli.state.clock import utc_now

    loaded = load_plan(plan)
    chosen = None
    if stage is not None:
        try:
            chosen = loaded.stage(stage)
        except KeyError as error:
            raise UsageError(str(error.args[0])) from None
    now = utc_now()
    window_until, capped = window_end(until, now)
    if capped and not json_out:
        output.err_console.print(f"note: {capped}", markup=False)
    result = compare_shadow(loaded, chosen, since=parse_moment(since, now, "--since") if since else None,
                            until=window_until, now=now, segment=segment, examples=examples, timeout_ms=timeout)
    if json_out:
        print_json(result.to_json())
    else:
        from rollout_cli.cli.shadow_view import print_shadow

        print_shadow(result)
    code = EXIT_FOR[result.verdict]
    if code:
        raise typer.Exit(int(code))


def register(app: typer.Typer) -> None:
    app.command("shadow")(shadow)


def fast_path(args: list[str]) -> int | None:
    """`rollout shadow PLAN …` on a plain line without typer's parameter coercion (cli/plain_args.py)."""
    from rollout_cli.cli.plain_args import call_plain

    return call_plain({"shadow": shadow}, args)
