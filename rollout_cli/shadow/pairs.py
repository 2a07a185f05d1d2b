"""Pair the baseline's served answers with the candidate's shadow answers, after refusing bad logs.

Contract:
- `check_log(logs, ...)` runs one light scan of the window (answers per arm and `served`, and for
  a text prediction column how many of each arm's answers read as numbers) and raises DataError,
  naming the column and the file, when a comparison would be computed on the wrong pairs: no
  baseline answers, a candidate that never answered, candidate rows marked served in a shadow
  stage, or a label against a score (text labels in one arm, numbers in the other).
- `build_pairs(logs, ...)` creates the temporary table `pairs`: one row per baseline request of
  the window (served baseline answers grouped by request id) with the candidate's unserved
  answer to it, if any (grouped the same way), the segment and feature columns of the
  baseline's answer, and the copies of each request id per arm. A request id answered twice by
  one arm is then refused (DataError naming the column, the file and an example id): which of the
  two answers should be compared is not knowable.
- Column names enter SQL only as checked, quoted identifiers; times and globs are parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollout_cli.data.queries import ts_filter
from rollout_cli.data.source import Logs, SqlParams
from rollout_cli.errors import DataError

# A text prediction column whose answers read as numbers at least this often holds scores.
NUMERIC_TEXT_SHARE = 0.99


@dataclass(frozen=True)
class LogFacts:
    baseline_answers: int
    candidate_answers: int  # unserved, in the window
    kind: str  # "score" | "label"


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
    sql = (f"SELECT count(*) FILTER (WHERE {arm} = 'baseline' AND {served}),"
           f" count(*) FILTER (WHERE {arm} = 'candidate' AND NOT {served}),"
           f" count(*) FILTER (WHERE {arm} = 'candidate' AND {served}),"
           f" count({pred}) FILTER (WHERE {arm} = 'baseline' AND {served}),"
           f" count({pred}) FILTER (WHERE {arm} = 'baseline' AND {served} AND {numeric}),"
           f" count({pred}) FILTER (WHERE {arm} = 'candidate' AND NOT {served}),"
           f" count({pred}) FILTER (WHERE {arm} = 'candidate' AND NOT {served} AND {numeric})"
           f" FROM {preds.from_item(params)} WHERE {ts_filter(ts, since, until, params)}")
    base, cand, cand_served, b_values, b_numeric, c_values, c_numeric = (int(v or 0) for v in logs.query(sql, params)[0])
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
    return LogFacts(baseline_answers=base, candidate_answers=cand, kind=kind)


def same_answer(kind: str) -> str:
    """When two answers agree: scores within $tol, labels equal."""
    return "abs(c_pred - b_pred) <= $tol" if kind == "score" else "c_pred = b_pred"


def agree_condition(kind: str) -> str:
    """A paired request whose answers agree, over `pairs`."""
    return f"paired AND {same_answer(kind)}"


def build_pairs(logs: Logs, *, since: datetime | None, until: datetime, kind: str, segments: tuple[str, ...],
                unusual: str | None, unusual_params: dict[str, Any], tolerance: float) -> PairColumns:
    """Create the temporary table `pairs` (see the module contract). `unusual` is a condition over the
    prediction log's columns (with its parameters), stored per request as a flag."""
    preds = logs.predictions
    arm, served, ts = _where(logs)
    rid, unit = preds.column("request_id", "any"), preds.column("unit_id", "any")
    pred = preds.column("prediction", "number_or_text")
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
    # The candidate's answers are grouped (one per request, with their count); the baseline's are joined
    # as they are and checked for repeats afterwards. Units are kept as 64-bit hashes: the per-unit
    # aggregate that follows groups on a number instead of a string.
    sql = f"""CREATE OR REPLACE TEMP TABLE pairs AS
WITH c AS (
  SELECT {rid} AS rid, count(*) AS c_copies, any_value({value}) AS c_pred, any_value({latency}) AS c_lat,
         any_value({error}) AS c_err
  FROM {source}
  WHERE {arm} = 'candidate' AND NOT {served}{cand_since}
  GROUP BY {rid}
)
SELECT hash(CAST(b.rid AS VARCHAR)) AS rh, CASE WHEN c.paired AND NOT ({same_answer(kind)}) THEN CAST(b.rid AS VARCHAR) END AS drid,
       b.unit, b.ts, b.b_pred, b.b_lat, b.b_err, b.unusual{''.join(f', b.s{i}' for i in range(len(segments)))},
       c.c_copies, c.c_pred, c.c_lat, c.c_err, coalesce(c.paired, false) AS paired
FROM (
  SELECT {rid} AS rid, hash({unit}) AS unit, CAST({ts} AS TIMESTAMP) AS ts, {value} AS b_pred, {latency} AS b_lat,
         {error} AS b_err, {f"coalesce({unusual}, false)" if unusual else "false"} AS unusual{segs}
  FROM {source}
  WHERE {arm} = 'baseline' AND {served} AND {unit} IS NOT NULL AND {ts_filter(ts, since, until, params)}
) b LEFT JOIN (SELECT *, true AS paired FROM c) c ON b.rid = c.rid"""
    logs.query(sql, params)
    # request ids are kept as 64-bit hashes (a collision among 10 million ids has odds of about 1 in 400,000)
    dup = logs.connection.execute(
        "SELECT count(*) - count(DISTINCT rh), count(*) FILTER (WHERE c_copies > 1) FROM pairs").fetchone()
    if dup and (dup[0] or dup[1]):
        example = _repeated_id(logs, since=since, until=until)
        raise DataError(f"column '{preds.roles.get('request_id', 'request_id')}' in predictions ({preds.description}) "
                        f"repeats request ids: {dup[0]} baseline and {dup[1]} candidate requests have more than one "
                        f"answer (e.g. {example!r}); pairs would be ambiguous",
                        hint="deduplicate the log, or give retried requests their own ids")
    return PairColumns(tuple(segments), (), has_latency, has_error)


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
