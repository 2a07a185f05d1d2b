"""Repeated request ids among unanswered baseline requests are screened by hash and confirmed by the
ids themselves (shadow/pairs.py): two ids that share a hash are not a repeat, on either engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from shadow_helpers import write_shadow_plan
from test_shadow_bad_input import ROWS, refused, write_log

from rollout_cli.data.engine import EngineConnection, FetchedRows
from rollout_cli.shadow import compare_shadow

UNANSWERED = [("r3", "u3", "baseline", True, "0.4"), ("r4", "u4", "baseline", True, "0.6")]


def test_a_hash_collision_among_unanswered_ids_is_not_a_repeat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 64-bit collision cannot be made at will: the screen's count is made to report one (as if r3 and
    r4 shared a hash); the exact look finds no repeated id, and the comparison goes on."""
    execute = EngineConnection.execute

    def colliding(self: EngineConnection, sql: str, params: Any = None) -> FetchedRows:
        found = execute(self, sql, params)
        if "count(DISTINCT rh)" in sql:
            return FetchedRows(found.names, [(1,)], found.types)
        return found

    monkeypatch.setattr(EngineConnection, "execute", colliding)
    plan = write_shadow_plan(tmp_path, predictions=str(tmp_path / "predictions.parquet"))
    write_log(tmp_path, [*ROWS, *UNANSWERED])
    result = compare_shadow(plan, examples=0)
    assert (result.coverage.baseline_requests, result.coverage.paired, result.coverage.missing) == (4, 2, 2)


def test_a_repeated_unanswered_id_is_still_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, [*ROWS, *UNANSWERED, UNANSWERED[0]])
    assert "1 baseline and 0 candidate requests have more than one answer (e.g. 'r3')" in message
