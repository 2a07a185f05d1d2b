"""The stage statement counts the window's outcome rows and their exact repeats while grouping them for
its join (data/outcome_join.py `counts_outcome_rows`): the same figures as the quality screen's own count
(data/quality.py), and the screen still runs where the two could disagree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from evaluate_helpers import simulate, write_plan
from test_bad_data import rewrite

from rollout_cli.data import quality as quality_module
from rollout_cli.data.quality import data_quality
from rollout_cli.data.source import open_logs
from rollout_cli.evaluation.stage import evaluate_stage

END = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(hours=6)
CONVERSION = {"metric": "conversion", "max_drop": "2%"}
REVENUE = {"metric": "revenue", "max_drop": "3%"}
SOME = "hash(user_id) % 7 = 0"
VARIANTS = {  # outcome rows rewritten; True: the statement counts them, False: the screen does
    "exact repeats": ("SELECT * FROM logs UNION ALL SELECT * FROM logs WHERE " + SOME, True),
    "the value differs": (f"SELECT * FROM logs UNION ALL SELECT * REPLACE (value + 1 AS value) FROM logs WHERE {SOME}",
                          True),
    "repeats without a value": ("SELECT * REPLACE (CASE WHEN hash(user_id) % 3 = 0 THEN NULL ELSE value END AS value) "
                                f"FROM (SELECT * FROM logs UNION ALL SELECT * FROM logs WHERE {SOME})", True),
    "nanosecond times": ("SELECT * REPLACE (CAST(ts AS TIMESTAMP_NS) AS ts) FROM (SELECT * FROM logs UNION ALL "
                         f"SELECT * FROM logs WHERE {SOME})", False),
    "a nanosecond apart": ("SELECT * REPLACE (CAST(ts AS TIMESTAMP_NS) AS ts) FROM logs UNION ALL SELECT * REPLACE "
                           f"(make_timestamp_ns(epoch_ns(ts) + 1) AS ts) FROM logs WHERE {SOME}", False),
    "times with a zone": ("SELECT * REPLACE (CAST(ts AS TIMESTAMPTZ) AS ts) FROM (SELECT * FROM logs UNION ALL "
                          f"SELECT * FROM logs WHERE {SOME})", False),
}


@pytest.mark.parametrize("guards", [[CONVERSION, REVENUE], [CONVERSION]], ids=["with a summed value", "events only"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_statement_counts_the_outcome_rows_as_the_screen_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   variant: str, guards: list[dict[str, Any]]) -> None:
    plan = write_plan(tmp_path, guards=guards)
    logs = simulate(plan, tmp_path, units=5_000, candidate_pct=50)
    select, counted_by_statement = VARIANTS[variant]
    rewrite(logs.outcomes, select)
    screened: list[str] = []
    real_screen = quality_module._rows_and_repeats

    def screen(*args: Any, **kwargs: Any) -> tuple[int, int]:
        screened.append(args[1])
        return real_screen(*args, **kwargs)

    monkeypatch.setattr(quality_module, "_rows_and_repeats", screen)
    found = evaluate_stage(plan, plan.stage("canary"), now=END).data_quality
    outcome_screens = [where for where in screened if "event" in where]
    assert bool(outcome_screens) is not counted_by_statement, outcome_screens
    with open_logs(plan.data) as opened:  # the screen's own count over the same window
        own = data_quality(opened, since=None, until=END.replace(tzinfo=None), outcome_events=("purchase",))
    assert found is not None
    assert (found.outcome_rows, found.duplicate_outcomes) == (own.outcome_rows, own.duplicate_outcomes)
    assert found.outcome_rows > 0
    if variant not in ("the value differs", "a nanosecond apart"):
        assert found.duplicate_outcomes > 0
    else:
        assert found.duplicate_outcomes == 0
