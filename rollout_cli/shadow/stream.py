"""The shadow comparison on DuckDB: the pairing join read once, as a stream of Arrow record batches.

Contract (docs/shadow.md, "How it reads the logs, and how fast"):
- `gather_stream(logs, facts, ...)` runs the two arms' full join (shadow.pairs `sides`) once, with
  narrow columns computed in SQL (a request's conditions as bits of one small integer, the unit
  hash's random group and slot, latency and score bins by DuckDB's own `ln`, the ids only of the
  unanswered and disagreeing requests), streams its result in record batches of BATCH rows into a
  `shadow.tally.Tally`, checks repeated request ids exactly as the table path does, and returns the
  same `Gathered` figures as the SQL passes over the `pairs` table (shadow.gather) — no table is
  written and no figure reads the requests twice.
- Bad input raises DataError as `build_pairs` does (repeats named with an example id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rollout_cli.data.source import Logs
from rollout_cli.errors import DataError
from rollout_cli.shadow import histograms
from rollout_cli.shadow.gather import Gathered, Request
from rollout_cli.shadow.pairs import LogFacts, refuse_repeats, same_answer, sides
from rollout_cli.shadow.reference import calibration_of, outcome_hits
from rollout_cli.shadow.scans import GROUPS, buckets_from, summary_from

BATCH = 1 << 20  # rows per record batch: large enough to amortise numpy's calls, small enough for the cache


def _bin(expr: str, step: float, no_bin: int) -> str:
    return f"coalesce(CAST({histograms.bin_sql(expr, step)} AS INTEGER), {no_bin})"


def stream_sql(kind: str, segments: int, hits: str | None, scores: bool) -> str:
    """The join's SELECT list and FROM over the subqueries `b` and `c` (placeholders BASELINE_, CANDIDATE_)."""
    from rollout_cli.shadow.tally import AGREE, BERR, CERR, LATE, NO_BIN, PAIRED, UNUSUAL

    # the join's own columns, with whether the request is paired and the answers agree computed once
    inner = ("b.rid, b.unit, b.ts, b_pred, b_lat, b_err, unusual, c_pred, c_lat, c_err, c.paired AS c_paired, "
             f"coalesce(c.paired AND b.ts IS NOT NULL, false) AS p_, {same_answer(kind)} AS same_"
             + "".join(f", b.s{i}" for i in range(segments)) + (", h.rh" if hits else ""))
    state = " + ".join(f"CASE WHEN {cond} THEN {bit} ELSE 0 END" for cond, bit in (
        ("p_", PAIRED), ("p_ AND same_", AGREE), ("p_ AND coalesce(c_lat > $timeout, false)", LATE),
        ("p_ AND coalesce(c_err, false)", CERR), ("coalesce(b_err, false)", BERR), ("coalesce(unusual, false)", UNUSUAL)))
    disagree = "c_paired AND NOT same_"
    nan = "'NaN'::DOUBLE"
    cols = ["CAST(CASE WHEN ts IS NULL THEN 2 WHEN unit IS NULL THEN 1 ELSE 0 END AS TINYINT) AS drop_",
            f"CAST({state} AS TINYINT) AS st",
            f"CAST(coalesce(unit & {GROUPS - 1}, 0) AS SMALLINT) AS g",
            "CAST(coalesce((unit >> 56) & 255, 0) AS SMALLINT) AS slot",
            "coalesce(epoch_us(ts), 0) AS ts_us",
            "CASE WHEN c_paired IS NULL THEN CAST(rid AS VARCHAR) END AS urid",
            f"CASE WHEN {disagree} THEN CAST(rid AS VARCHAR) END AS drid",
            f"CASE WHEN {disagree} THEN stable_hash(CAST(rid AS VARCHAR)) END AS dh",
            f"coalesce(b_lat, {nan}) AS b_lat", f"coalesce(c_lat, {nan}) AS c_lat",
            f"coalesce(CASE WHEN b_lat > 0 AND c_lat > 0 THEN ln(c_lat / b_lat) END, {nan}) AS lr",
            f"{_bin('b_lat', histograms.LATENCY_STEP, NO_BIN)} AS blb",
            f"CASE WHEN p_ THEN {_bin('c_lat', histograms.LATENCY_STEP, NO_BIN)} ELSE {NO_BIN} END AS clb"]
    cols += [f"s{i}" for i in range(segments)]
    if scores:
        step = histograms.SCORE_STEP
        cols += [f"coalesce(b_pred, {nan}) AS b_pred", f"coalesce(c_pred, {nan}) AS c_pred",
                 f"{_bin('b_pred', step, NO_BIN)} AS bb", f"{_bin('c_pred', step, NO_BIN)} AS cb",
                 f"{_bin('abs(c_pred - b_pred)', step, NO_BIN)} AS db"]
    else:
        cols += ["b_pred", "c_pred"]
    if hits:
        cols.append("CAST(rh IS NOT NULL AS TINYINT) AS y")
    joined = "(BASELINE_) b FULL JOIN (CANDIDATE_) c ON b.rid = c.rid"
    if hits:
        joined = f"({joined}) LEFT JOIN ({hits}) h ON hash(CAST(b.rid AS VARCHAR)) = h.rh"
    joined = f"(SELECT {inner} FROM {joined})"
    return "SELECT " + ",\n       ".join(cols) + "\nFROM " + joined


def gather_stream(logs: Logs, facts: LogFacts, request: Request, *, since: datetime | None,
                  until: datetime) -> Gathered:
    """Every figure `compare_shadow` needs, from one streamed join (see the module contract)."""
    import duckdb

    from rollout_cli.shadow.tally import Tally

    both = sides(logs, facts, since=since, until=until, segments=request.segments, unusual=request.unusual,
                 unusual_params=request.unusual_params, tolerance=request.tolerance)
    scores = facts.kind == "score"
    hits = outcome_hits(logs, request.calibration, since, both.params) if scores and request.calibration else None
    sql = stream_sql(facts.kind, len(request.segments), hits, scores)
    sql = sql.replace("BASELINE_", both.baseline, 1).replace("CANDIDATE_", both.candidate, 1)
    params = {**both.params.values, "timeout": request.timeout}
    tally = Tally(request.segments, scores=scores, latency=both.columns.has_latency, limit=request.examples,
                  hits=hits is not None)
    connection: Any = logs.engine_connection.engine.connection
    try:
        reader = connection.sql(sql, params=params).to_arrow_reader(BATCH)
        for batch in reader:
            tally.add(batch)
    except duckdb.Error as error:
        raise DataError(f"reading the logs failed: {str(error).strip().splitlines()[0]}") from None
    refuse_repeats(logs, facts, tally.join_counts(), since=since, until=until)
    figures: dict[str, Any] = {"first_ts": tally.first_ts()}
    if request.unusual:
        figures.update(tally.flag_counts())
    cells: list[tuple[int, int, int]] = []
    calibration = None
    if scores:
        figures.update(summary_from(tally.score_row(), tally.score_hists(), request.bins))
        if figures["n"]:
            cells = tally.score_bins(figures["edges"])
            if hits is not None:
                calibration = calibration_of(request.calibration or "", *tally.scored())
    return Gathered(columns=both.columns, sums=tally.unit_sums(), figures=figures, cells=cells,
                    load=buckets_from(*tally.load_frames()) if both.columns.has_latency else None,
                    confusion=None if scores else tally.confusion(), examples=tally.examples(),
                    calibration=calibration)
