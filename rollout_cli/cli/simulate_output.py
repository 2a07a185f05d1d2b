"""Rendering `rollout plan simulate` for people (rich) — the JSON form is PlanSimulation.to_json()."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from rollout_cli.cli.output import console
from rollout_cli.planning import PlanSimulation


def _pct(share: float) -> str:
    return f"{100 * share:.3g}%"


def print_simulation(result: PlanSimulation) -> None:
    scenario = result.scenario
    harms = ", ".join(h.describe() for h in scenario.harms) or "none (A/A: the candidate is as good as the baseline)"
    console.print(f"[bold]{escape(result.plan)}[/] simulated {scenario.runs} times at "
                  f"{scenario.traffic_per_h:,.0f} units/h; harm: {escape(harms)}", soft_wrap=True)
    table = Table(title="Per traffic stage", title_justify="left")
    for column in ("stage", "traffic", "entered", "rolled back here", "hours to rollback (median / p90)",
                   "candidate units exposed (median / p90)"):
        table.add_column(column)
    if scenario.catch is not None:
        table.add_column(f"hours in stage to {100 * scenario.catch:g}% of its rollbacks")
    for stage in result.stages:
        row = [escape(stage.stage), f"{stage.traffic:g}%", _pct(stage.entered), _pct(stage.caught),
               "-" if stage.hours_to_rollback is None else "{:.3g} / {:.3g}".format(*stage.hours_to_rollback),
               "-" if stage.exposed is None else "{:,} / {:,}".format(*stage.exposed)]
        if scenario.catch is not None:
            row.append("-" if stage.catch_hours is None else f"{stage.catch_hours:.3g}")
        table.add_row(*row)
    console.print(table)
    if scenario.harms:
        console.print(f"Rolled back: [bold]{_pct(result.rolled_back)}[/]; reached the end anyway: "
                      f"[bold]{_pct(result.completed)}[/]; still undecided at a stage's max_duration: "
                      f"{_pct(result.held)}", soft_wrap=True)
    else:
        done = "-" if result.hours_to_complete is None else f"{result.hours_to_complete:.3g}h"
        console.print(f"False rollbacks: [bold]{_pct(result.rolled_back)}[/]; reached 100%: {_pct(result.completed)} "
                      f"(median {done} from the first traffic stage); held undecided: {_pct(result.held)}",
                      soft_wrap=True)
    if result.suggestions:
        target = 100 * (scenario.catch or 0)
        fit = Table(title=f"Smallest settings with which each stage itself catches the harm in {target:g}% of runs",
                    title_justify="left")
        for column in ("stage", "caught by its max_duration", "min_duration", "min_units"):
            fit.add_column(column)
        for s in result.suggestions:
            fit.add_row(escape(s.stage), _pct(s.caught_within_horizon),
                        "cannot, within max_duration" if s.min_duration_h is None else f"{s.min_duration_h:.3g}h",
                        "-" if s.min_units is None else f"{s.min_units:,}")
        console.print(fit)
    for warning in result.warnings:
        console.print(f"[yellow]warning[/] {escape(warning)}", soft_wrap=True)
    if result.not_simulated:
        console.print(f"Not simulated (judged as in production, but not drawn here): "
                      f"{escape(', '.join(result.not_simulated))}", soft_wrap=True)
