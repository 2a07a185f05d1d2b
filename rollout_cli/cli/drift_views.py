"""How `rollout drift` looks: a table per column (one row per window, with a sparkline of the
PSI and its interval), and the JSON document, both built from the same DriftReport."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from rollout_cli.cli.output import console
from rollout_cli.drift.measure import ColumnDrift, DriftReport, WindowDrift
from rollout_cli.stats.shift import ShiftDecision

SPARKS = "▁▂▃▄▅▆▇█"
DECISION_STYLE = {ShiftDecision.DRIFTED: "bold red", ShiftDecision.NOT_DRIFTED: "green",
                  ShiftDecision.NOT_ENOUGH_DATA: "yellow"}
MAX_ROWS = 48  # windows shown per column in the terminal; --json has them all


def sparkline(values: list[float], top: float) -> str:
    """One character per value, scaled to [0, top] (top: the largest value or the threshold)."""
    top = top or 1.0
    return "".join(SPARKS[min(len(SPARKS) - 1, int(len(SPARKS) * min(v, top) / top * 0.999))] for v in values)


def _moved(column: ColumnDrift, window: WindowDrift) -> str:
    return "; ".join(f"{label} {100 * ref:.0f}%→{100 * now:.0f}%" for label, ref, now in column.moved_most(window, 2))


def window_json(column: ColumnDrift, window: WindowDrift) -> dict[str, Any]:
    shift = window.shift
    return {
        "start": window.start.isoformat(), "end": window.end.isoformat(), "complete": window.complete,
        "rows": shift.window_rows, "psi": shift.estimate, "interval": [shift.low, shift.high],
        "decision": shift.decision.value,
        "moved_most": [{"bin": label, "reference_share": ref, "window_share": now}
                       for label, ref, now in column.moved_most(window)],
    }


def report_json(report: DriftReport) -> dict[str, Any]:
    return {
        "reference": report.reference, "window_s": report.window_s, "confidence": report.confidence,
        "since": report.since.isoformat() if report.since else None, "until": report.until.isoformat(),
        "drifted": report.drifted(),
        "columns": [{
            "name": c.name, "role": c.role, "kind": c.bins.kind if c.bins else None, "threshold": c.threshold,
            "bins": list(c.bins.labels) if c.bins else [], "reference_counts": list(c.reference_counts),
            "latest": (latest.shift.decision.value if (latest := c.latest()) else None), "note": c.note,
            "windows": [window_json(c, w) for w in c.windows],
        } for c in report.columns],
    }


def print_report(report: DriftReport) -> None:
    console.print(f"[bold]Drift[/] against {escape(report.reference)}, {report.confidence * 100:g}% intervals, "
                  f"windows of {report.window_s / 3600:g}h", soft_wrap=True)
    for column in report.columns:
        latest = column.latest()
        verdict = latest.shift.decision if latest else None
        style = DECISION_STYLE.get(verdict, "bold") if verdict else "bold"
        word = verdict.value if verdict else (column.note or "no complete window yet")
        kind = f", {column.bins.kind}" if column.bins else ""
        psis = [w.shift.estimate for w in column.windows]
        spark = sparkline(psis, max(psis + [column.threshold])) if psis else ""
        console.print(f"\n[bold]{escape(column.name)}[/] ({column.role}{kind}, PSI threshold {column.threshold:g}): "
                      f"[{style}]{escape(word)}[/]  {spark}", soft_wrap=True)
        if not column.windows:
            continue
        table = Table(show_edge=False, pad_edge=False)
        for header in ("window", "rows", "PSI", "interval", "decision", "bins that moved most"):
            table.add_column(header)
        for window in column.windows[-MAX_ROWS:]:
            shift = window.shift
            label = f"{window.start:%m-%d %H:%M}" + ("" if window.complete else " (open)")
            table.add_row(label, str(shift.window_rows), f"{shift.estimate:.3f}",
                          f"[{shift.low:.3f}, {shift.high:.3f}]",
                          f"[{DECISION_STYLE[shift.decision]}]{shift.decision.value}[/]", escape(_moved(column, window)))
        console.print(table)
