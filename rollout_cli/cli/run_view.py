"""What `rollout run` shows while it loops, one tick at a time.

- a terminal: a live table of the newest ticks that fit the screen (the oldest scroll away, never
  the newest);
- a pipe, a log, systemd or cron: one plain line per tick as it happens — time, stage, verdict,
  action, reason — flushed at once, nothing redrawn;
- `--json-lines`: one JSON document per tick, on one line, flushed at once, for log collectors.
`--json` keeps its one document at the end (docs/commands.md), built by the command.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Self

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from rollout_cli.state.records import RolloutState
from rollout_cli.units import format_split


def tick_line(number: int, row: dict[str, Any]) -> str:
    """One tick in one line: `2026-11-28T10:00:00+00:00 tick 3 stage canary verdict pass: advance canary -> ramp`."""
    verdict = row["evaluation"]["verdict"] if row.get("evaluation") else "-"
    move = f" {row['from_stage']} -> {row['to_stage']}" if row["decision"] == "advance" and row.get("to_stage") else ""
    return (f"{row['at']} tick {number} stage {row['from_stage'] or '-'} verdict {verdict}: "
            f"{row['decision']}{move}: {row['reason']}")


def run_table(title: str, rows: list[dict[str, Any]], height: int) -> Table:
    """The newest ticks that fit `height` lines (a wrapped reason takes more than one)."""
    table = Table(title=title)
    for column in ("tick", "at", "stage", "verdict", "decision", "reason"):
        table.add_column(column, overflow="fold")
    fit = max(1, (height - 7) // 3)
    first = max(0, len(rows) - fit)
    for i, row in enumerate(rows[first:], start=first + 1):
        verdict = row["evaluation"]["verdict"] if row.get("evaluation") else "-"
        table.add_row(str(i), row["at"][11:19], str(row["from_stage"] or "-"), verdict, row["decision"],
                      escape(row["reason"]))
    if first:
        table.caption = f"{first} earlier ticks not shown (`rollout history` keeps every decision)"
    return table


def title(plan_name: str, state: RolloutState) -> str:
    return (f"rollout {plan_name}: {state.status} at {state.stage or '-'} "
            f"({format_split(state.candidate_traffic, state.shadow)})")


class TickView:
    """Context manager; `show(rows, state)` after each tick."""

    def __init__(self, console: Console, plan_name: str, *, mode: str) -> None:
        self.console, self.plan_name, self.mode = console, plan_name, mode  # "live" | "lines" | "json-lines" | "none"
        self._live: Live | None = None
        self._shown = 0

    def __enter__(self) -> Self:
        if self.mode == "live":
            self._live = Live(console=self.console, refresh_per_second=4, transient=False, redirect_stdout=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def show(self, rows: list[dict[str, Any]], state: RolloutState) -> None:
        if self._live is not None:
            self._live.update(run_table(title(self.plan_name, state), rows, self.console.height))
            return
        for number in range(self._shown + 1, len(rows) + 1):
            row = rows[number - 1]
            if self.mode == "lines":
                text = tick_line(number, row)
            elif self.mode == "json-lines":
                text = json.dumps({"tick": number, **row}, default=str)
            else:
                continue
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        self._shown = len(rows)
