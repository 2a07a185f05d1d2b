"""The data dictionary of an export: every column with its meaning and type (docs/export.md)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from rollout_cli.export.query import ExportQuery
from rollout_cli.plan.model import Metric
from rollout_cli.units import format_duration

FIXED = {
    "request_id": "the request; the shadow and served answers to one request share it",
    "ts": "when the request was answered (UTC): its served answer, else its mirrored one",
    "unit_id": "the randomisation unit (usually the user); empty when the log has none",
    "stage": "the stage in force at that moment, from the audit trail; empty before the rollout began and "
             "after a rollback",
    "candidate_traffic": "percent of requests the router served from the candidate at that moment",
    "shadow": "percent of requests the router mirrored to the candidate at that moment",
    "served_arm": "the arm whose answer reached the user (baseline or candidate)",
    "judged": "the request falls in the window the stage's evaluation judged: from the moment its split was "
              "verified plus the plan's settling_time (requests in flight under the old split are not judged); "
              "false before the rollout and after a rollback",
    "unit_arm": "the unit's arm in this stage: the arm of its first served answer there, as the evaluation "
                "took it",
    "first_exposure": "true for the unit's first served answer in this stage: the request that set its arm "
                      "and segments in the evaluation",
    "crossover": "the unit was served by both arms in this stage (the evaluation counts it in its first arm "
                 "and holds the stage when too many units cross over)",
    "first_ts": "the unit's first served answer in this stage (UTC)",
    "last_ts": "the unit's last served answer in this stage (UTC)",
    "requests": "served answers the unit had in this stage",
}
ANSWERS = {"prediction": "the {arm}'s answer", "latency_ms": "the {arm}'s time to answer, in milliseconds",
           "error": "the {arm} failed to answer"}


@dataclass(frozen=True)
class Entry:
    column: str
    meaning: str
    type: str


def _outcome_meaning(metric: Metric) -> str:
    window = f"within {format_duration(metric.window_s)} after one of its served answers" \
        if metric.window_s is not None else "after its first served answer"
    what = (f"1 if the unit had a '{metric.event}' event" if metric.kind == "proportion"
            else f"the sum of the values of the unit's '{metric.event}' events")
    return (f"metric {metric.name}: {what} {window} in this stage (0 if none), attributed as the evaluation "
            "attributes it; the same value on every request of the unit in the stage")


def meaning(column: str, query: ExportQuery) -> str:
    if column in query.segments:
        return f"segment column '{query.segments[column]}' (of the unit's first served answer in per-unit rows)"
    if column in query.outcomes:
        return _outcome_meaning(query.outcomes[column])
    arm, _, role = column.partition("_")
    if arm in ("baseline", "candidate") and role in ANSWERS:
        return ANSWERS[role].format(arm=arm) + " to this request; empty when that arm did not answer it"
    return FIXED.get(column, "")


def dictionary(query: ExportQuery, described: list[tuple[str, str]]) -> list[Entry]:
    """One entry per column of the statement, in its order, typed as DuckDB DESCRIBEs it."""
    return [Entry(name, meaning(name, query), kind) for name, kind in described]


def dictionary_csv(entries: list[Entry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["column", "meaning", "type"])
    writer.writerows([e.column, e.meaning, e.type] for e in entries)
    return buffer.getvalue()
