"""What the shadow comparison reads from the logs, gathered on either path before the figures are made.

Contract:
- `Request`: what to gather (segments, the unusual-input condition, tolerance, timeout, score bins,
  how many examples, the calibration event).
- `Gathered`: the pairs' columns, the random-group sums per population (`scans.unit_sums`' shape),
  the request figures (`scans.request_figures`' keys), the joint score bins, the load buckets, the
  label table, the examples and the calibration.
- `gather(logs, facts, request, ...)`: on DuckDB, one streamed join (shadow.stream); on Spark (whose
  results must stay bounded by arms × segments × metrics: no rows reach the driver), the `pairs` table
  and one SQL pass per figure (shadow.scans). Both give the same figures (tests/spark).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollout_cli.data.source import Logs
from rollout_cli.shadow import scans
from rollout_cli.shadow.pairs import LogFacts, PairColumns, agree_condition, build_pairs
from rollout_cli.shadow.reference import calibration
from rollout_cli.shadow.result import Calibration


@dataclass(frozen=True)
class Request:
    segments: tuple[str, ...]
    unusual: str | None
    unusual_params: dict[str, Any]
    tolerance: float
    timeout: float  # ms; inf without one
    bins: int
    examples: int
    calibration: str | None  # the outcome event, when calibration is asked for


@dataclass(frozen=True)
class Gathered:
    columns: PairColumns
    sums: dict[scans.Population, dict[str, scans.RatioSums]]
    figures: dict[str, Any]
    cells: list[tuple[int, int, int]]
    load: tuple[dict[str, Any], list[dict[str, Any]]] | None
    confusion: Any  # polars frame (labels) or None
    examples: list[dict[str, Any]] = field(default_factory=list)
    calibration: Calibration | None = None


def ratios(kind: str) -> dict[str, tuple[str, str]]:
    """The ratios of the comparison over `pairs`, x over y per request (shadow.tally reads the same)."""
    agree = agree_condition(kind)
    late = "paired AND coalesce(c_lat > $timeout, false)"
    c_err = "paired AND coalesce(c_err, false)"
    both_lat = "paired AND b_lat IS NOT NULL AND c_lat IS NOT NULL"
    return {"cover": ("paired", "1"), "agree": (agree, "paired"),
            "in_time": (f"paired AND NOT ({late}) AND NOT ({c_err})", "1"), "late": (late, "paired"),
            "cerr": (c_err, "paired"), "berr": ("coalesce(b_err, false)", "1"),
            "latency": (f"CASE WHEN {both_lat} THEN c_lat ELSE 0 END", f"CASE WHEN {both_lat} THEN b_lat ELSE 0 END"),
            "blat": ("coalesce(b_lat, 0)", "b_lat IS NOT NULL"),
            "clat": ("CASE WHEN paired THEN coalesce(c_lat, 0) ELSE 0 END", "paired AND c_lat IS NOT NULL")}


def gather(logs: Logs, facts: LogFacts, request: Request, *, since: datetime | None, until: datetime) -> Gathered:
    if getattr(logs.engine_connection.engine, "name", "") == "duckdb":
        from rollout_cli.shadow.stream import gather_stream

        return gather_stream(logs, facts, request, since=since, until=until)
    return gather_sql(logs, facts, request, since=since, until=until)


def gather_sql(logs: Logs, facts: LogFacts, request: Request, *, since: datetime | None, until: datetime) -> Gathered:
    """The table path: `pairs`, then one pass per figure (shadow.scans)."""
    scores = facts.kind == "score"
    cols = build_pairs(logs, facts, since=since, until=until, segments=request.segments, unusual=request.unusual,
                       unusual_params=request.unusual_params, tolerance=request.tolerance,
                       request_hashes=scores and request.calibration is not None)
    con = logs.engine_connection
    params: dict[str, Any] = {"tol": request.tolerance, "timeout": request.timeout}
    sums = scans.unit_sums(con, request.segments, ratios(facts.kind), params)
    figures = scans.request_figures(con, scores=scores, bins=request.bins,
                                    flag="unusual" if request.unusual else None, agree=agree_condition(facts.kind),
                                    params=params)
    cells = scans.score_bins(con, figures["edges"]) if scores and figures["n"] else []
    calib = (calibration(logs, request.calibration, since=since, until=until)
             if scores and request.calibration and figures["n"] else None)
    frame = scans.examples(con, request.segments, request.examples) if request.examples else None
    return Gathered(columns=cols, sums=sums, figures=figures, cells=cells,
                    load=scans.load_buckets(con) if cols.has_latency else None,
                    confusion=None if scores else scans.confusion(con),
                    examples=list(frame.iter_rows(named=True)) if frame is not None else [], calibration=calib)

