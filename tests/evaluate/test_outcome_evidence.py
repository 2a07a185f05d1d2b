"""No outcome data is no evidence: a guard on an outcome metric whose event has no row in the window,
or none that belongs to an answered unit, is inconclusive — never a pass on "0%" (docs/data.md,
"No outcome data"). Zero events in one arm, while the window's units have events, is evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from evaluate_helpers import simulate, write_plan
from test_bad_data import rewrite

from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.stats.outcome import Outcome

END = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(hours=6)
ABSOLUTE = [{"metric": "conversion", "max": "50%"}, {"metric": "revenue", "max": 1000},
            {"metric": "error_rate", "max": "0.5%"}]
SILENT = {  # the outcome rows rewritten -> what the check says
    "30 days old": ("SELECT * REPLACE (ts - INTERVAL 30 DAY AS ts) FROM logs",
                    "no outcome events 'purchase' in the window (outcomes {outcomes} has no rows in it)"),
    "event spelled otherwise": ("SELECT * REPLACE (upper(event) AS event) FROM logs",
                                "no outcome events 'purchase' in the window (outcomes {outcomes} has {rows} rows "
                                "in it, none of event 'purchase')"),
    "unit ids that match none": ("SELECT * REPLACE (user_id || '-x' AS user_id) FROM logs",
                                 "none of the {events} outcome events 'purchase' in the window (outcomes {outcomes}) "
                                 "follows an answer to its unit (column 'user_id'){within}"),
}


@pytest.mark.parametrize("full", [True, False], ids=["full", "cached"])
@pytest.mark.parametrize("variant", sorted(SILENT))
def test_an_outcome_guard_without_outcome_data_is_inconclusive(tmp_path: Path, variant: str, full: bool) -> None:
    plan = write_plan(tmp_path, guards=ABSOLUTE + [{"metric": "conversion", "max_drop": "2%", "per_segment": True}])
    logs = simulate(plan, tmp_path, units=4_000, candidate_pct=50)
    select, words = SILENT[variant]
    rewrite(logs.outcomes, select)
    cache = tmp_path / "state"
    looks = [evaluate_stage(plan, plan.stage("canary"), now=END, cache_dir=cache, full=full) for _ in range(2)]
    for evaluation in looks:  # through the cache: the look that fills it and the one that reads it
        assert evaluation.verdict is Outcome.INCONCLUSIVE, evaluation.reasons
        by_metric = {}
        for check in evaluation.checks:
            by_metric.setdefault(check.metric, []).append(check)
        assert "not judged" not in by_metric["error_rate"][0].reason  # a request metric is judged
        outcome_checks = by_metric["conversion"] + by_metric["revenue"]
        assert len(by_metric["conversion"]) > 2  # per segment too
        assert {c.outcome for c in outcome_checks} == {Outcome.INCONCLUSIVE}
        rows, events = window_rows(logs.predictions, logs.outcomes)
        for check in outcome_checks:
            metric = plan.metrics[check.metric]
            within = f" within {metric.window_s / 3600:g}h" if metric.window_s else ""
            expected = words.format(outcomes=tmp_path / "logs" / "outcomes*.parquet", rows=rows, events=events, within=within)
            assert check.reason == f"{check.metric}: not judged: {expected}", check.reason
            assert check.p_value is None and check.interval is None


def window_rows(predictions: Path, outcomes: Path) -> tuple[int, int]:
    """The outcome rows from the first answer to END, and those of event 'purchase'."""
    with duckdb.connect() as con:
        first = con.execute(f"SELECT min(ts) FROM read_parquet('{predictions}')").fetchall()[0][0]
        found = con.execute(f"SELECT count(*), count(*) FILTER (WHERE event = 'purchase') FROM read_parquet("
                            f"'{outcomes}') WHERE ts BETWEEN ? AND ?", [first, END.replace(tzinfo=None)]).fetchall()[0]
    return int(found[0]), int(found[1])


def test_no_events_in_one_arm_is_evidence(tmp_path: Path) -> None:
    """The candidate's units have no purchase while the baseline's have many: judged, and a fail."""
    plan = write_plan(tmp_path, guards=[{"metric": "conversion", "min": "2%"},
                                        {"metric": "conversion", "max_drop": "2%"}])
    logs = simulate(plan, tmp_path, units=4_000, candidate_pct=50)
    rewrite(logs.outcomes, f"SELECT * FROM logs WHERE user_id NOT IN (SELECT user_id FROM "
                           f"read_parquet('{logs.predictions}') WHERE arm = 'candidate')")
    for full in (True, False):
        evaluation = evaluate_stage(plan, plan.stage("canary"), now=END, cache_dir=tmp_path / "state", full=full)
        assert evaluation.verdict is Outcome.FAIL, evaluation.reasons
        assert [c.outcome for c in evaluation.checks] == [Outcome.FAIL, Outcome.FAIL]
        assert all(c.candidate == 0 for c in evaluation.checks)
