"""The one clock of the state and the controller.

ROLLOUT_NOW (an ISO-8601 time) pins it: a test hook, and what lets a demo or a test run a
rollout in simulated time through the real commands. Times are always timezone-aware UTC.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now in UTC, or the time ROLLOUT_NOW pins."""
    pinned = os.environ.get("ROLLOUT_NOW")
    if pinned:
        return parse_time(pinned)
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    """An ISO-8601 time; a time without a zone is taken as UTC."""
    value = datetime.fromisoformat(text)  # Python 3.11 reads a trailing Z too
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()
