"""The parquet statistics' proof that every prediction row has a unit and a time in the window
(data/row_group_stats.py), and the light scan that relies on it (data/scans.window_facts): the proof
is given only when every row group's statistics say so plainly, the scan then reads neither the unit
nor the time column, and its figures are those of the scan that reads them — also when a file changes
between the proof and the scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rollout_cli.data import scans
from rollout_cli.data.row_group_stats import InWindow, all_in_window
from rollout_cli.data.scans import QuantileRead, window_facts
from rollout_cli.data.source import Logs, open_logs
from rollout_cli.plan.model import ROLES, DataSource, DataSpec

START = datetime(2026, 1, 5)
UNTIL = datetime(2026, 1, 5, 6, tzinfo=UTC)
READS = {"counted": ("latency_ms",), "quantiled": (QuantileRead("latency_ms", "latency_p99", (0.5, 0.99)),)}


def _write(path: Path, *, rows: int = 3000, null_unit_at: int | None = None, null_ts_at: int | None = None,
           tz: bool = False, statistics: bool = True) -> None:
    """`rows` predictions 5 s apart from midnight (4h10m at 3,000), in row groups of 1,000."""
    ts = [None if i == null_ts_at else START + timedelta(seconds=5 * i) for i in range(rows)]
    table = pa.table({
        "request_id": [f"r{i}" for i in range(rows)],
        "ts": pa.array([t.replace(tzinfo=UTC) if tz and t else t for t in ts],
                       pa.timestamp("us", tz="UTC" if tz else None)),
        "unit_id": [None if i == null_unit_at else f"u{i % 700}" for i in range(rows)],
        "arm": ["baseline" if i % 2 else "candidate" for i in range(rows)],
        "served": [True] * rows,
        "latency_ms": [50.0 + (i * 37) % 400 for i in range(rows)],
    })
    pq.write_table(table, path, row_group_size=1000, write_statistics=statistics)


def _logs(glob: Path | str) -> Logs:
    return open_logs(DataSpec(predictions=DataSource(glob=str(glob)), outcomes=None, training=None,
                              columns={role: role for role in ROLES}))


def test_the_proof_covers_every_file_and_the_scan_reads_neither_unit_nor_time(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet")
    _write(tmp_path / "b.parquet", rows=1500)
    statements: list[str] = []
    with _logs(tmp_path / "*.parquet") as logs:
        proof = all_in_window(logs, logs.predictions, since=None, until=UNTIL)
        read = logs.query
        logs.query = lambda sql, params: statements.append(sql) or read(sql, params)  # type: ignore[method-assign]
        facts = window_facts(logs, since=None, until=UNTIL, **READS)  # type: ignore[arg-type]
        logs.query = read  # type: ignore[method-assign]
        read_all = window_facts(logs, since=None, until=UNTIL, proved=False, **READS)  # type: ignore[arg-type]
    assert proof == InWindow((str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")), 4500,
                             START, START.replace(hour=4, minute=9, second=55))
    scan = statements[-1]
    assert '"unit_id"' not in scan and '"ts"' not in scan
    assert facts == read_all and facts.window_rows == facts.total_rows == 4500 and facts.no_unit_rows == 0


def test_a_window_with_a_start_before_every_row_is_proved(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet")
    since = datetime(2026, 1, 4, 23, tzinfo=UTC)
    with _logs(tmp_path / "a.parquet") as logs:
        proof = all_in_window(logs, logs.predictions, since=since, until=UNTIL)
        assert proof is not None and proof.rows == 3000 and proof.first_ts == START
        assert window_facts(logs, since=since, until=UNTIL, **READS) == window_facts(  # type: ignore[arg-type]
            logs, since=since, until=UNTIL, proved=False, **READS)  # type: ignore[arg-type]


def test_a_tz_aware_time_column_is_proved_alike(tmp_path: Path) -> None:
    _write(tmp_path / "a.parquet", tz=True)
    with _logs(tmp_path / "a.parquet") as logs:
        assert all_in_window(logs, logs.predictions, since=None, until=UNTIL) is not None
        assert window_facts(logs, since=None, until=UNTIL, **READS) == window_facts(  # type: ignore[arg-type]
            logs, since=None, until=UNTIL, proved=False, **READS)  # type: ignore[arg-type]


@pytest.mark.parametrize("case", ["since after the first row", "until before the last row", "a row without a unit",
                                  "a row without a time", "no statistics", "csv", "one file of two unproved"])
def test_no_proof_unless_every_row_group_gives_it(tmp_path: Path, case: str) -> None:
    since, until = None, UNTIL
    glob: Path = tmp_path / "a.parquet"
    if case == "since after the first row":
        since = datetime(2026, 1, 5, 1, tzinfo=UTC)
    if case == "until before the last row":
        until = datetime(2026, 1, 5, 4, tzinfo=UTC)
    _write(glob, null_unit_at=2500 if case == "a row without a unit" else None,
           null_ts_at=10 if case == "a row without a time" else None, statistics=case != "no statistics")
    if case == "csv":
        duckdb.connect().execute(f"COPY (FROM '{glob}') TO '{tmp_path / 'a.csv'}'")
        glob = tmp_path / "a.csv"
    if case == "one file of two unproved":
        _write(tmp_path / "b.parquet", null_unit_at=0)
        glob = tmp_path / "*.parquet"
    with _logs(glob) as logs:
        assert all_in_window(logs, logs.predictions, since=since, until=until) is None
        assert window_facts(logs, since=since, until=until, **READS) == window_facts(  # type: ignore[arg-type]
            logs, since=since, until=until, proved=False, **READS)  # type: ignore[arg-type]


def test_a_file_changed_after_the_proof_sends_the_scan_to_read_the_columns(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The proof counted 3,000 rows; the file now holds 3,001, one of them without a unit: the scan counts
    what it read, sees the difference, and reads the unit and time columns after all."""
    path = tmp_path / "a.parquet"
    _write(path)
    with _logs(path) as logs:
        stale = all_in_window(logs, logs.predictions, since=None, until=UNTIL)
    assert stale is not None and stale.rows == 3000
    _write(path, rows=3001, null_unit_at=3000)
    monkeypatch.setattr(scans, "all_in_window", lambda *args, **kwargs: stale)
    with _logs(path) as logs:
        facts = window_facts(logs, since=None, until=UNTIL, **READS)  # type: ignore[arg-type]
        read_all = window_facts(logs, since=None, until=UNTIL, proved=False, **READS)  # type: ignore[arg-type]
    assert facts == read_all and facts.total_rows == 3001 and facts.no_unit_rows == 1
