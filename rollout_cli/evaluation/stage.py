"""Judge one stage from the logs: plan + data -> Evaluation (docs/data.md, docs/statistics.md).

Contract of `evaluate_stage`:
- window: `since` (default: the first prediction row, i.e. all data) to `until` (default, and at
  most: `now`); `now` (default: the real UTC clock) is the reference for freshness. Naive datetimes
  are taken as UTC; the Evaluation carries aware UTC datetimes.
- `split` is the planned split (default: the stage's own traffic and shadow shares).
- One statement computes every measure for both arms and every segment value; guards are
  judged with always-valid intervals, Holm across the stage's checks.
- verdict: fail if any check fails or SRM is detected; pass if every check passes and nothing
  at stage level holds it back (freshness, empty window, crossover, rows without a unit, the
  stage's min_units and min_duration, shadow coverage); else inconclusive. min_duration is
  judged on the time since `stage_started` when given (the controller: the stage clock, while
  the window starts a settling time later), else on the window's length (ad hoc). Every check of an
  outcome metric none of whose events joined an answered unit is inconclusive (no data, not a rate of 0).
- Bad input (missing/mistyped column, no files, empty source, unreadable file) raises DataError.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rollout_cli.data.queries import Aggregates, Population
from rollout_cli.data.scans import WindowFacts
from rollout_cli.data.source import check_window, utc_naive
from rollout_cli.evaluation.data_checks import quality_reasons, unknown_arm_words, unknown_arms_hold
from rollout_cli.evaluation.judge import judge_guard
from rollout_cli.evaluation.needs import StageNeeds, stage_measures
from rollout_cli.evaluation.paired import paired_checks
from rollout_cli.evaluation.stage_reads import read_stage, segment_populations, silent_outcomes
from rollout_cli.evaluation.tuning import stage_horizon, stage_tuning
from rollout_cli.evaluation.verdict import (
    AgreementSummary,
    Check,
    Crossover,
    Evaluation,
    Freshness,
    NonFinite,
    RowsWithoutUnit,
    ShadowCoverage,
    SkippedSegment,
    SrmResult,
)
from rollout_cli.logcache import plan_logs
from rollout_cli.plan.model import Plan, Stage
from rollout_cli.routers.base import RouterSplit
from rollout_cli.stats.guards import GuardResult, apply_holm
from rollout_cli.stats.outcome import Outcome
from rollout_cli.units import format_duration, format_fraction

# A shadow stage needs candidate answers for at least this share of the mirrored requests it planned.
SHADOW_COVERAGE_TOLERANCE = 0.9
# Rows without a unit are left out; beyond this share of the window's rows the logs are too broken to judge.
NO_UNIT_TOLERANCE = 0.01
# NaN or infinite values beyond this share of a column's (or outcome values') values in an arm hold the stage.
NON_FINITE_TOLERANCE = 0.005


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def evaluate_stage(plan: Plan, stage: Stage, *, since: datetime | None = None, until: datetime | None = None,
                   now: datetime | None = None, split: RouterSplit | None = None,
                   stage_started: datetime | None = None, cache_dir: Path | None = None, full: bool = False
                   ) -> Evaluation:
    """The Evaluation of `stage` over [since, until] (see the module contract). Raises DataError. `cache_dir`:
    parquet logs read through the evaluation cache there unless `full` (docs/incremental.md); same figures."""
    now_n = utc_naive(now or datetime.now(UTC))
    # an `until` after now ends the window now: time that has not come counts toward no min_duration
    until_n = min(utc_naive(until), now_n) if until is not None else now_n
    since_n = utc_naive(since) if since is not None else None
    check_window(since_n, until_n)
    split = split or RouterSplit(candidate_traffic=stage.traffic, shadow=stage.shadow)
    shadow = stage.is_shadow
    needs = stage_measures(plan, stage)
    segments = list(plan.segments) if any(g.per_segment for g in needs.guards) else []

    with plan_logs(plan, stage.name, None if full else cache_dir) as (logs, cache):
        kept = cache.units if cache is not None else None  # the cache's per-unit rows (docs/incremental.md)
        facts, agg, quality = read_stage(logs, plan, stage, needs, segments, since_n, until_n, kept)
        window_since = since_n or facts.first_ts or until_n
        silent = silent_outcomes(logs, needs, agg, window_since, until_n) if facts.window_rows else {}
    window_rows, last_upto = facts.window_rows, facts.last_upto
    reasons: list[str] = []
    duration_s = max(0.0, (until_n - window_since).total_seconds())
    if any(g.metric.prometheus is not None for g in needs.guards):  # counted in Prometheus (docs/data.md)
        from rollout_cli.evaluation.prometheus_counts import add_prometheus_counts

        reasons += add_prometheus_counts(plan, needs, agg, since=window_since, until=until_n)

    if window_rows == 0:
        reasons.append(f"no prediction rows between {_aware(window_since).isoformat()} and "
                       f"{_aware(until_n).isoformat()}")
    freshness = _freshness(plan, last_upto, now_n, until_n)
    reasons += _stale(freshness, now_n, until_n)
    rows_without_unit = _rows_without_unit(facts)
    reasons += _missing_units(plan, facts, rows_without_unit)
    reasons += quality_reasons(plan, quality)
    if stage_started is not None:  # the controller: time in stage, from when its split was verified
        in_stage_s = max(0.0, (until_n - utc_naive(stage_started)).total_seconds())
        if in_stage_s < stage.min_duration_s:
            reasons.append(f"the stage has run {format_duration(in_stage_s, style='age')} of its "
                           f"min_duration {format_duration(stage.min_duration_s)}")
    elif duration_s < stage.min_duration_s:
        reasons.append(f"the window covers {format_duration(duration_s, style='age')} of the stage's "
                       f"min_duration {format_duration(stage.min_duration_s)}")

    whole = agg.cells.get(None, {})
    units = {arm: whole[arm].units if arm in whole else 0 for arm in ("baseline", "candidate")}
    if window_rows and not sum(units.values()):
        reasons.append("the window has prediction rows but no answers of arm 'baseline' or 'candidate' "
                       "(check the arm and served columns)")
    coverage: ShadowCoverage | None = None
    crossover: Crossover | None = None
    if shadow:
        srm = SrmResult(outcome=Outcome.PASS, p_value=None, expected_share=None,
                        reason="not applicable in a shadow stage (no unit is served by the candidate); "
                               "shadow coverage is checked instead")
        coverage = _shadow_coverage(agg, split, _agreement_summary(plan, needs, agg))
        reasons += _coverage_reasons(coverage)
    elif unknown_arms_hold(quality):  # the arms' counts are not the router's split: not a mismatch
        srm = SrmResult(outcome=Outcome.INCONCLUSIVE, p_value=None, expected_share=split.candidate_traffic / 100.0,
                        reason="not judged: " + unknown_arm_words(plan, quality))
        crossover = _crossover(plan, agg, units)
        reasons += _crossover_reasons(crossover)
    else:
        srm = srm_result(units, split)
        crossover = _crossover(plan, agg, units)
        reasons += _crossover_reasons(crossover)
    if stage.min_units and units["candidate"] < stage.min_units:
        unknown = f" ({quality.unknown_arm_rows} rows have an unrecognised arm value)" if quality.unknown_arm_rows else ""
        reasons.append(f"the candidate has {units['candidate']} units{unknown}; the stage needs {stage.min_units}")

    non_finite = non_finite_values(agg)
    reasons += [f"{bad.what.removeprefix('column ')}: {_share_words(bad)} of the values are not finite (NaN or "
                f"infinite; tolerated: {format_fraction(NON_FINITE_TOLERANCE)}); they are left out of every statistic"
                for bad in non_finite if max(bad.shares.values()) > NON_FINITE_TOLERANCE]
    paired = paired_checks(plan, stage, since=since_n, until=until_n) if window_rows else []
    checks, skipped = judge_checks(plan, stage, needs, agg, segments, paired=paired, silent=silent)
    if not checks and window_rows:
        reasons.append("the stage has no guards that can be judged")
    verdict = stage_verdict(checks, srm, reasons)
    return Evaluation(plan=plan.name, stage=stage.name, verdict=verdict, since=_aware(window_since),
                      until=_aware(until_n), units=units, srm=srm, checks=tuple(checks), reasons=tuple(reasons),
                      duration_s=duration_s, split=split, not_judged=tuple(needs.not_judged), freshness=freshness,
                      rows_without_unit=rows_without_unit, shadow=coverage, crossover=crossover,
                      skipped_segments=tuple(skipped), non_finite=non_finite, data_quality=quality,
                      cache=cache)



def non_finite_values(agg: Aggregates) -> tuple[NonFinite, ...]:
    """Per kind of value, the NaN and infinite values of each arm (whole population), when any."""
    whole = agg.cells.get(None, {})
    kinds = dict.fromkeys(kind for cell in whole.values() for kind in cell.value_counts)
    found = []
    for kind in kinds:
        pairs = {arm: whole[arm].value_counts.get(kind, (0, 0)) for arm in ("baseline", "candidate") if arm in whole}
        if not any(bad for bad, _ in pairs.values()):
            continue
        found.append(NonFinite(what=kind, counts={arm: bad for arm, (bad, _) in pairs.items()},
                               shares={arm: bad / (bad + good) if bad + good else 0.0
                                       for arm, (bad, good) in pairs.items()},
                               max_share=NON_FINITE_TOLERANCE))
    return tuple(found)


def _share_words(bad: NonFinite) -> str:
    return ", ".join(f"{format_fraction(share, digits=2)} in the {arm} ({bad.counts[arm]})" for arm, share in bad.shares.items()
                     if bad.counts[arm])


def stage_verdict(checks: list[Check], srm: SrmResult, reasons: list[str]) -> Outcome:
    if srm.outcome is Outcome.FAIL or any(c.outcome is Outcome.FAIL for c in checks):
        return Outcome.FAIL
    if reasons or not checks or srm.outcome is not Outcome.PASS:
        return Outcome.INCONCLUSIVE
    return Outcome.PASS if all(c.outcome is Outcome.PASS for c in checks) else Outcome.INCONCLUSIVE


def judge_checks(plan: Plan, stage: Stage, needs: StageNeeds, agg: Aggregates, segments: list[str], *,
                 paired: Sequence[tuple[Check, GuardResult]] = (), silent: Mapping[str, str] | None = None
                 ) -> tuple[list[Check], list[SkippedSegment]]:
    """Every check of the stage, Holm-adjusted, and the segments with too few units to judge.
    `silent`: metric -> why its checks are not judged (no outcome data, stage_reads.silent_outcomes)."""
    silent = silent or {}
    alpha = 1.0 - plan.decision.confidence
    min_units = plan.decision.min_units_per_check
    pairs: list[tuple[Check, GuardResult]] = list(paired)
    skipped: list[SkippedSegment] = []
    for guard in needs.guards:
        common: dict[str, Any] = {"alpha": alpha, "tuning": stage_tuning(plan, stage), "min_units": min_units,
                                  "horizon": stage_horizon(plan, stage)}
        pairs += judge_guard(guard, None, agg, **common)
        if not guard.per_segment:
            continue
        for population in segment_populations(agg, segments):
            if _units_in(agg, population, stage.is_shadow) < min_units:
                skipped.append(SkippedSegment(guard.metric.name, {population[0]: population[1]}))
                continue
            pairs += judge_guard(guard, population, agg, **common)
    pairs = [_not_judged(check, silent[check.metric]) if check.metric in silent else (check, result)
             for check, result in pairs]
    adjusted = apply_holm([result for _, result in pairs], alpha)
    checks = []
    for (check, before), after in zip(pairs, adjusted):
        if after.outcome is not before.outcome:  # a fail that Holm does not confirm
            check = replace(check, outcome=after.outcome, reason=f"{check.reason}; {after.reason}")
        checks.append(check)
    return checks, skipped


def _not_judged(check: Check, why: str) -> tuple[Check, GuardResult]:
    """A check with no data behind it: inconclusive, whatever its figures (0 events read as a rate of 0)."""
    result = GuardResult(outcome=Outcome.INCONCLUSIVE, interval=None, p_fail=1.0, effect=None, reason=why)
    return replace(check, outcome=Outcome.INCONCLUSIVE, reason=f"{check.metric}: not judged: {why}", effect=None,
                   interval=None, p_value=None), result


def _units_in(agg: Aggregates, population: Population, shadow: bool) -> int:
    """The smaller arm's units (a per-segment check needs both arms)."""
    cells = agg.cells.get(population, {})
    arms = ("candidate",) if shadow and "baseline" not in cells else ("baseline", "candidate")
    return min(cells[arm].units if arm in cells else 0 for arm in arms)


def _freshness(plan: Plan, last_upto: datetime | None, now: datetime, until: datetime) -> Freshness:
    """The newest row's age at min(now, until)."""
    last_row = _aware(last_upto) if last_upto else None
    age = (min(now, until) - last_upto).total_seconds() if last_upto else None
    return Freshness(last_row=last_row, max_age_s=plan.decision.freshness_s, age_s=age)


def _stale(freshness: Freshness, now: datetime, until: datetime) -> list[str]:
    reference = _aware(min(now, until)).isoformat()
    if freshness.last_row is None or freshness.age_s is None:
        return [f"no prediction rows up to {reference}"]
    if freshness.age_s > freshness.max_age_s:
        return [f"stale data: the last prediction row ({freshness.last_row.isoformat()}) is "
                f"{format_duration(freshness.age_s, style='age')} old at {reference} "
                f"(allowed: {format_duration(freshness.max_age_s)})"]
    return []


def _rows_without_unit(facts: WindowFacts) -> RowsWithoutUnit | None:
    if not facts.no_unit_rows:
        return None
    return RowsWithoutUnit(rows=facts.no_unit_rows, share=facts.no_unit_rows / facts.window_rows,
                           max_share=NO_UNIT_TOLERANCE)


def _missing_units(plan: Plan, facts: WindowFacts, missing: RowsWithoutUnit | None) -> list[str]:
    """Rows without a unit are left out of every statistic; many of them hold the stage."""
    if missing is None or missing.share <= NO_UNIT_TOLERANCE:
        return []
    share = missing.share
    column = plan.data.columns.get("unit_id", "unit_id")
    return [f"{facts.no_unit_rows} of {facts.window_rows} prediction rows in the window "
            f"({format_fraction(share, digits=2)}) have "
            f"no unit (column '{column}' is null; tolerated: {format_fraction(NO_UNIT_TOLERANCE)})"]


def srm_result(units: dict[str, int], split: RouterSplit) -> SrmResult:
    from rollout_cli.stats.srm import SRM_THRESHOLD
    from rollout_cli.stats.srm_sequential import anytime_srm_p_value

    share = split.candidate_traffic / 100.0
    if not 0.0 < share < 1.0:
        return SrmResult(outcome=Outcome.PASS, p_value=None, expected_share=share,
                         reason=f"not applicable: the planned split sends {format_fraction(share)} to the candidate")
    counts = [units["baseline"], units["candidate"]]
    if sum(counts) == 0:
        return SrmResult(outcome=Outcome.INCONCLUSIVE, p_value=None, expected_share=share, reason="no units yet")
    p_value = anytime_srm_p_value(counts, [1.0 - share, share])  # valid at every look (docs/statistics.md)
    if p_value < SRM_THRESHOLD:
        return SrmResult(outcome=Outcome.FAIL, p_value=p_value, expected_share=share,
                         reason=f"sample-ratio mismatch: units split {counts[0]}/{counts[1]} against a planned "
                                f"{100 * (1 - share):g}/{100 * share:g} (always-valid p = {p_value:.2g} < {SRM_THRESHOLD:g}); "
                                "the router is not splitting as planned, so no other result can be trusted")
    return SrmResult(outcome=Outcome.PASS, p_value=p_value, expected_share=share,
                     reason=f"units split {counts[0]}/{counts[1]} as planned (p = {p_value:.2g})")


def _crossover(plan: Plan, agg: Aggregates, units: dict[str, int]) -> Crossover:
    whole = agg.cells.get(None, {})
    crossed = sum(cell.crossed for cell in whole.values())
    total = sum(units.values())
    return Crossover(units=crossed, share=crossed / total if total else 0.0, max_share=plan.decision.max_crossover)


def _crossover_reasons(crossover: Crossover) -> list[str]:
    if crossover.share > crossover.max_share:
        return [f"{crossover.units} units ({format_fraction(crossover.share, digits=2)}) were served by both arms "
                f"(tolerated: "
                f"{format_fraction(crossover.max_share)}); the router may not be assigning by unit"]
    return []


def _agreement_summary(plan: Plan, needs: StageNeeds, agg: Aggregates) -> dict[str, AgreementSummary]:
    """For people: each agreement metric over paired requests with its (fixed-n) Wilson interval.
    The guard itself is judged per unit with the always-valid interval (stats.shadow)."""
    from rollout_cli.stats.shadow import wilson_interval

    candidate = agg.cells.get(None, {}).get("candidate")
    summary: dict[str, AgreementSummary] = {}
    for measure in needs.measures:
        sums = candidate.sums.get(measure.key) if candidate else None
        if measure.op != "agreement" or sums is None or sums.sum_y <= 0:
            continue
        agreed, paired = int(sums.sum_x), int(sums.sum_y)
        wilson = wilson_interval(agreed, paired, 1.0 - plan.decision.confidence)
        summary[measure.key] = AgreementSummary(agreed=agreed, paired=paired, rate=agreed / paired,
                                                wilson_interval=(wilson.low, wilson.high))
    return summary


def _shadow_coverage(agg: Aggregates, split: RouterSplit, agreement: dict[str, AgreementSummary]) -> ShadowCoverage:
    base, paired = agg.baseline_requests, agg.paired_requests
    return ShadowCoverage(baseline_requests=base, paired_requests=paired, coverage=paired / base if base else None,
                          expected_coverage=split.shadow / 100.0, agreement=agreement)


def _coverage_reasons(shadow: ShadowCoverage) -> list[str]:
    expected, coverage = shadow.expected_coverage, shadow.coverage
    if shadow.baseline_requests == 0 or expected <= 0:
        return []
    if coverage is not None and coverage < expected * SHADOW_COVERAGE_TOLERANCE:
        return [f"only {format_fraction(coverage, digits=3)} of baseline requests have a candidate answer "
                f"(planned: {format_fraction(expected)} mirrored)"]
    return []
