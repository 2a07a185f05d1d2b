"""The duplicate screen on DuckDB (data/quality.py `distinct_hash_repeats`): the sorted 64-bit
hashes give exactly what `count(*) - count(DISTINCT hash(key))` gives, so one repeated row among
many is never missed, and the exact count of keys follows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from rollout_cli.data.quality import data_quality, distinct_hash_repeats
from rollout_cli.data.scans import window_facts
from rollout_cli.data.source import SqlParams, open_logs
from rollout_cli.plan.model import ROLES, DataSource, DataSpec

UNTIL = datetime(2026, 1, 6, tzinfo=UTC)


def _logs(tmp_path: Path, repeats: int):  # type: ignore[no-untyped-def]
    """20,000 prediction rows with distinct request ids, then `repeats` rows repeated (a few twice)."""
    preds, outs = tmp_path / "p.parquet", tmp_path / "o.parquet"
    con = duckdb.connect()
    con.execute(f"""COPY (
        WITH base AS (SELECT 'r' || i AS request_id, TIMESTAMP '2026-01-05 00:00:00' + i * INTERVAL 1 SECOND AS ts,
                             'u' || (i % 5000) AS unit_id, CASE WHEN i % 2 = 0 THEN 'baseline' ELSE 'candidate' END AS arm,
                             true AS served, 0.5 AS prediction, 100.0 AS latency_ms, false AS error
                      FROM range(20000) t(i))
        SELECT * FROM base UNION ALL SELECT * FROM base WHERE hash(request_id) % 20000 < {repeats}
        UNION ALL SELECT * FROM base WHERE hash(request_id) % 20000 < {repeats // 3}
    ) TO '{preds}' (FORMAT parquet)""")
    con.execute(f"""COPY (
        WITH base AS (SELECT 'u' || (i % 5000) AS unit_id, TIMESTAMP '2026-01-05 00:00:00' + i * INTERVAL 1 SECOND AS ts,
                             'purchase' AS event, i * 1.0 AS value FROM range(8000) t(i))
        SELECT * FROM base UNION ALL SELECT * FROM base WHERE hash(unit_id, ts) % 8000 < {repeats}
    ) TO '{outs}' (FORMAT parquet)""")
    expected = con.execute(f"SELECT count(*) - count(DISTINCT (request_id, arm)) FROM '{preds}'").fetchone()[0]
    expected_outs = con.execute(f"SELECT count(*) - count(DISTINCT (unit_id, ts, event, value)) FROM '{outs}'"
                                ).fetchone()[0]
    spec = DataSpec(predictions=DataSource(glob=str(preds)), outcomes=DataSource(glob=str(outs)), training=None,
                    columns={role: role for role in ROLES})
    return open_logs(spec), expected, expected_outs


@pytest.mark.parametrize("repeats", [0, 1, 7])
def test_the_sorted_hashes_count_what_count_distinct_counts(tmp_path: Path, repeats: int) -> None:
    logs, expected, expected_outs = _logs(tmp_path, repeats)
    with logs:
        assert (expected > 0) == (repeats > 0)  # the fixture repeats rows when asked
        params = SqlParams()
        where = f"FROM {logs.predictions.from_item(params)} WHERE request_id IS NOT NULL"
        by_sql = logs.query(f"SELECT count(*) - count(DISTINCT hash(request_id, arm)) {where}", params)[0][0]
        assert distinct_hash_repeats(logs, where, "(request_id, arm)", params) == by_sql == expected
        quality = data_quality(logs, since=None, until=UNTIL, outcome_events=("purchase",))
    assert quality.duplicate_predictions == expected
    assert quality.duplicate_outcomes == expected_outs
    assert quality.prediction_rows == 20_000 + expected
    assert quality.outcome_rows == 8_000 + expected_outs


def test_the_light_scans_counts_are_the_quality_scans(tmp_path: Path) -> None:
    """The rows in the window and those in no arm, counted by the light scan before the main statement
    (data/scans.window_facts) and handed to the quality screen, equal the screen's own count."""
    _logs(tmp_path, 7)
    odd = tmp_path / "odd.parquet"  # some arms NULL, some not one of the two
    duckdb.connect().execute(
        f"COPY (SELECT * EXCLUDE (i) REPLACE (CASE WHEN i % 97 = 0 THEN NULL WHEN i % 89 = 0 THEN 'CANDIDATE' "
        f"ELSE arm END AS arm) FROM (SELECT *, row_number() OVER () AS i FROM '{tmp_path}/p.parquet')) "
        f"TO '{odd}' (FORMAT parquet)")
    spec = DataSpec(predictions=DataSource(glob=str(odd)), outcomes=None, training=None,
                    columns={role: role for role in ROLES})
    since = datetime(2026, 1, 5, 1, tzinfo=UTC)
    with open_logs(spec) as logs:
        facts = window_facts(logs, since=since, until=UNTIL)
        own = data_quality(logs, since=since, until=UNTIL)
        handed = data_quality(logs, since=since, until=UNTIL, counted=(facts.window_rows, facts.unknown_arm_rows))
    assert own.unknown_arm_rows > 0 and facts.window_rows < facts.total_rows  # the window leaves rows out
    assert (facts.window_rows, facts.unknown_arm_rows) == (own.prediction_rows, own.unknown_arm_rows)
    assert handed == own
