"""The window options and exit codes `evaluate`, `shadow` and `drift` share: light to import, so that a
command does not load another command's modules (`rollout shadow` starts without evaluate's data modules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from rollout_cli.errors import ExitCode, UsageError
from rollout_cli.stats.outcome import Outcome
from rollout_cli.units import MAX_DURATION_S, parse_duration

EXIT_FOR = {Outcome.PASS: ExitCode.OK, Outcome.FAIL: ExitCode.FAILED, Outcome.INCONCLUSIVE: ExitCode.INCONCLUSIVE}


def parse_moment(value: str, now: datetime, option: str) -> datetime:
    """An ISO-8601 time (no zone: UTC), or a duration meaning that long before now ("2h")."""
    from rollout_cli.state.clock import parse_time

    try:
        seconds = parse_duration(value)
    except ValueError:  # not a duration: a time
        try:
            return parse_time(value)
        except ValueError:
            raise UsageError(f"{option}: {value!r} is neither a time (2026-01-05T10:00:00Z) nor a duration (2h)") from None
    if seconds > MAX_DURATION_S:
        raise UsageError(f"{option}: {value!r} reaches back more than 100 years")
    return now - timedelta(seconds=seconds)


def window_end(until: str | None, now: datetime) -> tuple[datetime | None, str | None]:
    """--until as a time (None without it), at most now, and the note that says so when it was later:
    logs of time to come do not exist yet, and a window reaching there would count that time (min_duration)."""
    if until is None:
        return None, None
    moment = parse_moment(until, now, "--until")
    if moment <= now:
        return moment, None
    return now, f"--until {until} is after now ({now.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}): the window ends now"


SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Window start: a time, or a duration ago (2h) "
                 "\\[default: the stage start, else all data]."),
]
UntilOpt = Annotated[
    str | None,
    typer.Option("--until", help="Window end: a time, or a duration ago \\[default and latest: now]."),
]
