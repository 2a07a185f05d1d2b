"""Open the plan's logs and measure drift: the entry point of `rollout drift` and of a tick."""

from __future__ import annotations

from datetime import datetime

from rollout_cli.data.source import open_logs
from rollout_cli.drift.check import DriftCheck, last_complete_window, summarize
from rollout_cli.drift.measure import DriftReport, measure_drift
from rollout_cli.errors import RolloutError, UsageError
from rollout_cli.plan.model import Plan


def drift_report(plan: Plan, *, until: datetime, since: datetime | None = None,
                 window_s: float | None = None) -> DriftReport:
    """Drift of every feature and output of `plan` over [since, until). UsageError when the plan
    checks no drift; DataError for bad logs or reference (naming the feature)."""
    if not plan.drift.enabled:
        raise UsageError(f"plan {plan.name!r} checks no drift",
                         hint="list drift.features, or set drift.outputs: true (docs/plan.md)")
    if since is not None and since >= until:
        raise UsageError(f"--since {since:%Y-%m-%dT%H:%M:%SZ} is not before --until {until:%Y-%m-%dT%H:%M:%SZ}")
    needs_training = bool(plan.drift.features) and plan.drift.reference_first_s is None
    with open_logs(plan.data, with_training=needs_training) as logs:
        return measure_drift(plan, logs, until=until, since=since, window_s=window_s)


def check_drift(plan: Plan, now: datetime) -> DriftCheck:
    """The drift a tick acts on: the last complete window before `now`. A data problem becomes
    `DriftCheck.error` (the tick goes on, and the plan's action decides what an error blocks)."""
    start, end = last_complete_window(now, plan.drift.window_s)
    try:
        report = drift_report(plan, since=start, until=end)
    except RolloutError as error:
        return DriftCheck(start, end, error=error.message)
    return summarize(report, start, end)
