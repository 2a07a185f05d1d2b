"""The report as one HTML page: styles inline, charts inline SVG, no script, nothing fetched.

Every string that comes from the plan, the audit trail or the logs goes through `esc`
(inert.html: control characters shown as escapes, then HTML-escaped, quotes included). A
Content-Security-Policy forbids any request, so even a mistake could not make the page reach the
network. Readable on a phone (one column, charts scale, wide tables scroll) and printable (no dark backgrounds, charts kept whole).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from rollout_cli.inert import html
from rollout_cli.report import charts
from rollout_cli.report.data import IntervalChart, ReportData, Section
from rollout_cli.state.records import CheckRecord

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: #1f2328; background: #fff; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0; } h2 { font-size: 1.25rem; margin-top: 2rem;
  border-bottom: 1px solid #d0d7de; } h3 { font-size: 1.05rem; }
.meta { color: #57606a; }
.badge { display: inline-block; padding: 0 0.5rem; border-radius: 1rem; font-weight: 600; color: #fff; }
.pass, .completed, .running { background: #1a7f37; } .fail, .rolled_back { background: #cf222e; }
.inconclusive, .not_started, .paused { background: #9a6700; }
.lead { border: 2px solid #cf222e; border-radius: 0.5rem; padding: 0.5rem 1rem; margin: 1rem 0; background: #fff5f5; }
.lead h2 { border: 0; margin-top: 0.5rem; color: #cf222e; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #d0d7de; vertical-align: top; }
td.num, td:first-child { text-align: right; white-space: nowrap; } td:first-child { text-align: left; }
figure { margin: 1rem 0; break-inside: avoid; page-break-inside: avoid; overflow-x: auto; }
svg.chart { width: 100%; min-width: 34rem; height: auto; display: block; }
@media print { svg.chart { min-width: 0; } }
figcaption { color: #57606a; font-size: 0.9rem; }
@media print { main { max-width: none; padding: 0; } h2 { break-after: avoid; } .lead { background: none; } }
"""


def esc(value: object) -> str:
    return html(str(value))


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    cell = ('<td class="num">', "<td>")
    body = "".join("<tr>" + "".join(f"{cell[0] if i in numeric else cell[1]}{esc(c)}</td>"
                                     for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _figure(svg: str, caption: str, data_key: str) -> str:
    return f'<figure data-chart="{esc(data_key)}">{svg}<figcaption>{esc(caption)}</figcaption></figure>'


def _number(value: float | None, relative: bool) -> str:
    if value is None:
        return "—"
    return f"{100 * value:+.2f}%" if relative else f"{value:.4g}"


def _check_words(check: CheckRecord) -> str:
    relative = check.guard.startswith(("max_drop", "max_increase"))
    where = "everyone" if check.segment is None else f"{check.segment[0]}={check.segment[1]}"
    interval = (f"[{_number(check.low, relative)}, {_number(check.high, relative)}]"
                if check.low is not None and check.high is not None else "no interval yet")
    return f"{check.metric} on {where}: {_number(check.estimate, relative)} {interval}; allowed {check.guard}"


def _lead(data: ReportData) -> str:
    lead = data.lead
    if lead is None:
        return ""
    state = "rolled back" if lead.verified else "ROLLBACK INCOMPLETE (the router is not verified at the baseline)"
    failing = "".join(f'<li data-failing-segment="{esc(_segment(c))}">{esc(_check_words(c))}</li>'
                      for c in lead.failing)
    failed = f"<p>What failed:</p><ul>{failing}</ul>" if failing else ""
    return (f'<section class="lead" id="what-failed"><h2>What failed: {esc(state)} at {esc(lead.stage or "-")}</h2>'
            f"<p>{esc(_when(lead.at))}, by {esc(lead.actor)}: {esc(lead.reason)}</p>{failed}</section>")


def _segment(check: CheckRecord) -> str:
    return "everyone" if check.segment is None else f"{check.segment[0]}={check.segment[1]}"


def _header(data: ReportData) -> str:
    plan, state = data.plan, data.state
    status = state.status + (" (rollback incomplete)" if state.rollback_incomplete else "")
    return (f"<header><h1>Rollout {esc(plan.name)}</h1><p>{esc(plan.description)}</p>"
            f'<p class="meta">{esc(plan.candidate)} replacing {esc(plan.baseline)} · owner {esc(plan.owner)} · '
            f"report made {esc(_when(data.generated_at))}</p>"
            f'<p>Status: <span class="badge {esc(state.status)}">{esc(status)}</span> at stage '
            f"{esc(state.stage or '-')}; candidate serves {state.candidate_traffic:g}%, mirrored "
            f"{state.shadow:g}%; last verdict {esc(state.last_verdict or '-')}</p></header>")


def _ramp(data: ReportData) -> str:
    chart = _figure(charts.ramp_chart(data.periods, data.generated_at, "ramp"),
                    "Share of requests served by the candidate (solid) and mirrored to it (dashed).", "ramp") \
        if data.periods else "<p>The router was never moved.</p>"
    rows = [(f"{e.at:%m-%d %H:%M}", e.actor, e.action, " → ".join(s for s in (e.from_stage, e.to_stage) if s) or "-",
             "yes" if e.allowed else "REFUSED", e.reason) for e in data.events]
    return (f'<section id="ramp"><h2>The ramp</h2>{chart}'
            + _table(("at (UTC)", "who", "action", "stages", "allowed", "reason"), rows) + "</section>")


def _guards(data: ReportData) -> str:
    if not data.guards:
        return '<section id="guards"><h2>Guards over time</h2><p>No evaluation has judged a guard yet.</p></section>'
    parts = [('<section id="guards"><h2>Guards over time</h2><p>Each point is one evaluation: the estimate and '
              "its always-valid interval (valid however often it is looked at), against the guard's limit (red, "
              "dashed). A guard fails when the whole interval is past the limit and passes when it is wholly "
              "inside; each stage's interval starts afresh with its data.</p>")]
    for i, history in enumerate(data.guards):
        key = f"guard-{i}"
        parts.append(f'<h3 data-guard="{esc(history.metric)} · {esc(history.guard)}">{esc(history.metric)} · '
                     f"{esc(history.guard)}</h3>")
        parts.append(_figure(charts.guard_chart(history, data.periods, key),
                             f"{history.metric} ({history.guard}) per evaluation, overall and per segment.", key))
    return "".join(parts) + "</section>"


def _latest(data: ReportData) -> str:
    latest = data.latest
    if latest is None:
        return ""
    parts = [(f'<section id="latest"><h2>At the latest evaluation</h2><p>{esc(_when(latest.at))}, stage '
              f"{esc(latest.stage)}, by {esc(latest.actor)}: verdict "
              f'<span class="badge {esc(latest.verdict)}">{esc(latest.verdict)}</span>; units baseline '
              f"{latest.baseline_units}, candidate {latest.candidate_units}.</p>")]
    parts += [f"<p>Held back: {esc(reason)}</p>" for reason in latest.reasons]
    groups: dict[tuple[str, str], list[CheckRecord]] = {}
    for check in latest.checks:
        groups.setdefault((check.metric, check.guard), []).append(check)
    for i, ((metric, guard), checks) in enumerate(groups.items()):
        key = f"forest-{i}"
        relative = guard.startswith(("max_drop", "max_increase"))
        parts.append(_figure(charts.forest_chart(metric, guard, checks, relative, key),
                             f"{metric} ({guard}) per segment: estimate and interval; red fails.", key))
    rows = [(c.metric, _segment(c), c.guard, c.outcome, _number(c.estimate, c.guard.startswith("max_")),
             f"[{_number(c.low, c.guard.startswith('max_'))}, {_number(c.high, c.guard.startswith('max_'))}]",
             f"{c.baseline_units}/{c.candidate_units}") for c in latest.checks]
    parts.append(_table(("metric", "segment", "guard", "outcome", "estimate", "interval", "units b/c"), rows))
    return "".join(parts) + "</section>"


def _srm(data: ReportData) -> str:
    if not any(e.srm_p_value is not None for e in data.evaluations):
        return ""
    return ('<section id="srm"><h2>Sample ratio over time</h2>'
            + _figure(charts.srm_chart(data.evaluations, data.periods, "srm"),
                      "Units per arm against the planned split; a p-value under 0.001 fails the stage.", "srm")
            + "</section>")


def _section(section: Section) -> str:
    key = "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in section.key)
    parts = [f'<section id="{esc(key)}" data-section="{esc(key)}"><h2>{esc(section.title)}</h2>']
    parts += [f"<p>{esc(p)}</p>" for p in section.paragraphs]
    if section.table:
        parts.append(_table(section.table[0], section.table[1:]))
    for i, chart in enumerate(section.charts):
        svg = (charts.interval_chart(chart, f"{key}-{i}") if isinstance(chart, IntervalChart)
               else charts.series_chart(chart, f"{key}-{i}"))
        parts.append(_figure(svg, chart.title, f"{key}-{i}"))
    return "".join(parts) + "</section>"


def _runs(data: ReportData) -> str:
    if not data.runs:
        return '<section id="runs"><h2>Drills and rollbacks</h2><p>None on record.</p></section>'
    parts = ['<section id="runs"><h2>Drills and rollbacks</h2>',
             _figure(charts.runs_chart(data.runs, "runs"), "Each run's duration against the rollback budget.", "runs")]
    for run in data.runs:
        where = f" from {run.where}" if run.kind == "rollback" and run.where else ""
        parts.append(f"<h3>{esc(run.kind)}{esc(where)} at {esc(_when(run.at))} by {esc(run.actor)}: "
                     f"{esc(run.outcome)}, {run.duration_s:.3f} s of a {run.budget_s:g} s budget</h3>")
        parts.append(_table(("step", "seconds", "outcome"), [(n, f"{s:.3f}", o) for n, s, o in run.steps], (1,)))
    return "".join(parts) + "</section>"


def _words(data: ReportData) -> str:
    parts = ['<section id="plan-guards"><h2>The plan\'s guards in words</h2>']
    for stages, sentences in data.guard_words:
        parts.append(f"<h3>{esc(stages)}</h3><ul>" + "".join(f"<li>{esc(s)}</li>" for s in sentences) + "</ul>")
    parts += [f"<p>{esc(p)}</p>" for p in data.policies]
    return "".join(parts) + "</section>"


def render(data: ReportData) -> str:
    """The whole page."""
    body = [_header(data), _lead(data), _ramp(data), _guards(data), _latest(data), _srm(data),
            *(_section(s) for s in data.sections), _runs(data), _words(data)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Rollout {esc(data.plan.name)}</title><style>{STYLE}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")
