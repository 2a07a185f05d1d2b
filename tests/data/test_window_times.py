"""A window's bounds compare with every time column type the logs may use, zoned or not (docs/data.md:
naive = UTC). A zoned Python time bound as TIMESTAMPTZ is refused by DuckDB against TIMESTAMP_NS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import duckdb
import pytest

from rollout_cli.data.source import SqlParams, ts_filter, utc_naive

TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMPTZ")
PARIS = timezone(timedelta(hours=1))


@pytest.mark.parametrize("column_type", TYPES)
@pytest.mark.parametrize("zone", [None, UTC, PARIS])
def test_the_window_counts_the_same_rows_whatever_the_zone_of_its_bounds(column_type: str, zone: timezone | None) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # rows at 00:00, 01:00, ..., 09:00 UTC
    con.execute(f"CREATE TABLE logs AS SELECT CAST(TIMESTAMP '2026-01-05 00:00:00' + to_hours(i) AS {column_type}) AS ts "
                "FROM range(10) t(i)")
    since, until = datetime(2026, 1, 5, 2), datetime(2026, 1, 5, 6)  # UTC: 02:00 to 06:00, five rows
    if zone is not None:
        since, until = (moment.replace(tzinfo=UTC).astimezone(zone) for moment in (since, until))
    params = SqlParams()
    where = ts_filter("ts", since, until, params)
    assert con.execute(f"SELECT count(*) FROM logs WHERE {where}", params.values).fetchone() == (5,)


def test_utc_naive_keeps_the_instant() -> None:
    moment = datetime(2026, 1, 5, 7, 30, tzinfo=PARIS)
    assert utc_naive(moment) == datetime(2026, 1, 5, 6, 30)
    assert utc_naive(datetime(2026, 1, 5, 6, 30)) == datetime(2026, 1, 5, 6, 30)
