"""`compare_shadow`: the whole shadow comparison of one stage over one window (see shadow/__init__)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from rollout_cli.data.source import Logs, check_window, open_logs, utc_naive
from rollout_cli.errors import UsageError
from rollout_cli.plan.model import Plan, Stage
from rollout_cli.shadow import scans
from rollout_cli.shadow.figures import binned_spearman, difference, label_comparison, rate, segment_rows, stats_of
from rollout_cli.shadow.findings import findings_of
from rollout_cli.shadow.guards import judge_shadow_guards
from rollout_cli.shadow.pairs import agree_condition, build_pairs, check_log
from rollout_cli.shadow.reference import calibration, feature_references, unusual_condition
from rollout_cli.shadow.result import (
    ArmLatency,
    Comparison,
    Coverage,
    Distance,
    Latency,
    LoadBucket,
    Rate,
    ScoreComparison,
    ShadowResult,
    UnusualInputs,
)
from rollout_cli.stats.sequential import mean_sequence, tuning_units
from rollout_cli.stats.shift import ShiftDecision, ShiftResult, judge_shift

DEFAULT_TOLERANCE = 0.05  # scores agree within this when the plan has no agreement metric
SCORE_BINS = 20


def _tolerance(plan: Plan, stage: Stage) -> float:
    metrics = [g.metric for g in stage.guards] + list(plan.metrics.values())
    found = next((m for m in metrics if m.kind == "agreement"), None)
    return DEFAULT_TOLERANCE if found is None or found.tolerance is None else float(found.tolerance)


def _timeout_ms(plan: Plan, stage: Stage, timeout_ms: float | None) -> float | None:
    if timeout_ms is not None:
        return timeout_ms
    metrics = [g.metric for g in stage.guards] + list(plan.metrics.values())
    found = next((m for m in metrics if m.kind == "coverage" and m.timeout_s is not None), None)
    return None if found is None or found.timeout_s is None else 1000.0 * found.timeout_s


def _latency_column(plan: Plan) -> str:
    return plan.data.columns.get("latency_ms", "latency_ms")


def compare_shadow(plan: Plan, stage: Stage | None = None, *, since: datetime | None = None,
                   until: datetime | None = None, now: datetime | None = None, segment: str | None = None,
                   examples: int = 10, timeout_ms: float | None = None) -> ShadowResult:
    """Compare the candidate's shadow answers with the baseline's over [since, until]. Raises DataError."""
    stage = stage or next((s for s in plan.stages if s.is_shadow), None)
    if stage is None or not stage.is_shadow:
        raise UsageError(f"stage {getattr(stage, 'name', None)!r} is not a shadow stage" if stage
                         else f"plan {plan.name!r} has no shadow stage")
    until_n = utc_naive(until or now or datetime.now(UTC))
    if now is not None:  # time to come has no answers yet: a window ends at `now` at the latest
        until_n = min(until_n, utc_naive(now))
    since_n = utc_naive(since) if since is not None else None
    check_window(since_n, until_n)
    if examples < 0:
        raise UsageError("--examples must be 0 or more")
    notes: list[str] = []
    with _open(plan, notes) as logs:
        return _compare(logs, plan, stage, since_n, until_n, segment, examples, _timeout_ms(plan, stage, timeout_ms),
                        notes)


def _open(plan: Plan, notes: list[str]) -> Logs:
    """The predictions, and the outcomes and training reference when they can be read: they only add
    calibration and unusual inputs, so a problem with them is a note, not a refusal. On the plan's
    engine (DuckDB, or Spark: docs/spark.md)."""
    return open_logs(plan.data, with_training=True, notes=notes)


def _compare(logs: Logs, plan: Plan, stage: Stage, since: datetime | None, until: datetime, segment: str | None,
             n_examples: int, timeout: float | None, notes: list[str]) -> ShadowResult:
    alpha = 1.0 - plan.decision.confidence
    tuning = tuning_units(stage.min_units)
    facts = check_log(logs, since=since, until=until)
    segments = (segment,) if segment else tuple(plan.segments)
    features = tuple(f for f in plan.drift.feature_names if f in logs.predictions.columns)
    notes += [f"unusual inputs: feature '{f}' is not a column of the predictions" for f in plan.drift.feature_names
              if f not in features]
    refs = feature_references(logs, features, notes)
    unusual_params: dict[str, Any] = {}
    columns = [logs.predictions.column("drift feature", "any", column=f) for f in features]
    condition = unusual_condition(refs, columns, unusual_params)
    tol = _tolerance(plan, stage)
    cols = build_pairs(logs, facts, since=since, until=until, segments=segments, unusual=condition,
                       unusual_params=unusual_params, tolerance=tol,
                       request_hashes=facts.kind == "score" and _calibration_event(plan) is not None)
    con = logs.engine_connection
    params: dict[str, Any] = {"tol": tol, "timeout": timeout if timeout is not None else math.inf}
    agree = agree_condition(facts.kind)
    late = "paired AND coalesce(c_lat > $timeout, false)"
    c_err = "paired AND coalesce(c_err, false)"
    both_lat = "paired AND b_lat IS NOT NULL AND c_lat IS NOT NULL"
    ratios = {"cover": ("paired", "1"), "agree": (agree, "paired"),
              "in_time": (f"paired AND NOT ({late}) AND NOT ({c_err})", "1"), "late": (late, "paired"),
              "cerr": (c_err, "paired"), "berr": ("coalesce(b_err, false)", "1"),
              "latency": (f"CASE WHEN {both_lat} THEN c_lat ELSE 0 END", f"CASE WHEN {both_lat} THEN b_lat ELSE 0 END"),
              "blat": ("coalesce(b_lat, 0)", "b_lat IS NOT NULL"),
              "clat": ("CASE WHEN paired THEN coalesce(c_lat, 0) ELSE 0 END", "paired AND c_lat IS NOT NULL")}
    sums = scans.unit_sums(con, segments, ratios, params)
    whole = sums[None]
    coverage = Coverage(
        baseline_requests=int(whole["cover"].sy), paired=int(whole["cover"].sx),
        missing=int(whole["cover"].sy - whole["cover"].sx), late=int(whole["late"].sx), errored=int(whole["cerr"].sx),
        timeout_ms=timeout, coverage=rate(whole["cover"], alpha, tuning),
        answered_in_time=rate(whole["in_time"], alpha, tuning))
    if timeout is None:
        notes.append("late answers: no timeout declared (a coverage metric's timeout, or --timeout)")
    figures = scans.request_figures(con, scores=facts.kind == "score", bins=SCORE_BINS,
                                    flag="unusual" if condition else None, agree=agree, params=params)
    counts: tuple[list[int], list[int]] | None = None
    scores = labels = None
    if facts.kind == "score":
        scores, counts = _scores(logs, figures, alpha, plan, since, until)
    else:
        labels = label_comparison(scans.confusion(con))
    latency = _latency(con, whole, alpha, tuning) if cols.has_latency else None
    unusual = _unusual(figures, refs, alpha, tuning) if condition else None
    frame = scans.examples(con, segments, n_examples) if n_examples else None
    shown = tuple(_example_row(row, segments) for row in frame.iter_rows(named=True)) if frame is not None else ()
    rows = segment_rows(sums, alpha, tuning)
    checks, verdict = judge_shadow_guards(plan, stage, sums, counts, _latency_column(plan), notes)
    result = ShadowResult(
        plan=plan.name, stage=stage.name, since=(since or figures['first_ts'] or datetime(1970, 1, 1)).replace(tzinfo=UTC),
        until=until.replace(tzinfo=UTC), kind=facts.kind, confidence=plan.decision.confidence, segments=segments,
        coverage=coverage, agreement=rate(whole["agree"], alpha, tuning), tolerance=tol if facts.kind == "score" else None,
        segment_rows=tuple(rows), labels=labels, scores=scores, latency=latency, unusual=unusual, examples=shown,
        findings=(), checks=tuple(checks), verdict=verdict, notes=tuple(notes))
    return _with_findings(result)


def _with_findings(result: ShadowResult) -> ShadowResult:
    from dataclasses import replace

    return replace(result, findings=tuple(findings_of(result)))


def _example_row(row: dict[str, Any], segments: tuple[str, ...]) -> dict[str, Any]:
    out = {k: row[k] for k in ("request_id", "ts", "baseline", "candidate")}
    out["segments"] = {name: row[f"segment_{i}"] for i, name in enumerate(segments)}
    return out


def _quantile_map(levels: tuple[float, ...], values: list[float]) -> dict[str, float | None]:
    return {f"p{100 * q:g}": (float(v) if v is not None else None) for q, v in zip(levels, values)}


def _scores(logs: Logs, summary: dict[str, Any], alpha: float, plan: Plan, since: datetime | None,
            until: datetime) -> tuple[ScoreComparison, tuple[list[int], list[int]] | None]:
    con = logs.engine_connection
    cells = scans.score_bins(con, summary["edges"]) if summary["n"] else []
    size = len(summary["edges"]) + 1
    base_counts, cand_counts = [0] * size, [0] * size
    for b, c, n in cells:
        base_counts[b] += n
        cand_counts[c] += n
    # the drift statistic (stats.shift): PSI on bins at the baseline's quantiles, decided against drift.max_psi
    shift: ShiftResult | None = (judge_shift(base_counts, cand_counts, plan.drift.max_psi, 1.0 - alpha)
                                 if summary["n"] else None)
    distance = Distance(name="psi", value=None if shift is None else shift.estimate,
                        interval=None if shift is None else (shift.low, shift.high), threshold=plan.drift.max_psi,
                        decision=None if shift is None else shift.decision.value, bins=size,
                        credible=shift is not None and shift.decision is ShiftDecision.DRIFTED)
    event = _calibration_event(plan)
    calib = calibration(logs, event, since=since, until=until) if event and summary["n"] else None
    scores = ScoreComparison(
        paired=summary["n"], mean_difference=summary["mean_difference"],
        abs_difference_quantiles=_quantile_map(scans.DIFF_QUANTILES, summary["abs_difference_quantiles"]),
        max_abs_difference=summary["max_abs_difference"], pearson=summary["pearson"],
        spearman=binned_spearman(cells), baseline_quantiles=_quantile_map(scans.SCORE_QUANTILES,
                                                                          summary["baseline_quantiles"]),
        candidate_quantiles=_quantile_map(scans.SCORE_QUANTILES, summary["candidate_quantiles"]),
        distance=distance, calibration=calib)
    return scores, ((base_counts, cand_counts) if summary["n"] else None)


def _calibration_event(plan: Plan) -> str | None:
    """The event calibration is judged against: the first proportion metric's (None: no calibration)."""
    return next((m.event for m in plan.metrics.values() if m.kind == "proportion" and m.event), None)


def _latency(con: Any, whole: dict[str, Any], alpha: float, tuning: float) -> Latency:
    overall, buckets = scans.load_buckets(con)
    arms = []
    for arm, quantiles, lat, err in (("baseline", overall.get("baseline_latency"), whole["blat"], whole["berr"]),
                                     ("candidate", overall.get("candidate_latency"), whole["clat"], whole["cerr"])):
        stats = stats_of(lat, counts=False)
        interval = _pair(mean_sequence(stats, alpha, tuning)) if stats.n >= 2 and stats.is_finite else None
        arms.append(ArmLatency(arm=arm, p50=(quantiles or [None])[0], p99=(quantiles or [None, None])[-1],
                               mean=lat.sx / lat.sy if lat.sy else None, mean_interval=interval,
                               errors=rate(err, alpha, tuning)))
    paired = stats_of(whole["latency"], counts=False)
    ratio_interval = _pair(mean_sequence(paired, alpha, tuning)) if paired.n >= 2 and paired.is_finite else None
    shown = tuple(LoadBucket(
        bucket=b["bucket"], minutes=b["minutes"], requests_per_minute=(b["min_load"], b["max_load"]),
        baseline_p50=(b["baseline_latency"] or [None])[0], baseline_p99=(b["baseline_latency"] or [None, None])[-1],
        candidate_p50=(b["candidate_latency"] or [None])[0], candidate_p99=(b["candidate_latency"] or [None, None])[-1],
        paired_ratio=math.exp(b["ratio_mean"]) if b["ratio_mean"] is not None else None,
        candidate_errors=b["candidate_errors"], baseline_errors=b["baseline_errors"]) for b in buckets)
    return Latency(baseline=arms[0], candidate=arms[1],
                   paired_ratio=whole["latency"].sx / whole["latency"].sy if whole["latency"].sy else None,
                   paired_ratio_interval=ratio_interval, buckets=shown,
                   busiest_vs_quietest=_busy_vs_quiet(buckets, alpha, tuning))


def _pair(interval: Any) -> tuple[float, float]:
    return (interval.low, interval.high)


def _busy_vs_quiet(buckets: list[dict[str, Any]], alpha: float, tuning: float) -> Comparison:
    """The paired log-latency ratio in the busiest bucket minus the quietest's (requests as the units;
    tuned at the stage's fixed size, as the rates)."""
    from rollout_cli.stats.sequential import ArmStats

    if len(buckets) < 2:
        return Comparison(effect=None, interval=None, p_value=1.0, credible=False)
    quiet, busy = buckets[0], buckets[-1]

    def arm(b: dict[str, Any]) -> ArmStats:
        return ArmStats(n=int(b["ratio_n"] or 0), mean=b["ratio_mean"] if b["ratio_mean"] is not None else math.nan,
                        variance=b["ratio_var"] if b["ratio_var"] is not None else math.nan)

    return difference(arm(busy), arm(quiet), alpha, tuning, worse_below=False)


def _unusual(groups: dict[str, Any], refs: list[Any], alpha: float, tuning: float) -> UnusualInputs:
    """Agreement on unusual inputs against the rest (requests as the units; the stage's tuning)."""
    from rollout_cli.stats.sequential import proportion_stats

    unusual = proportion_stats(groups["flagged_paired"], groups["flagged_agree"])
    rest = proportion_stats(groups["rest_paired"], groups["rest_agree"])

    def as_rate(count: int, total: int) -> Rate:
        return Rate(count=count, total=total, units=total, value=count / total if total else None, interval=None)

    return UnusualInputs(
        features=tuple(ref for _, ref, _ in refs), requests=groups["flagged_requests"],
        agreement_unusual=as_rate(groups["flagged_agree"], groups["flagged_paired"]),
        agreement_rest=as_rate(groups["rest_agree"], groups["rest_paired"]),
        difference=difference(unusual, rest, alpha, tuning),
        note="requests are the units here (a request's inputs, not its user, make it unusual)")
