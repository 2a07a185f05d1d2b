"""`rollout evaluate`'s view for people: the verdict, the window, and one row per check with its reason."""

from __future__ import annotations

from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from rollout_cli.cli.output import console, styled_outcome
from rollout_cli.evaluation.verdict import Check, Evaluation
from rollout_cli.stats.outcome import Outcome
from rollout_cli.units import format_duration, format_fraction

REASON_WIDTH = 40  # the reason column's narrowest readable width


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4g}"


def _fmt_interval(interval: tuple[float, float] | None, relative: bool) -> str:
    if interval is None:
        return "—"
    if relative:
        return f"[{100 * interval[0]:+.2f}%, {100 * interval[1]:+.2f}%]"
    return f"[{interval[0]:.4g}, {interval[1]:.4g}]"


def _context_lines(evaluation: Evaluation) -> list[str]:
    """Crossover (traffic stages) or coverage and agreement (shadow stages), in one line each."""
    lines = []
    crossover, shadow = evaluation.crossover, evaluation.shadow
    if crossover:
        lines.append(f"served by both arms: {crossover.units} units ({format_fraction(crossover.share, digits=2)}; "
                     f"tolerated {format_fraction(crossover.max_share)})")
    if shadow and shadow.coverage is not None:
        lines.append(f"shadow coverage: {format_fraction(shadow.coverage, digits=3)} of {shadow.baseline_requests} "
                     "baseline "
                     f"requests have a candidate answer (planned {format_fraction(shadow.expected_coverage)})")
    for name, summary in (shadow.agreement if shadow else {}).items():
        low, high = summary.wilson_interval
        lines.append(f"{name}: {format_fraction(summary.rate, digits=3)} of {summary.paired} paired requests agree "
                     f"(Wilson {format_fraction(low, digits=3)}-{format_fraction(high, digits=3)})")
    return lines


def print_evaluation(evaluation: Evaluation) -> None:
    """The human view: the verdict, the window, SRM and one row per check with its reason."""
    verdict = styled_outcome(evaluation.verdict.value)
    console.print(f"[bold]{evaluation.plan}[/] stage [bold]{evaluation.stage}[/]: {verdict}")
    duration = format_duration(round(evaluation.duration_s))
    units = evaluation.units
    console.print(f"window {evaluation.since.isoformat()} .. {evaluation.until.isoformat()} ({duration}); "
                  f"units: baseline {units.get('baseline', 0)}, candidate {units.get('candidate', 0)}")
    srm = evaluation.srm
    p_value = "n/a" if srm.p_value is None else f"{srm.p_value:.3g}"
    console.print(f"sample ratio: {styled_outcome(srm.outcome.value)} (p = {p_value}) {escape(srm.reason)}", soft_wrap=True)
    for line in _context_lines(evaluation):
        console.print(line, soft_wrap=True, markup=False)
    for reason in evaluation.reasons:
        console.print(f"[yellow]held back:[/] {escape(reason)}", soft_wrap=True)
    if evaluation.drift is not None:
        style = "bold red" if evaluation.drift.drifted or evaluation.drift.error else "green"
        console.print(f"[{style}]drift:[/] {escape(evaluation.drift.summary())}", soft_wrap=True)
    for note in evaluation.not_judged:
        console.print(f"[dim]not judged: {escape(note)}[/]", soft_wrap=True)
    rows = [_check_row(check) for check in evaluation.checks]
    # The table only where it fits with its reasons: squeezed, rich folds every column to a few letters.
    if Measurement.get(console, console.options, _check_table(rows, reason=False)).maximum + REASON_WIDTH \
            <= console.width:
        console.print(_check_table(rows, reason=True))
    else:
        for metric, segment, guard, baseline, candidate, effect, interval, outcome, headline in rows:
            console.print(f"{outcome} [bold]{escape(metric)}[/] {escape(segment)} · {escape(guard)}", soft_wrap=True)
            console.print(f"  baseline {baseline}, candidate {candidate}, effect {effect}, interval "
                          f"{escape(interval)}", soft_wrap=True)
            console.print(f"  {headline}", soft_wrap=True, markup=False)
    for check in evaluation.checks:
        _, detail = split_reason(check.reason)
        if detail and check.outcome is not Outcome.PASS:
            console.print(f"  {check.metric} ({_segment_words(check)}): {detail}", soft_wrap=True, markup=False)
    skipped = [s.to_json() for s in evaluation.skipped_segments]
    if skipped:
        named = ", ".join(f"{s['metric']} ({', '.join(f'{k}={v}' for k, v in s['segment'].items())})" for s in skipped)
        console.print(f"[yellow]not judged per segment (too few units; decision.min_units_per_check):[/] "
                      f"{escape(named)}", soft_wrap=True)


def split_reason(reason: str) -> tuple[str, str]:
    """A reason's headline and its detail, split at the first "; " outside parentheses:
    "conversion: too few units (candidate 11; need 100 per arm); …" keeps its parentheses whole."""
    depth = 0
    for i, char in enumerate(reason):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth <= 0 and reason.startswith("; ", i):
            return reason[:i], reason[i + 2:]
    return reason, ""


def _segment_words(check: Check) -> str:
    return "all" if check.segment is None else ", ".join(f"{k}={v}" for k, v in check.segment.items())


def _check_table(rows: list[tuple[str, ...]], *, reason: bool) -> Table:
    table = Table(show_lines=False)
    for column in ("metric", "segment", "guard", "baseline", "candidate", "effect", "interval", "outcome"):
        table.add_column(column, no_wrap=column not in ("metric", "segment", "guard"))
    if reason:
        table.add_column("reason", overflow="fold", min_width=REASON_WIDTH)
    for row in rows:
        cells = [escape(cell) for cell in row[:7]] + [row[7]] + ([escape(row[8])] if reason else [])
        table.add_row(*cells)
    return table


def _check_row(check: Check) -> tuple[str, ...]:
    """metric, segment, guard, baseline, candidate, effect, interval, styled outcome, reason headline."""
    relative = "max_drop" in check.guard or "max_increase" in check.guard
    effect = "—" if check.effect is None else (f"{100 * check.effect:+.2f}%" if relative else _fmt(check.effect))
    return (check.metric, _segment_words(check), check.guard, _fmt(check.baseline), _fmt(check.candidate), effect,
            _fmt_interval(check.interval, relative), styled_outcome(check.outcome.value),
            split_reason(check.reason)[0])
