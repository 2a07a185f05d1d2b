""" "Did you mean …" for near-misses of keys, metric names, teams and adapters."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `word`, if any is close enough to be a likely typo."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str], *, list_when_none: bool = True) -> str:
    """ " (did you mean 'x'?)", or " (known: a, b, c)" when nothing is close, or ""."""
    options = sorted(set(choices))
    match = closest(word, options)
    if match is not None:
        return f" (did you mean {match!r}?)"
    if list_when_none and options:
        return f" (known: {', '.join(options)})"
    return ""
