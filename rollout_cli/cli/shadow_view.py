"""The human view of a ShadowResult: rich tables, log strings escaped (they are data, not markup)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from rollout_cli.cli.output import console, styled_outcome
from rollout_cli.shadow.result import Rate, ShadowResult


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.3g}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _rate(rate: Rate) -> str:
    if rate.value is None:
        return "—"
    if rate.interval is None:
        return _pct(rate.value)
    return f"{_pct(rate.value)} [{_pct(rate.interval[0])}, {_pct(rate.interval[1])}]"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for column in columns:
        table.add_column(column)
    return table


def _row(table: Table, *values: Any) -> None:
    table.add_row(*(escape(str(v)) for v in values))


def print_shadow(result: ShadowResult) -> None:
    cov = result.coverage
    console.print(f"[bold]{escape(result.plan)}[/] shadow stage [bold]{escape(result.stage)}[/]: "
                  f"{styled_outcome(result.verdict.value)}  ({result.kind} answers, "
                  f"{result.since.isoformat()} .. {result.until.isoformat()})", soft_wrap=True)
    console.print(f"coverage {_rate(cov.coverage)} of {cov.baseline_requests} baseline requests: {cov.missing} missing, "
                  f"{cov.late} late" + (f" (> {cov.timeout_ms:g} ms)" if cov.timeout_ms is not None else "")
                  + f", {cov.errored} errored; agreement {_rate(result.agreement)}"
                  + (f" (scores within {result.tolerance:g})" if result.tolerance is not None else ""), soft_wrap=True)
    if result.findings:
        console.print("[bold]findings[/]")
        for finding in result.findings:
            console.print(f"  [yellow]{escape(finding.kind)}[/] {escape(finding.message)}", soft_wrap=True)
    else:
        console.print("[green]no credible difference found[/]")
    if result.segment_rows:
        table = _table("segments (most worse than overall first)", "segment", "value", "units", "coverage",
                       "missing / late / errored", "agreement", "vs rest", "p (always-valid)", "worse (Holm)")
        for r in result.segment_rows:
            _row(table, r.segment, r.value, r.units, _rate(r.coverage), f"{r.missing} / {r.late.count} / {r.errored.count}",
                 _rate(r.agreement), _pct(r.difference), f"{r.p_value:.2g}", "yes" if r.worse else "")
        console.print(table)
    if result.labels is not None:
        _print_labels(result)
    if result.scores is not None:
        _print_scores(result)
    _print_latency(result)
    if result.unusual is not None:
        u = result.unusual
        console.print(f"unusual inputs ({', '.join(escape(f.feature) for f in u.features)}): {u.requests} requests, "
                      f"agreement {_pct(u.agreement_unusual.value)} against {_pct(u.agreement_rest.value)} on the rest "
                      f"(difference {_pct(u.difference.effect)}, p = {u.difference.p_value:.2g})", soft_wrap=True)
    if result.examples:
        table = _table("disagreeing requests (deterministic sample)", "request", "baseline", "candidate",
                       "segments")
        for e in result.examples:
            _row(table, e["request_id"], _short(e["baseline"]), _short(e["candidate"]),
                 ", ".join(f"{k}={v}" for k, v in e["segments"].items()))
        console.print(table)
    if result.checks:
        table = _table("shadow guards", "metric", "segment", "guard", "value", "interval", "outcome")
        for c in result.checks:
            segment = "all" if c.segment is None else ", ".join(f"{k}={v}" for k, v in c.segment.items())
            interval = "—" if c.interval is None else f"[{c.interval[0]:.4g}, {c.interval[1]:.4g}]"
            table.add_row(escape(c.metric), escape(segment), escape(c.guard), _num(c.value), interval,
                          styled_outcome(c.outcome.value))
        console.print(table)
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]", soft_wrap=True)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _print_labels(result: ShadowResult) -> None:
    labels = result.labels
    assert labels is not None
    table = _table("baseline (rows) × candidate (columns)", "", *labels.labels)
    for name, row in zip(labels.labels, labels.confusion):
        _row(table, name, *row)
    console.print(table)
    console.print(f"labels gained: {escape(', '.join(labels.gained) or 'none')}; lost: "
                  f"{escape(', '.join(labels.lost) or 'none')}; McNemar on the commonest flip: "
                  f"p = {_num(labels.mcnemar_p_value)}", soft_wrap=True)


def _print_scores(result: ShadowResult) -> None:
    s = result.scores
    assert s is not None
    d = s.distance
    console.print(f"scores: mean difference {_num(s.mean_difference)}, |difference| "
                  + ", ".join(f"{k} {_num(v)}" for k, v in s.abs_difference_quantiles.items())
                  + f", Spearman {_num(s.spearman)}, Pearson {_num(s.pearson)}", soft_wrap=True)
    table = _table("score distributions", "quantile", "baseline", "candidate")
    for key, value in s.baseline_quantiles.items():
        _row(table, key, _num(value), _num(s.candidate_quantiles.get(key)))
    console.print(table)
    interval = "—" if d.interval is None else f"[{_num(d.interval[0])}, {_num(d.interval[1])}]"
    console.print(f"distance: PSI {_num(d.value)} {interval} on {d.bins} baseline-quantile bins — "
                  f"{escape(d.decision or 'n/a')} (drift.max_psi {d.threshold:g})", soft_wrap=True)
    c = s.calibration
    if c is not None:
        console.print(f"calibration on '{escape(c.event)}' ({c.requests} requests, rate {_pct(c.outcome_rate)}): "
                      f"error baseline {_num(c.baseline_error)}, candidate {_num(c.candidate_error)}", soft_wrap=True)


def _print_latency(result: ShadowResult) -> None:
    lat = result.latency
    if lat is None:
        return
    table = _table("latency and errors", "model", "p50 ms", "p99 ms", "mean ms [always-valid]", "errors")
    for arm in (lat.baseline, lat.candidate):
        mean = _num(arm.mean) + ("" if arm.mean_interval is None else
                                 f" [{arm.mean_interval[0]:.4g}, {arm.mean_interval[1]:.4g}]")
        _row(table, arm.arm, _num(arm.p50), _num(arm.p99), mean, _rate(arm.errors))
    console.print(table)
    table = _table("latency by load (minutes ranked by baseline requests)", "bucket", "requests/min",
                   "baseline p99", "candidate p99", "paired ratio")
    for b in lat.buckets:
        _row(table, b.bucket, f"{b.requests_per_minute[0]}-{b.requests_per_minute[1]}", _num(b.baseline_p99),
             _num(b.candidate_p99), _num(b.paired_ratio))
    console.print(table)
