""" "Did you mean …" for near-misses of keys, metric names, teams and adapters.

A plan may name thousands of metrics and reference as many unknown ones (an untrusted pull
request can do it on purpose), and a close-match search costs time in the number of names. So
a `Vocabulary` is built once per set of names, answers a repeated word from memory, searches
for at most `MAX_SEARCHES` distinct words and lists at most `MAX_LISTED` names: validating
stays linear in the size of the plan (docs/plan.md, "Suggestions").
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

MAX_SEARCHES = 25  # close-match searches per vocabulary; later unknown words get no suggestion
MAX_LISTED = 12  # names listed in "(known: …)"


class Vocabulary:
    """The names a word may be a misspelling of."""

    def __init__(self, choices: Iterable[str]) -> None:
        self.names = frozenset(choices)
        self._sorted: list[str] | None = None
        self._answers: dict[tuple[str, bool], str] = {}
        self._searches_left = MAX_SEARCHES

    def __contains__(self, word: object) -> bool:
        return word in self.names

    def _options(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.names)
        return self._sorted

    def hint(self, word: str, *, list_when_none: bool = True) -> str:
        """ " (did you mean 'x'?)", or " (known: a, b, c)" when nothing is close, or ""."""
        answer = self._answers.get((word, list_when_none))
        if answer is not None:
            return answer
        options = self._options()
        match = None
        if self._searches_left > 0:
            self._searches_left -= 1
            matches = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
            match = matches[0] if matches else None
        if match is not None:
            answer = f" (did you mean {match!r}?)"
        elif list_when_none and options:
            shown = ", ".join(options[:MAX_LISTED])
            more = f", … {len(options) - MAX_LISTED} more" if len(options) > MAX_LISTED else ""
            answer = f" (known: {shown}{more})"
        else:
            answer = ""
        self._answers[(word, list_when_none)] = answer
        return answer


def did_you_mean(word: str, choices: Iterable[str] | Vocabulary, *, list_when_none: bool = True) -> str:
    """One-off `Vocabulary(choices).hint(word)`; pass a `Vocabulary` when asking many times."""
    vocabulary = choices if isinstance(choices, Vocabulary) else Vocabulary(choices)
    return vocabulary.hint(word, list_when_none=list_when_none)
