"""The light scan and the bound-level scan as grouped passes (data/scans.py): the same figures as the
FILTERed aggregates they replaced, over logs with every kind of row those filters tell apart — rows
without a unit, NULL and unknown arms, unserved answers, rows before and after the window or without a
time, NaN and infinite values — in a traffic and a shadow stage; and the quality screen over the whole
source (`whole_source`) finds what the windowed screen finds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from rollout_cli.data.quality import data_quality
from rollout_cli.data.scans import LevelRequest, QuantileRead, quantiles_at_levels, window_facts
from rollout_cli.data.source import open_logs
from rollout_cli.plan.model import ROLES, DataSource, DataSpec

SINCE = datetime(2026, 1, 5, 0, 10, tzinfo=UTC)
UNTIL = datetime(2026, 1, 5, 5, tzinfo=UTC)
LEVELS = (0.9, 0.95, 0.99)


def _logs(tmp_path: Path, odd: bool):  # type: ignore[no-untyped-def]
    """6,000 prediction rows over 6 hours; with `odd`, some without a unit, a time or a known arm,
    some unserved, some latencies NaN or infinite."""
    path = tmp_path / "p.parquet"
    odd_sql = "true" if odd else "false"
    duckdb.connect().execute(f"""COPY (
        SELECT 'r' || i AS request_id,
               CASE WHEN {odd_sql} AND i % 211 = 0 THEN NULL
                    ELSE TIMESTAMP '2026-01-05 00:00:00' + i * INTERVAL 3 SECOND END AS ts,
               CASE WHEN {odd_sql} AND i % 101 = 0 THEN NULL ELSE 'u' || (i % 1500) END AS unit_id,
               CASE WHEN {odd_sql} AND i % 97 = 0 THEN NULL WHEN {odd_sql} AND i % 89 = 0 THEN 'CANDIDATE'
                    WHEN hash(i % 1500) % 2 = 0 THEN 'baseline' ELSE 'candidate' END AS arm,
               NOT ({odd_sql} AND i % 13 = 0) AS served, 0.5 AS prediction,
               CASE WHEN {odd_sql} AND i % 83 = 0 THEN 'NaN'::DOUBLE WHEN {odd_sql} AND i % 79 = 0 THEN 'inf'::DOUBLE
                    ELSE 50 + (hash(i) % 1000) / 7.0 END AS latency_ms,
               false AS error
        FROM range(6000) t(i)
    ) TO '{path}' (FORMAT parquet)""")
    spec = DataSpec(predictions=DataSource(glob=str(path)), outcomes=None, training=None,
                    columns={role: role for role in ROLES})
    return open_logs(spec), path


def _filtered_facts(path: Path, since: datetime | None, shadow: bool) -> tuple[object, ...]:
    """The light scan's figures as the FILTERed aggregates computed them."""
    window = "ts <= $until" + (" AND ts >= $since" if since is not None else "")
    which = {"baseline": "arm = 'baseline' AND served AND unit_id IS NOT NULL",
             "candidate": f"arm = 'candidate' AND {'NOT ' if shadow else ''}served AND unit_id IS NOT NULL"}
    finite = "CASE WHEN isfinite(latency_ms) THEN latency_ms END"
    answers = ", ".join(f"count({finite}) FILTER (WHERE {window} AND {which[a]}), "
                        f"quantile_cont({finite}, {list(LEVELS)}) FILTER (WHERE {window} AND {which[a]})"
                        for a in ("baseline", "candidate"))
    params = {"until": UNTIL.replace(tzinfo=None)} | ({"since": since.replace(tzinfo=None)} if since else {})
    return duckdb.connect().execute(
        f"SELECT count(*), count(*) FILTER (WHERE {window}), min(ts) FILTER (WHERE {window}), "
        f"max(ts) FILTER (WHERE {window}), max(ts) FILTER (WHERE ts <= $until), "
        f"count(*) FILTER (WHERE {window} AND unit_id IS NULL), "
        f"count(*) FILTER (WHERE {window} AND (arm IS NULL OR arm NOT IN ('baseline', 'candidate'))), {answers} "
        f"FROM '{path}'", params).fetchone()  # type: ignore[return-value]


@pytest.mark.parametrize("odd", [False, True])
@pytest.mark.parametrize("shadow", [False, True])
@pytest.mark.parametrize("since", [None, SINCE])
def test_the_grouped_light_scan_reads_what_the_filtered_one_read(tmp_path: Path, odd: bool, shadow: bool,
                                                                  since: datetime | None) -> None:
    logs, path = _logs(tmp_path, odd)
    with logs:
        facts = window_facts(logs, since=since, until=UNTIL, shadow=shadow, counted=("latency_ms",),
                             quantiled=(QuantileRead("latency_ms", "latency_p99", LEVELS),))
    (total, window, first, last, upto, no_unit, unknown, n_base, q_base, n_cand, q_cand) = _filtered_facts(
        path, since, shadow)
    assert (facts.total_rows, facts.window_rows, facts.first_ts, facts.last_ts, facts.last_upto) == (
        total, window, first, last, upto)
    assert (facts.no_unit_rows, facts.unknown_arm_rows) == (no_unit, unknown)
    assert facts.answers == {("baseline", "latency_ms"): n_base, ("candidate", "latency_ms"): n_cand}
    assert facts.quantiles == {("baseline", "latency_ms"): dict(zip(LEVELS, q_base or [None] * 3)),
                               ("candidate", "latency_ms"): dict(zip(LEVELS, q_cand or [None] * 3))}
    assert odd == bool(no_unit and unknown) and (window < total) == (since is not None or odd)


@pytest.mark.parametrize("shadow", [False, True])
def test_the_grouped_level_scan_reads_what_the_filtered_one_read(tmp_path: Path, shadow: bool) -> None:
    """Whole-population requests (one grouped pass, every level of a column in one list) against the same
    requests each in a pass of its own per arm — the FILTERed shape segment requests still take; with
    `units_known` only where the light scan found no row without a unit."""
    requests = [LevelRequest(None, "baseline", "latency_p99", "latency_ms", (0.985, 0.995)),
                LevelRequest(None, "candidate", "latency_p99", "latency_ms", (0.98, 0.99, 0.999))]
    for odd in (False, True):
        folder = tmp_path / str(odd)
        folder.mkdir()
        logs, _ = _logs(folder, odd)
        with logs:
            facts = window_facts(logs, since=SINCE, until=UNTIL, shadow=shadow)
            grouped = quantiles_at_levels(logs, shadow=shadow, segments=["arm"], requests=requests, since=SINCE,
                                          until=UNTIL, units_known=facts.no_unit_rows == 0)
            # a segment population forces the FILTERed statement; the whole population's own request beside it
            alone = [quantiles_at_levels(logs, shadow=shadow, segments=["arm"],
                                         requests=[r, LevelRequest(("arm", r.arm), r.arm, r.key, r.column, r.levels)],
                                         since=SINCE, until=UNTIL)[0] for r in requests]
            # no `since`: every row in the window when none is odd, and the levels read without the time column
            everyone = window_facts(logs, since=None, until=UNTIL, shadow=shadow)
            known = [quantiles_at_levels(logs, shadow=shadow, segments=["arm"], requests=requests, since=None,
                                         until=UNTIL, units_known=everyone.no_unit_rows == 0, window_known=window_known)
                     for window_known in (False, everyone.window_rows == everyone.total_rows)]
        assert (facts.no_unit_rows == 0) == (not odd)
        assert grouped == alone
        assert known[0] == known[1] and (everyone.window_rows == everyone.total_rows) == (not odd)
        # in a shadow stage of logs where every answer is served, the candidate has no answers at all
        assert all(value is not None for values in grouped[:1 if shadow and not odd else 2] for value in values)


def test_the_screen_over_the_whole_source_finds_what_the_windowed_one_finds(tmp_path: Path) -> None:
    logs, path = _logs(tmp_path, False)
    with logs:
        facts = window_facts(logs, since=None, until=UNTIL)
        windowed = data_quality(logs, since=None, until=UNTIL, counted=(facts.window_rows, facts.unknown_arm_rows))
        whole = data_quality(logs, since=None, until=UNTIL, counted=(facts.window_rows, facts.unknown_arm_rows),
                             whole_source=True)
    assert whole == windowed and whole.duplicate_predictions == 0
    doubled = tmp_path / "doubled.parquet"  # the same rows twice: every key repeats
    duckdb.connect().execute(f"COPY (SELECT * FROM '{path}' UNION ALL SELECT * FROM '{path}') TO '{doubled}' "
                             "(FORMAT parquet)")
    spec = DataSpec(predictions=DataSource(glob=str(doubled)), outcomes=None, training=None,
                    columns={role: role for role in ROLES})
    with open_logs(spec) as logs:
        facts = window_facts(logs, since=None, until=UNTIL)
        whole = data_quality(logs, since=None, until=UNTIL, counted=(facts.window_rows, facts.unknown_arm_rows),
                             whole_source=True)
    assert whole.duplicate_predictions == facts.window_rows // 2
