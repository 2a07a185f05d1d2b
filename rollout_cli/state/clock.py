"""The one clock of the state and the controller.

ROLLOUT_NOW (an ISO-8601 time) pins it: a test hook, and what lets a demo or a test run a
rollout in simulated time through the real commands. Times are always timezone-aware UTC.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now in UTC, or the time ROLLOUT_NOW pins (UsageError, exit 2, when it is not a time)."""
    pinned = os.environ.get("ROLLOUT_NOW")
    if pinned:
        try:
            return parse_time(pinned)
        except ValueError:
            from rollout_cli.errors import UsageError

            raise UsageError(f"ROLLOUT_NOW={pinned!r} is not a time", hint="write an ISO-8601 time such as "
                             "2026-01-05T10:00:00Z (no zone: UTC), or unset ROLLOUT_NOW") from None
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    """An ISO-8601 time; a time without a zone is taken as UTC."""
    value = datetime.fromisoformat(text)  # Python 3.11 reads a trailing Z too
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()
