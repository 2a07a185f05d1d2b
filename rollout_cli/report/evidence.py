"""The report's optional sections: the shadow comparison and drift, as plain `Section`s.

Contract (docs/report.md, "Shadow comparison and drift"):
- `shadow_section(plan, periods, now)`: None unless the plan has a shadow stage that ran (a period
  of the audit trail); else `shadow.compare_shadow` over that stage's last period (its start to
  its end, or `now` while it runs): coverage, agreement with its always-valid interval, the
  shadow guards' verdict, the findings, a table and a forest chart of agreement per segment value.
- `drift_section(plan, periods, now)`: None unless the plan checks drift (`drift.enabled`) and the
  rollout has begun; else `drift.run.drift_report` from the rollout's first period to `now`: each
  column's PSI per complete window with its interval against its threshold (one chart per column)
  and a table of each column's last complete window.
- A log that cannot be read is a section that says so (the plan asked for this evidence), never
  a made-up figure and never a failed report.
"""

from __future__ import annotations

import math
from datetime import datetime

from rollout_cli.errors import RolloutError
from rollout_cli.plan.model import Plan
from rollout_cli.report.data import IntervalChart, Section, SeriesChart
from rollout_cli.state.timeline import StagePeriod
from rollout_cli.units import format_duration


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _interval(interval: tuple[float, float] | None, pct: bool = True) -> str:
    if interval is None:
        return "no interval yet"
    low, high = interval
    if pct:
        return f"[{_pct(low)}, {_pct(high)}]"
    return f"[{low:.3f}, {'∞' if high is None or math.isinf(high) else f'{high:.3f}'}]"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _failed(key: str, title: str, error: RolloutError) -> Section:
    return Section(key, title, (f"Could not be computed from the logs: {error.message}",))


def shadow_section(plan: Plan, periods: list[StagePeriod], now: datetime) -> Section | None:
    """The shadow comparison of the plan's shadow stage, or None (see the module contract)."""
    from rollout_cli.shadow import compare_shadow

    stage = next((s for s in plan.stages if s.is_shadow), None)
    ran = [p for p in periods if stage is not None and p.stage == stage.name]
    if stage is None or not ran:
        return None
    period = ran[-1]
    title = f"Shadow comparison ({stage.name})"
    try:
        result = compare_shadow(plan, stage, since=period.start, until=period.end or now, now=now, examples=0)
    except RolloutError as error:
        return _failed("shadow", title, error)
    cov, agree = result.coverage, result.agreement
    tolerance = f", scores within {result.tolerance:g}" if result.tolerance is not None else ", labels equal"
    paragraphs = [
        (f"{stage.name} from {_when(result.since)} to {_when(result.until)}: {cov.paired} of "
         f"{cov.baseline_requests} baseline requests had the candidate's answer ({_pct(cov.coverage.value)}); "
         f"{cov.missing} missing, {cov.late} late, {cov.errored} errored."),
        (f"Agreement {_pct(agree.value)} {_interval(agree.interval)} ({agree.count} of {agree.total} paired "
         f"requests{tolerance}; always-valid interval at {result.confidence:.0%})."),
        f"Shadow guards: {getattr(result.verdict, 'value', result.verdict)}"
        + "".join(f"; {c.metric}{_where(c.segment)} {c.guard}: {getattr(c.outcome, 'value', c.outcome)}"
                  for c in result.checks) + ".",
    ]
    if result.scores is not None and result.scores.distance.value is not None:
        d = result.scores.distance
        paragraphs.append(f"Score distributions: PSI {d.value:.3f} {_interval(d.interval, pct=False)} against "
                          f"{d.threshold:g} — {d.decision}.")
    if result.latency is not None:
        b, c = result.latency.baseline, result.latency.candidate
        paragraphs.append(f"Latency p50/p99: baseline {_ms(b.p50)}/{_ms(b.p99)}, candidate {_ms(c.p50)}/{_ms(c.p99)}.")
    paragraphs += [f"Finding: {f.message}" for f in result.findings] or ["No credible difference found."]
    rows = [("segment", "value", "units", "agreement", "interval", "versus the rest", "worse")]
    rows += [(r.segment, str(r.value), str(r.units), _pct(r.agreement.value), _interval(r.agreement.interval),
              "—" if r.difference is None else f"{100 * r.difference:+.1f} pts", "yes" if r.worse else "no")
             for r in result.segment_rows]
    charts: tuple[IntervalChart, ...] = ()
    shown = [r for r in result.segment_rows if r.agreement.value is not None]
    if shown and agree.value is not None:
        limit = next((g.min for g in stage.guards if g.metric.kind == "agreement" and g.min is not None), None)
        charts = (IntervalChart(
            "agreement per segment value (red: credibly worse than the rest)", "share of paired requests that agree",
            tuple((f"{r.segment}={r.value}", float(r.agreement.value or 0.0),
                   r.agreement.interval[0] if r.agreement.interval else None,
                   r.agreement.interval[1] if r.agreement.interval else None, r.worse)
                  for r in sorted(shown, key=lambda r: (r.segment, str(r.value)))),
            limit=limit, reference=agree.value, percent=True),)
    return Section("shadow", title, tuple(paragraphs), tuple(rows) if len(rows) > 1 else (), charts)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def _where(segment: dict[str, object] | None) -> str:
    return "" if not segment else " on " + ", ".join(f"{k}={v}" for k, v in segment.items())


def drift_section(plan: Plan, periods: list[StagePeriod], now: datetime) -> Section | None:
    """Drift of every feature and output since the rollout began, or None (see the module contract)."""
    from rollout_cli.drift.run import drift_report

    if not plan.drift.enabled or not periods or periods[0].start >= now:
        return None
    title = "Drift"
    try:
        report = drift_report(plan, since=periods[0].start, until=now)
    except RolloutError as error:
        return _failed("drift", title, error)
    reference = report.reference if report.reference != "none" else "each model's own first answers"
    paragraphs = [(f"Each {format_duration(report.window_s)} window since {_when(periods[0].start)} against "
                  f"{reference}; a column is drifted when the PSI's interval (at {report.confidence:.0%}) "
                  "lies above its threshold.")]
    rows = [("column", "last window", "decision", "PSI", "interval", "threshold", "moved most")]
    charts = []
    for column in report.columns:
        latest = column.latest()
        if latest is None:
            rows.append((column.name, "—", column.note or "no complete window yet", "—", "—", f"{column.threshold:g}",
                         ""))
            continue
        shift = latest.shift
        moved = "; ".join(f"{label} {100 * ref:.0f}% → {100 * win:.0f}%" for label, ref, win in
                          column.moved_most(latest, 2))
        rows.append((column.name, _when(latest.start), shift.decision.value, f"{shift.estimate:.3f}",
                     _interval((shift.low, shift.high), pct=False), f"{column.threshold:g}", moved))
        done = [w for w in column.windows if w.complete]
        charts.append(SeriesChart(
            f"{column.name}: PSI per window against {column.threshold:g}", "PSI",
            tuple((w.start, w.shift.estimate) for w in done), limit=column.threshold,
            bands=tuple((w.start, w.shift.low, None if math.isinf(w.shift.high) else w.shift.high) for w in done)))
    drifted = report.drifted()
    paragraphs.append(f"Drifted in the last complete window: {', '.join(drifted)}." if drifted
                      else "No column drifted in its last complete window.")
    return Section("drift", title, tuple(paragraphs), tuple(rows), tuple(charts))


def evidence_sections(plan: Plan, periods: list[StagePeriod], now: datetime) -> list[Section]:
    """The optional sections whose data exist for this rollout, in page order."""
    found = [shadow_section(plan, periods, now), drift_section(plan, periods, now)]
    return [s for s in found if s is not None]
