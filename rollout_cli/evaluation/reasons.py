"""Guard results in words: the reasons `rollout evaluate` prints and the audit trail records.

`relative_reason` and `absolute_reason` say what was measured against which limit, then, unless
the guard failed, whether it is within the limit with the plan's confidence or why not yet;
`relative_words` is the guard itself ("max_drop 2%"). Measured shares keep three significant
digits (units.format_fraction).
"""

from __future__ import annotations

from collections.abc import Callable

from rollout_cli.plan.model import Guard
from rollout_cli.stats.guards import GuardResult
from rollout_cli.stats.outcome import Outcome
from rollout_cli.units import format_fraction


def percent(value: float) -> str:
    """A measured share, three significant digits: "12.3%"."""
    return format_fraction(value, digits=3)


def number(value: float | None) -> str:
    """A measured value, four significant digits; "n/a" when there is none."""
    return "n/a" if value is None else f"{value:.4g}"


def relative_words(guard: Guard) -> str:
    limits = (("max_drop", guard.max_drop), ("max_increase", guard.max_increase))
    return " ".join(f"{name} {percent(value)}" for name, value in limits if value is not None)


def relative_reason(name: str, result: GuardResult, guard: Guard) -> str:
    effect = result.effect
    if effect is None:
        return f"{name}: {result.reason}"
    direction = "below" if effect < 0 else "above"
    allowed = (f"allowed: {percent(guard.max_drop)} drop" if guard.max_drop is not None
               else f"allowed: {percent(guard.max_increase or 0)} increase")
    if guard.max_drop is not None and guard.max_increase is None:
        allowed = f"allowed: {percent(guard.max_drop)}"
        if effect >= 0:  # a drop guard seeing a rise: say so, it must not read like a violation
            allowed = f"the good direction; allowed: a drop of up to {percent(guard.max_drop)}"
    if guard.max_increase is not None and guard.max_drop is None and effect <= 0:
        allowed = f"the good direction; allowed: an increase of up to {percent(guard.max_increase)}"
    said = f"{name} is {percent(abs(effect))} {direction} baseline ({allowed})"
    if result.outcome is Outcome.FAIL:
        return said
    if result.outcome is Outcome.PASS:
        return f"{said}; within the limit with the plan's confidence"
    return f"{said}; {result.reason or 'not yet sure'}"


def absolute_reason(name: str, value: float | None, result: GuardResult, bound: str,
                    unit_fmt: Callable[[float], str] = number, detail: str = "") -> str:
    shown = "n/a" if value is None else unit_fmt(value)
    said = f"{name} is {shown} ({bound}){detail}"
    if result.outcome is Outcome.FAIL:
        return said
    if result.outcome is Outcome.PASS:
        return f"{said}; within the limit with the plan's confidence"
    return f"{said}; {result.reason or 'not yet sure'}"
