"""Repeated request ids among unanswered baseline requests are counted on the ids themselves
(shadow/pairs.py): a repeat is refused, and no hash stands in for an id there."""

from __future__ import annotations

from pathlib import Path

from test_shadow_bad_input import ROWS, refused

UNANSWERED = [("r3", "u3", "baseline", True, "0.4"), ("r4", "u4", "baseline", True, "0.6")]


def test_a_repeated_unanswered_id_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, [*ROWS, *UNANSWERED, UNANSWERED[0]])
    assert "1 baseline and 0 candidate requests have more than one answer (e.g. 'r3')" in message
