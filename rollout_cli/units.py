"""Durations and percentages as plans write them ("24h", "2%"), parsed once.

Choices (documented in docs/plan.md):
- a duration is a number with a unit s, m, h, d or w ("90m", "1.5h"); a bare number is seconds;
- a percentage string "2%" is the fraction 0.02; a bare number in a percentage field that is
  at most 1 is already a fraction ("confidence: 0.95"); traffic and shadow shares are kept
  in percent (0-100) because that is how routers speak of them (docs/routers.md).
"""

from __future__ import annotations

import math
import re
from typing import Literal

# The schema's spelling of a duration (plan/schema.json; a test keeps the two equal).
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(s|m|h|d|w)\s*$"

# The longest duration a plan may use: generous for any rollout, and far inside what the
# clocks, timers and date arithmetic downstream can hold (a year 1 date raises, not waits).
MAX_DURATION_S = 100 * 365 * 86400
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def finite(value: object, number: float) -> float:
    """`number` as a float, refusing what no plan means: NaN, infinity, or too many digits to
    hold (YAML's `.nan` and `.inf` are numbers, and would pass every range check)."""
    try:
        result = float(number)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        what = "not a number" if math.isnan(result) else ("too large" if result > 0 else "too small")
        raise ValueError(f"{_shown(value)} is {what}; write a finite number")
    return result


def _shown(value: object) -> str:
    """How a refused value is quoted: YAML's spelling of NaN and infinity, and a length rather
    than hundreds of digits."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    text = repr(value)
    return text if len(text) <= 40 else f"a number of {len(text)} characters"


def parse_duration(value: object) -> float:
    """Seconds in `value` ("24h", "90m", 30). Raises ValueError with a readable message."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (write e.g. 30m, 24h, 14d)")
    if isinstance(value, (int, float)):
        seconds = finite(value, value)
        if seconds < 0:
            raise ValueError(f"{value} is negative; a duration must be 0 or more")
        return seconds
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return finite(value, float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    raise ValueError(f"{value!r} is not a duration (write e.g. 30m, 24h, 14d)")


def parse_fraction(value: object) -> float:
    """A share as a fraction: "2%" -> 0.02, 0.02 -> 0.02. Numbers above 1 are refused."""
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match:
            return finite(value, float(match.group(1))) / 100.0
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if 0 <= finite(value, value) <= 1:
            return float(value)
        raise ValueError(f"{value} is not a fraction; write a percentage such as {value}%")
    raise ValueError(f"{value!r} is not a percentage (write e.g. 2% or 0.02)")


def parse_share(value: object) -> float:
    """A traffic or shadow share in percent (0-100): "5%" -> 5.0, 5 -> 5.0."""
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match:
            share = finite(value, float(match.group(1)))
        else:
            raise ValueError(f"{value!r} is not a percentage (write e.g. 5%)")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        share = finite(value, value)
    else:
        raise ValueError(f"{value!r} is not a percentage (write e.g. 5%)")
    if not 0 <= share <= 100:
        raise ValueError(f"{value!r} is outside 0%..100%")
    return share


def parse_threshold(value: object) -> float:
    """An absolute guard bound: "0.5%" -> 0.005 (a rate), 250 -> 250.0 (in the metric's unit)."""
    if isinstance(value, str):
        match = _PERCENT.match(value)
        if match:
            return finite(value, float(match.group(1))) / 100.0
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return finite(value, value)
    raise ValueError(f"{value!r} is not a number or a percentage")


DurationStyle = Literal["exact", "age", "clock", "span"]


def format_duration(seconds: float, *, weeks: bool = True, style: DurationStyle = "exact") -> str:
    """A duration in words; the one duration formatter of the package.

    - "exact" (plan values): the shortest exact form, 86400 -> "1d", 5400 -> "90m", 0 -> "0s";
    - "age" (measured ages and windows): rounded to whole minutes from two minutes on, else to
      whole seconds, then written exactly (an age of 3607 s reads "1h");
    - "clock" (time spent and left, for people): whole seconds in at most two units, "45s",
      "12m30s", "3h05m", "2d4h";
    - "span" (timelines of `plan show`): whole seconds in every unit from days down, spaced,
      "2d 18h", "1h 30m".
    Runbooks pass `weeks=False` because on-call people say "14d", not "2w".
    """
    if style == "clock":
        return _clock(seconds)
    if style == "span":
        return _span(seconds)
    if style == "age":
        seconds = 60.0 * round(seconds / 60.0) if seconds >= 120 else float(round(seconds))
    if seconds <= 0:
        return "0s"
    for unit in ("w", "d", "h", "m") if weeks else ("d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds:.1f}s"


def _clock(seconds: float) -> str:
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"


def _span(seconds: float) -> str:
    if seconds <= 0:
        return "0s"
    parts = []
    remaining = round(seconds)
    for unit in ("d", "h", "m", "s"):
        count, remaining = divmod(remaining, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts)


def format_share(share: float, *, digits: int | None = None) -> str:
    """A share in percent, the one percentage formatter: 5.0 -> "5%", 0.5 -> "0.5%"; a measured
    share keeps `digits` significant digits (digits=3: 12.3456 -> "12.3%")."""
    return f"{share:g}%" if digits is None else f"{share:.{digits}g}%"


def format_fraction(fraction: float, *, digits: int | None = None) -> str:
    """A fraction as a percentage: 0.02 -> "2%" (see `format_share` for `digits`)."""
    return format_share(100 * fraction, digits=digits)


def format_split(candidate_traffic: float, shadow: float) -> str:
    """A split in words: "5% served, 100% mirrored" (shares in percent)."""
    return f"{format_share(candidate_traffic)} served, {format_share(shadow)} mirrored"


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:units?\s*)?/\s*([smhd])\s*$")


def parse_rate(value: object) -> float:
    """Units per hour in a traffic rate ("20000 units/h", "20000/h", "300/m"). Raises ValueError."""
    if isinstance(value, str):
        match = _RATE.match(value)
        if match:
            per_hour = float(match.group(1)) * 3600.0 / _UNIT_SECONDS[match.group(2)]
            if per_hour > 0:
                return finite(value, per_hour)
    raise ValueError(f"{value!r} is not a traffic rate (write e.g. 20000 units/h, 20000/h or 300/m)")
