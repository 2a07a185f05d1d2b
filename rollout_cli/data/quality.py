"""Bad rows that would bias a verdict silently: duplicates and arm values nobody recognises.

One light scan per source over the window (duplicates are screened by counting distinct hashes of
the key, which is exact when no two hashes collide; only when the screen finds fewer distinct
hashes than rows is the key itself counted) (docs/data.md, "Duplicates and unknown arms"). On
DuckDB the screen sorts the 64-bit hashes and counts those equal to their predecessor
(`distinct_hash_repeats`), which costs less time and memory than DuckDB's `count(DISTINCT …)` hash
table; on Spark the count stays where the data are (docs/spark.md).
- predictions: rows whose `request_id` (when the column exists) was logged before for the same
  arm (a shadow request has one row per arm); without a `request_id`, rows repeating another
  row's unit, time and arm;
- outcomes: rows repeating another row's unit, time, event and value exactly (a log shipped
  twice). Those are also dropped by the main statement (queries.py), so a candidate's outcomes
  logged three times count once; the count is still reported, and many of them hold the stage;
- arm values other than `baseline` and `candidate` (`CANDIDATE`, `treatment`, NULL): counted and
  named, the five most frequent first, because those rows are in no arm at all.
Same rules as queries.py: user values are parameters, columns are checked quoted identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollout_cli.data.engine import DuckDBEngine
from rollout_cli.data.queries import ts_filter
from rollout_cli.data.source import BoundSource, Logs, SqlParams

SHOWN_ARMS = 5


@dataclass(frozen=True)
class DataQuality:
    """What the quality scan found in the window."""

    prediction_rows: int
    duplicate_predictions: int  # rows beyond the first with the same key
    duplicate_key: str  # "request_id and arm" or "unit, ts, arm"
    outcome_rows: int = 0
    duplicate_outcomes: int = 0  # exact repeats (unit, ts, event, value)
    unknown_arm_rows: int = 0
    unknown_arms: tuple[tuple[str | None, int], ...] = field(default=())  # most frequent first

    def to_json(self) -> dict[str, Any]:
        return {"prediction_rows": self.prediction_rows, "duplicate_predictions": self.duplicate_predictions,
                "duplicate_key": self.duplicate_key, "outcome_rows": self.outcome_rows,
                "duplicate_outcomes": self.duplicate_outcomes, "unknown_arm_rows": self.unknown_arm_rows,
                "unknown_arms": [{"value": value, "rows": rows} for value, rows in self.unknown_arms]}


def prediction_key(preds: BoundSource) -> tuple[str, str, str]:
    """(the key a repeated prediction row repeats, in words, the condition of rows that have one)."""
    if preds.has_role("request_id"):  # with the arm: a mirrored request has a row per arm
        request = preds.column("request_id", "any")
        return f"({request}, {preds.column('arm', 'text')})", "request_id and arm", f"{request} IS NOT NULL"
    unit = preds.column("unit_id", "any")
    return (f"({unit}, {preds.column('ts', 'timestamp')}, {preds.column('arm', 'text')})", "unit, ts, arm",
            f"{unit} IS NOT NULL")


def outcome_key(outs: BoundSource) -> str:
    """The key a repeated outcome row repeats: unit, time, event and value."""
    value = outs.column("value", "any") if outs.has_role("value") else "NULL"
    return f"({outs.column('unit_id', 'any')}, {outs.column('ts', 'timestamp')}, {outs.column('event', 'text')}, {value})"


def data_quality(logs: Logs, *, since: datetime | None, until: datetime, outcome_events: tuple[str, ...] = (),
                 counted: tuple[int, int] | None = None, whole_source: bool = False,
                 outcomes_counted: tuple[int, int] | None = None) -> DataQuality:
    """Scan the window's predictions (and the outcomes of `outcome_events`) for bad rows. `counted`: the
    window's prediction rows and those in no arm, as the light scan counted them (data/scans.py); used
    on DuckDB, where the duplicate screen is a read of its own, so the counts need no pass of theirs.
    `whole_source`: the light scan found every prediction row in the window, so the screen reads the
    source without testing the window (a screen over more rows than the window's is still a proof:
    no repeat among them is none among the window's; a repeat sends it to the exact count, as always).
    `outcomes_counted`: the outcome rows of `outcome_events` in the window and their exact repeats, as
    the stage statement counted them while grouping them for its join (data/outcome_join.py
    `counts_outcome_rows`): no screen of their own."""
    preds = logs.predictions
    ts, arm = preds.column("ts", "timestamp"), preds.column("arm", "text")
    preds.column("unit_id", "any")  # checked here whatever the key
    params = SqlParams()
    window = ts_filter(ts, since, until, params)
    key, key_words, keyed = prediction_key(preds)
    local = isinstance(logs.engine, DuckDBEngine)
    if local and counted is not None:
        rows, duplicates, unknown = counted[0], 0, counted[1]
    else:
        screen = "0" if local else f"count(*) FILTER (WHERE {keyed}) - count(DISTINCT hash{key}) FILTER (WHERE {keyed})"
        row = logs.query(
            f"SELECT count(*), {screen}, "
            f"count(*) FILTER (WHERE {arm} IS NULL OR {arm} NOT IN ('baseline', 'candidate')) "
            f"FROM {preds.from_item(params)} WHERE {window}", params)[0]
        rows, duplicates, unknown = int(row[0]), int(row[1] or 0), int(row[2] or 0)
    if local:
        params = SqlParams()
        window = "" if whole_source else ts_filter(ts, since, until, params) + " AND "
        duplicates = distinct_hash_repeats(logs, f"FROM {preds.from_item(params)} WHERE {window}{keyed}", key, params)
    if duplicates:  # fewer distinct hashes than keys: duplicates, or (rarely) a hash collision — count exactly
        params = SqlParams()
        window = ts_filter(ts, since, until, params)
        duplicates = int(logs.query(
            f"SELECT count(*) - count(DISTINCT {key}) FROM {preds.from_item(params)} WHERE {window} AND {keyed}",
            params)[0][0] or 0)
    arms: tuple[tuple[str | None, int], ...] = ()
    if unknown:
        params = SqlParams()
        window = ts_filter(ts, since, until, params)
        found = logs.query(
            f"SELECT CAST({arm} AS VARCHAR) AS value, count(*) AS n FROM {preds.from_item(params)} "
            f"WHERE {window} AND ({arm} IS NULL OR {arm} NOT IN ('baseline', 'candidate')) "
            f"GROUP BY ALL ORDER BY n DESC, value LIMIT {SHOWN_ARMS}", params)
        arms = tuple((value, int(n)) for value, n in found)
    outcome_rows = duplicate_outcomes = 0
    outs = logs.outcomes
    if outcome_events and outs is not None and outcomes_counted is not None:
        outcome_rows, duplicate_outcomes = outcomes_counted
    elif outcome_events and outs is not None:
        params = SqlParams()
        o_ts, o_event = outs.column("ts", "timestamp"), outs.column("event", "text")
        events = ", ".join(params.add(e) for e in outcome_events)
        o_window = ts_filter(o_ts, since, until, params)
        key = outcome_key(outs)
        where = f"FROM {outs.from_item(params)} WHERE {o_event} IN ({events}) AND {o_window}"
        if isinstance(logs.engine, DuckDBEngine):  # the rows are the hashes read: no count of their own
            outcome_rows, duplicate_outcomes = _rows_and_repeats(logs, where, key, params)
        else:
            row = logs.query(f"SELECT count(*), count(*) - count(DISTINCT hash{key}) {where}", params)[0]
            outcome_rows, duplicate_outcomes = int(row[0]), int(row[1] or 0)
        if duplicate_outcomes:  # as above: the hashes only screen, the exact count decides
            duplicate_outcomes = int(logs.query(f"SELECT count(*) - count(DISTINCT {key}) {where}", params)[0][0] or 0)
    return DataQuality(rows, duplicates, key_words, outcome_rows, duplicate_outcomes, unknown, arms)


def distinct_hash_repeats(logs: Logs, where: str, key: str, params: SqlParams) -> int:
    """Rows of `where` whose key's 64-bit hash repeats an earlier row's (see `_rows_and_repeats`)."""
    return _rows_and_repeats(logs, where, key, params)[1]


def _rows_and_repeats(logs: Logs, where: str, key: str, params: SqlParams) -> tuple[int, int]:
    """The rows of `where` (a FROM … WHERE … clause), and those whose key's 64-bit hash repeats an earlier
    row's: the rows minus the distinct hashes, as `count(*) - count(DISTINCT hash(key))` counts them, on DuckDB.

    The hashes are sorted (in parallel, and out of core when they outgrow memory) and a repeat is a hash
    equal to its predecessor: over 40M prediction rows 2.5 s and 1.1 GB, where `count(DISTINCT …)` took
    4.0 s and 1.4 GB, and sorting them in numpy 4.2 s (benchmarks/README.md). Exact for the hashes: 0
    proves that no key repeats, and any other count sends the caller to the exact count of the keys
    themselves (a repeat may be a hash collision)."""
    row = logs.query(f"SELECT count(*), count(*) FILTER (WHERE h = before) FROM (SELECT h, lag(h) OVER (ORDER BY h) "
                     f"AS before FROM (SELECT hash{key} AS h {where}))", params)[0]
    return int(row[0]), int(row[1])
