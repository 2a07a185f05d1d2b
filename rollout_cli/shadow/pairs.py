"""Pair the baseline's served answers with the candidate's shadow answers, after refusing bad logs.

Contract:
- `check_log(logs, ...)` runs one light scan of the window (answers per arm and `served`, and for
  a text prediction column how many of each arm's answers read as numbers) and raises DataError,
  naming the column and the file, when a comparison would be computed on the wrong pairs: no
  baseline answers, a candidate that never answered, candidate rows marked served in a shadow
  stage, a label against a score (text labels in one arm, numbers in the other), or a numeric
  `error` column holding other values than 0 and 1 (data/scans.py, refuse_odd_flags).
- `build_pairs(logs, facts, ...)` creates the temporary table `pairs`: one row per baseline request
  of the window (a served baseline answer with a unit) with the candidate's unserved answer to it,
  if any, the segment and feature columns of the baseline's answer. It is one hash join of the
  two arms' rows as they are (no grouping by request id first). A request id answered twice by one
  arm is then refused (DataError naming the column, the file and an example id): which of the two
  answers should be compared is not knowable. Repeats are found without grouping every id: the
  join is a full outer join, so its row counts against the light scan's counts of each arm's rows
  (`LogFacts`) show any repeat among answered requests exactly, and the few unanswered baseline
  requests are checked for repeated ids directly (the table keeps their ids, `urid`, and the
  disagreeing requests' ids, `drid`; the other rows carry no id unless calibration asks for hashes).
- Column names enter SQL only as checked, quoted identifiers; times and globs are parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollout_cli.data.scans import flag_check, numeric_flags, refuse_odd_flags
from rollout_cli.data.source import Logs, SqlParams, ts_filter
from rollout_cli.errors import DataError

# A text prediction column whose answers read as numbers at least this often holds scores.
NUMERIC_TEXT_SHARE = 0.99


@dataclass(frozen=True)
class LogFacts:
    baseline_answers: int
    candidate_answers: int  # unserved, in the window
    kind: str  # "score" | "label"
    candidate_rows: int = 0  # what `build_pairs` joins: unserved candidate answers from the window's start on


@dataclass(frozen=True)
class PairColumns:
    segments: tuple[str, ...]  # the log's column names, as s0, s1, ... in `pairs`
    features: tuple[str, ...]  # as f0, f1, ...
    has_latency: bool
    has_error: bool


def _where(logs: Logs) -> tuple[str, str, str]:
    preds = logs.predictions
    return preds.column("arm", "text"), preds.column("served", "boolean"), preds.column("ts", "timestamp")


def check_log(logs: Logs, *, since: datetime | None, until: datetime) -> LogFacts:
    preds = logs.predictions
    arm, served, ts = _where(logs)
    pred = preds.column("prediction", "number_or_text")
    preds.column("request_id", "any")
    text = preds.type_of("prediction") == "text"
    params = SqlParams()
    numeric = f"try_cast({pred} AS DOUBLE) IS NOT NULL" if text else "true"
    # The candidate's side of the pairing has no end (its answers may come after the window's end): the
    # scan reads from the window's start, and whether a row lies before the window's end is computed once.
    base_w, cand_w = f"{arm} = 'baseline' AND {served} AND in_window_", f"{arm} = 'candidate' AND NOT {served}"
    # the answers' errors are read as true/false (build_pairs): a number there must be 0 or 1
    flags = numeric_flags(preds, (preds.roles.get("error", "error"),))
    odd = flag_check(preds.column("error", "flag")) if flags else "false"
    sql = (f"SELECT count(*) FILTER (WHERE {base_w}),"
           f" count(*) FILTER (WHERE {cand_w} AND in_window_),"
           f" count(*) FILTER (WHERE {arm} = 'candidate' AND {served} AND in_window_),"
           f" count({pred}) FILTER (WHERE {base_w}),"
           f" count({pred}) FILTER (WHERE {base_w} AND {numeric}),"
           f" count({pred}) FILTER (WHERE {cand_w} AND in_window_),"
           f" count({pred}) FILTER (WHERE {cand_w} AND in_window_ AND {numeric}),"
           f" count(*) FILTER (WHERE {cand_w}),"
           f" count(*) FILTER (WHERE odd_ AND (({base_w}) OR ({cand_w})))"
           f" FROM (SELECT {arm}, {served}, {pred}, {ts} <= {params.add(until)} AS in_window_, {odd} AS odd_"
           f" FROM {preds.from_item(params)}"
           + (f" WHERE {ts} >= {params.add(since)}" if since is not None else "") + ")")
    (base, cand, cand_served, b_values, b_numeric, c_values, c_numeric,
     cand_rows, odd_rows) = (int(v or 0) for v in logs.query(sql, params)[0])
    if odd_rows:  # the candidate's answers have no end: from the window's start on
        refuse_odd_flags(logs, flags, since=since, until=None)
    where = f"predictions ({preds.description})"
    arm_col, served_col = preds.roles.get("arm", "arm"), preds.roles.get("served", "served")
    pred_col = preds.roles.get("prediction", "prediction")
    if base == 0:
        raise DataError(f"{where} has no served baseline answers in the window (column '{arm_col}' = 'baseline', "
                        f"'{served_col}' true); there is nothing to compare against")
    if cand_served:
        raise DataError(f"{where} has {cand_served} candidate answers with '{served_col}' true in the window: a "
                        "shadow stage serves no candidate answers, so these rows belong to a traffic stage or the "
                        "log marks served wrongly", hint="narrow the window with --since/--until, or fix the log")
    if cand == 0:
        raise DataError(f"the candidate never answered: {where} has no unserved candidate answers in the window "
                        f"(column '{arm_col}' = 'candidate', '{served_col}' false)",
                        hint="check that the router mirrors requests to the candidate and that its answers are logged")
    kind = "score"
    if text:
        b_share = b_numeric / b_values if b_values else 1.0
        c_share = c_numeric / c_values if c_values else 1.0
        if (b_share >= NUMERIC_TEXT_SHARE) != (c_share >= NUMERIC_TEXT_SHARE):
            scores, labels = ("baseline", "candidate") if b_share >= NUMERIC_TEXT_SHARE else ("candidate", "baseline")
            raise DataError(f"column '{pred_col}' in {where} holds scores (numbers) for the {scores} and labels "
                            f"(text) for the {labels}: answers of different types cannot be compared")
        kind = "score" if b_share >= NUMERIC_TEXT_SHARE else "label"
    return LogFacts(baseline_answers=base, candidate_answers=cand, kind=kind, candidate_rows=cand_rows)


def same_answer(kind: str) -> str:
    """When two answers agree: scores within $tol, labels equal."""
    return "abs(c_pred - b_pred) <= $tol" if kind == "score" else "c_pred = b_pred"


def agree_condition(kind: str) -> str:
    """A paired request whose answers agree, over `pairs`."""
    return f"paired AND {same_answer(kind)}"


def build_pairs(logs: Logs, facts: LogFacts, *, since: datetime | None, until: datetime, segments: tuple[str, ...],
                unusual: str | None, unusual_params: dict[str, Any], tolerance: float,
                request_hashes: bool = False) -> PairColumns:
    """Create the temporary table `pairs` (see the module contract). `unusual` is a condition over the
    prediction log's columns (with its parameters), stored per request as a flag. `request_hashes`
    adds every request id's hash (`rh`), which only calibration reads (it joins outcomes on it): the
    column cost 7% of the pairing's CPU (docs/shadow.md)."""
    preds = logs.predictions
    arm, served, ts = _where(logs)
    rid, unit = preds.column("request_id", "any"), preds.column("unit_id", "any")
    pred = preds.column("prediction", "number_or_text")
    kind = facts.kind
    value = f"CAST({pred} AS DOUBLE)" if kind == "score" else f"CAST({pred} AS VARCHAR)"
    has_latency, has_error = (preds.roles.get(role, role) in preds.columns for role in ("latency_ms", "error"))
    latency = f"CAST({preds.column('latency_ms', 'number')} AS DOUBLE)" if has_latency else "NULL::DOUBLE"
    error = f"CAST({preds.column('error', 'flag')} AS BOOLEAN)" if has_error else "NULL::BOOLEAN"
    segs = "".join(f", {preds.column('segment', 'any', column=s)} AS s{i}" for i, s in enumerate(segments))
    params = SqlParams()
    params.values.update(unusual_params)
    if kind == "score":
        params.values["tol"] = tolerance
    source = preds.from_item(params)
    cand_since = f" AND {ts} >= {params.add(since)}" if since is not None else ""
    # Both arms' rows are joined as they are: grouping ten million candidate answers by request id first
    # (to see repeats) cost more than the join itself. The full outer join keeps the candidate's
    # unanswered-by-the-baseline rows (ts NULL) so that repeats can be counted below; they are then
    # dropped, with the baseline's rows without a unit (kept until then for the same count, and left out
    # as in `evaluate`). Units are kept as 64-bit hashes: the per-unit aggregate groups on a number, and
    # the random groups and counting slots are read from its bits — `stable_hash`, the same on every
    # engine (data/stable_hash.py); `rh` only stands for the request id (repeats, the outcomes' join).
    sql = f"""CREATE OR REPLACE TEMP TABLE pairs AS
SELECT {"hash(CAST(b.rid AS VARCHAR)) AS rh, " if request_hashes else ""}CASE WHEN c.paired AND NOT ({same_answer(kind)}) THEN CAST(b.rid AS VARCHAR) END AS drid,
       CASE WHEN c.paired IS NULL THEN CAST(b.rid AS VARCHAR) END AS urid,
       b.unit, b.ts, b.b_pred, b.b_lat, b.b_err, b.unusual{''.join(f', b.s{i}' for i in range(len(segments)))},
       c.c_pred, c.c_lat, c.c_err, coalesce(c.paired AND b.ts IS NOT NULL, false) AS paired
FROM (
  SELECT {rid} AS rid, CASE WHEN {unit} IS NOT NULL THEN stable_hash({unit}) END AS unit, CAST({ts} AS TIMESTAMP) AS ts, {value} AS b_pred, {latency} AS b_lat,
         {error} AS b_err, {f"coalesce({unusual}, false)" if unusual else "false"} AS unusual{segs}
  FROM {source}
  WHERE {arm} = 'baseline' AND {served} AND {ts_filter(ts, since, until, params)}
) b FULL JOIN (
  SELECT {rid} AS rid, {value} AS c_pred, {latency} AS c_lat, {error} AS c_err, true AS paired
  FROM {source}
  WHERE {arm} = 'candidate' AND NOT {served}{cand_since}
) c ON b.rid = c.rid"""
    logs.query(sql, params)
    _refuse_repeats(logs, facts, since=since, until=until)
    return PairColumns(tuple(segments), (), has_latency, has_error)


def _refuse_repeats(logs: Logs, facts: LogFacts, *, since: datetime | None, until: datetime) -> None:
    """Raise DataError when an arm answered a request id more than once (see the module contract).

    With nb baseline and nc candidate rows per id, the join has nb * nc rows for an answered id and
    nb (or nc) rows for an id one arm alone has. So the rows with a baseline side exceed the baseline's
    rows by the sum of nb * (nc - 1), and the rows with a candidate side exceed the candidate's by the
    sum of (nb - 1) * nc, over answered ids: both are 0 exactly when no answered id repeats. Unanswered
    baseline ids are counted distinct directly (`urid`: only those rows keep their id)."""
    con = logs.engine_connection
    # two statements: a DISTINCT beside the plain counts made DuckDB hash every row, not just the unanswered
    row = con.execute("SELECT count(*) FILTER (WHERE ts IS NOT NULL), count(*) FILTER (WHERE paired),"
                      " count(*) FILTER (WHERE ts IS NULL), count(*) FILTER (WHERE ts IS NULL OR unit IS NULL)"
                      " FROM pairs").fetchone()
    repeats = con.execute("SELECT count(*) - count(DISTINCT urid) FROM pairs WHERE ts IS NOT NULL AND NOT paired").fetchone()
    assert row is not None and repeats is not None
    base_side, paired, cand_only, dropped = (int(v or 0) for v in row)
    extra_candidate = base_side - facts.baseline_answers
    joined_repeats = paired + cand_only - facts.candidate_rows
    extra_baseline = joined_repeats + int(repeats[0] or 0)
    if extra_candidate or extra_baseline:
        preds = logs.predictions
        example = _repeated_id(logs, since=since, until=until)
        raise DataError(f"column '{preds.roles.get('request_id', 'request_id')}' in predictions ({preds.description}) "
                        f"repeats request ids: {extra_baseline} baseline and {extra_candidate} candidate requests "
                        f"have more than one answer (e.g. {example!r}); pairs would be ambiguous",
                        hint="deduplicate the log, or give retried requests their own ids")
    if dropped:
        con.execute("DELETE FROM pairs WHERE ts IS NULL OR unit IS NULL")


def _repeated_id(logs: Logs, *, since: datetime | None, until: datetime) -> str | None:
    """One request id that an arm answered more than once in the window (for the message)."""
    preds = logs.predictions
    arm, served, ts = _where(logs)
    rid = preds.column("request_id", "any")
    params = SqlParams()
    row = logs.query(f"SELECT CAST({rid} AS VARCHAR) FROM {preds.from_item(params)} "
                     f"WHERE (({arm} = 'baseline' AND {served}) OR ({arm} = 'candidate' AND NOT {served})) "
                     f"AND {ts_filter(ts, since, until, params)} GROUP BY {rid}, {arm} HAVING count(*) > 1 "
                     f"ORDER BY 1 LIMIT 1", params)
    return row[0][0] if row else None
