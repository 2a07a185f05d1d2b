"""The report's charts: matplotlib figures rendered as inline SVG text (docs/report.md says why).

matplotlib is imported here, lazily, only when a report is drawn. Figures are built with the
object API (no pyplot state), text stays text in the SVG (`svg.fonttype: none`: no font is
embedded or fetched; the page's fonts draw it), every chart gets its own id salt so the ids of
several SVGs on one page never collide, and the root's fixed size is dropped so a chart
scales to the screen (viewBox kept).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rollout_cli.report.data import GuardHistory, IntervalChart, Run, SeriesChart
from rollout_cli.state.records import CheckRecord, EvaluationRecord
from rollout_cli.state.timeline import StagePeriod

COLOURS = {"pass": "#1a7f37", "fail": "#cf222e", "inconclusive": "#9a6700"}
INTERVAL = "#0969da"
LIMIT = "#cf222e"
SRM_THRESHOLD = 0.001


def plain(text: object) -> str:
    """A label drawn exactly as written: `$` would start mathtext in matplotlib."""
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


@contextmanager
def _figure(key: str, width: float, height: float) -> Iterator[Any]:
    import matplotlib
    from matplotlib.figure import Figure

    style: Any = {"svg.fonttype": "none", "svg.hashsalt": key, "font.size": 10, "axes.spines.top": False,
             "axes.spines.right": False, "axes.titlesize": 10, "axes.titleweight": "bold",
             "font.family": ["DejaVu Sans", "sans-serif"]}
    with matplotlib.rc_context(style):
        yield Figure(figsize=(width, height), layout="constrained")


def to_svg(figure: Any, label: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # no XML declaration or DOCTYPE inside HTML
    text = re.sub(r'<metadata>.*?</metadata>', "", text, count=1, flags=re.DOTALL)
    from rollout_cli.inert import html

    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
                  lambda m: f'<svg{m.group(1)} class="chart" role="img" aria-label="{html(label)}"', text, count=1)


def _span(ax: Any, times: Sequence[datetime]) -> None:
    """The x range of `times`, widened when it is one moment (a locator cannot tick a zero range)."""
    from datetime import timedelta

    if times:
        low, high = min(times), max(times)
        pad = max((high - low) * 0.03, timedelta(minutes=5))
        ax.set_xlim(low - pad, high + pad)


def _time_axis(ax: Any) -> None:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _stage_lines(ax: Any, periods: Sequence[StagePeriod], label: bool) -> None:
    low, high = ax.get_xlim()
    from matplotlib.dates import date2num

    for period in periods:
        x = date2num(period.start)
        if low <= x <= high:
            ax.axvline(period.start, color="#8c959f", linestyle=":", linewidth=0.8)
            if label:
                ax.annotate(plain(period.stage or "rolled back"), (x, 1.0), xycoords=("data", "axes fraction"),
                            fontsize=8, color="#57606a", rotation=0, ha="left", va="bottom")


def _percent(ax: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))


def _population_name(population: tuple[str, str] | None) -> str:
    return "everyone" if population is None else f"{population[0]}={population[1]}"


def guard_chart(history: GuardHistory, periods: Sequence[StagePeriod], key: str) -> str:
    """Estimate and always-valid interval at every evaluation, per population, against the limits."""
    populations = list(history.points)
    cols = 1 if len(populations) == 1 else 2
    rows = math.ceil(len(populations) / cols)
    with _figure(key, 8.0, 2.4 * rows + 0.4) as figure:
        axes = figure.subplots(rows, cols, sharex=True, sharey=True, squeeze=False).flatten()
        _span(axes[0], [at for points in history.points.values() for at, _, _ in points])
        for i, population in enumerate(populations):
            ax = axes[i]
            points = history.points[population]
            _interval_series(ax, points)
            for limit in history.limits:
                if limit is not None:
                    ax.axhline(limit, color=LIMIT, linestyle="--", linewidth=1)
            ax.set_title(plain(_population_name(population)), loc="left")
            if history.relative:
                ax.axhline(0, color="#8c959f", linewidth=0.6)
                _percent(ax)
            _time_axis(ax)
        for ax in axes[len(populations):]:
            ax.set_visible(False)
        for i, ax in enumerate(axes[:len(populations)]):
            _stage_lines(ax, periods, label=i < cols)
        return to_svg(figure, f"{history.metric} {history.guard} over time")


def _interval_series(ax: Any, points: list[tuple[datetime, str, CheckRecord]]) -> None:
    chunks: list[list[tuple[datetime, str, CheckRecord]]] = []
    for point in points:  # one band per stage: each stage's interval starts afresh
        if chunks and chunks[-1][-1][1] == point[1]:
            chunks[-1].append(point)
        else:
            chunks.append([point])
    for chunk in chunks:
        bounded = [(at, c) for at, _, c in chunk if c.low is not None and c.high is not None]
        if len(bounded) > 1:
            ax.fill_between([at for at, _ in bounded], [c.low for _, c in bounded], [c.high for _, c in bounded],
                            color=INTERVAL, alpha=0.15, linewidth=0)
        estimates = [(at, c) for at, _, c in chunk if c.estimate is not None]
        ax.plot([at for at, _ in estimates], [c.estimate for _, c in estimates], color=INTERVAL, linewidth=1)
    for at, _, check in points:
        if check.estimate is None:
            continue
        colour = COLOURS.get(check.outcome, INTERVAL)
        if check.low is not None and check.high is not None:
            ax.vlines([at], [check.low], [check.high], color=colour, linewidth=1.2)
        ax.plot([at], [check.estimate], "o", color=colour, markersize=4)


def forest_chart(metric: str, guard: str, checks: Sequence[CheckRecord], relative: bool, key: str) -> str:
    """Every population's estimate and interval at one evaluation, the failing ones in red."""
    with _figure(key, 8.0, 0.45 * len(checks) + 1.2) as figure:
        ax = figure.subplots()
        ys = list(range(len(checks)))[::-1]
        for y, check in zip(ys, checks):
            colour = COLOURS.get(check.outcome, INTERVAL)
            if check.low is not None and check.high is not None:
                ax.plot([check.low, check.high], [y, y], color=colour, linewidth=2)
            if check.estimate is not None:
                ax.plot([check.estimate], [y], "o", color=colour, markersize=6)
        limits = {c.limit_low for c in checks} | {c.limit_high for c in checks}
        for limit in limits - {None}:
            ax.axvline(limit, color=LIMIT, linestyle="--", linewidth=1)
        if relative:
            ax.axvline(0, color="#8c959f", linewidth=0.6)
            from matplotlib.ticker import PercentFormatter

            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        ax.set_yticks(ys, [plain(f"{_population_name(c.segment)} ({c.outcome})") for c in checks])
        ax.set_ylim(-0.7, len(checks) - 0.3)
        ax.set_title(plain(f"{metric} · {guard}"), loc="left")
        return to_svg(figure, f"{metric} {guard} per segment at the latest evaluation")


def ramp_chart(periods: Sequence[StagePeriod], now: datetime, key: str) -> str:
    """The share served by (and mirrored to) the candidate over time, stage by stage."""
    with _figure(key, 8.0, 2.6) as figure:
        ax = figure.subplots()
        for period in periods:
            end = period.end or max(now, period.start)
            colour = LIMIT if period.action == "rollback" else INTERVAL
            ax.plot([period.start, end], [period.candidate_traffic / 100] * 2, color=colour, linewidth=2.5)
            if period.shadow:
                ax.plot([period.start, end], [period.shadow / 100] * 2, color="#8250df", linewidth=1.2,
                        linestyle="--")
            ax.annotate(plain(period.stage or "rolled back"), (period.start, period.candidate_traffic / 100),
                        xytext=(2, 4), textcoords="offset points", fontsize=8, color=colour)
        ax.set_ylim(-0.05, 1.1)
        _percent(ax)
        ax.set_ylabel("served by the candidate")
        _time_axis(ax)
        return to_svg(figure, "traffic served by the candidate over time")


def srm_chart(evaluations: Sequence[EvaluationRecord], periods: Sequence[StagePeriod], key: str) -> str:
    """Units per arm against the planned split, and the SRM p-value against its threshold."""
    judged = [e for e in evaluations if e.srm_p_value is not None and e.baseline_units + e.candidate_units]
    with _figure(key, 8.0, 4.0) as figure:
        top, bottom = figure.subplots(2, 1, sharex=True)
        times = [e.at for e in judged]
        _span(top, times)
        top.plot(times, [e.candidate_units / (e.baseline_units + e.candidate_units) for e in judged], "o-",
                 color=INTERVAL, markersize=3, linewidth=1, label="observed")
        planned = [next((p.candidate_traffic / 100 for p in periods if p.covers(e.since)), math.nan) for e in judged]
        top.plot(times, planned, "_", color=LIMIT, markersize=12, label="planned")
        top.set_title("candidate's share of units", loc="left")
        _percent(top)
        top.legend(loc="upper left", fontsize=8, frameon=False)
        bottom.semilogy(times, [max(e.srm_p_value or 1e-300, 1e-300) for e in judged], "o-", color=INTERVAL,
                        markersize=3, linewidth=1)
        bottom.axhline(SRM_THRESHOLD, color=LIMIT, linestyle="--", linewidth=1)
        bottom.set_title(f"SRM p-value (a mismatch below {SRM_THRESHOLD:g})", loc="left")
        for ax in (top, bottom):
            _time_axis(ax)
        return to_svg(figure, "sample ratio over time")


def runs_chart(runs: Sequence[Run], key: str) -> str:
    """Each drill and rollback: its duration against the plan's budget (log scale: steps take
    milliseconds, budgets minutes)."""
    with _figure(key, 8.0, 0.4 * len(runs) + 1.3) as figure:
        ax = figure.subplots()
        ys = list(range(len(runs)))[::-1]
        for y, run in zip(ys, runs):
            ax.barh([y], [max(run.duration_s, 1e-3)], color=COLOURS.get("pass" if run.outcome in ("pass", "rolled_back")
                                                                        else "fail"), height=0.6)
        budgets = {run.budget_s for run in runs}
        for budget in budgets:
            ax.axvline(budget, color=LIMIT, linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_yticks(ys, [plain(f"{r.kind} {r.at:%m-%d %H:%M}") for r in runs])
        ax.set_xlabel("seconds (dashed: the rollback budget)")
        return to_svg(figure, "drill and rollback durations against the budget")


def series_chart(chart: SeriesChart, key: str) -> str:
    with _figure(key, 8.0, 2.6) as figure:
        ax = figure.subplots()
        _span(ax, [t for t, _ in chart.points])
        if chart.bands:
            finite = [v for _, low, high in chart.bands for v in (low, high) if v is not None and math.isfinite(v)]
            top = max(finite + [chart.limit or 0.0]) * 1.15 or 1.0  # an unbounded interval reaches the top
            highs = [high if high is not None and math.isfinite(high) else top for _, _, high in chart.bands]
            ax.vlines([t for t, _, _ in chart.bands], [low for _, low, _ in chart.bands], highs, color=INTERVAL,
                      linewidth=1.2, alpha=0.5)
        ax.plot([t for t, _ in chart.points], [v for _, v in chart.points], "o-", color=INTERVAL, markersize=3)
        if chart.limit is not None:
            ax.axhline(chart.limit, color=LIMIT, linestyle="--", linewidth=1)
        ax.set_title(plain(chart.title), loc="left")
        ax.set_ylabel(plain(chart.y_label))
        _time_axis(ax)
        return to_svg(figure, chart.title)


def interval_chart(chart: IntervalChart, key: str) -> str:
    """A forest plot: each row's estimate and interval, flagged rows in red, the limit dashed."""
    with _figure(key, 8.0, 0.4 * len(chart.rows) + 1.3) as figure:
        ax = figure.subplots()
        ys = list(range(len(chart.rows)))[::-1]
        for y, (_, estimate, low, high, flagged) in zip(ys, chart.rows):
            colour = COLOURS["fail"] if flagged else INTERVAL
            if low is not None and high is not None:
                ax.plot([low, high], [y, y], color=colour, linewidth=2)
            ax.plot([estimate], [y], "o", color=colour, markersize=6)
        if chart.reference is not None:
            ax.axvline(chart.reference, color="#8c959f", linewidth=0.8)
        if chart.limit is not None:
            ax.axvline(chart.limit, color=LIMIT, linestyle="--", linewidth=1)
        if chart.percent:
            from matplotlib.ticker import PercentFormatter

            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        ax.set_yticks(ys, [plain(label) for label, *_ in chart.rows])
        ax.set_ylim(-0.7, len(chart.rows) - 0.3)
        ax.set_xlabel(plain(chart.x_label))
        ax.set_title(plain(chart.title), loc="left")
        return to_svg(figure, chart.title)
