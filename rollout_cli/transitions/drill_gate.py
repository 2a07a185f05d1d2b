"""The drill gate (docs/runbooks.md#the-drill-gate): no traffic out of shadow without a recent, matching, passing drill.

The controller calls `drill_gate` before any move that would serve the candidate for the first
time (shadow -> first traffic stage, or not-started straight into a traffic stage). It is a
pure function of the plan, the drills on record and `now`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rollout_cli.files import display_path
from rollout_cli.plan.model import Plan
from rollout_cli.state.drills import DrillEvents, DrillRecord, drills_on_record
from rollout_cli.units import format_duration

LIVE_STATUSES = ("running", "paused")  # a rollout in progress owns the plan's router


def rollout_in_progress(plan: Plan, store: object) -> bool:
    """True when the state says the plan's rollout is running or paused."""
    getter = getattr(store, "get", None)
    state = getter(plan.name) if getter else None
    status = getattr(state, "status", None)
    return str(getattr(status, "value", status)) in LIVE_STATUSES


def drill_command(plan: Plan, *, needs_other_router: bool) -> str:
    command = f"rollout drill {display_path(plan.source)}"
    if needs_other_router:
        # The live router serves the rollout; a drill must rehearse on a staging copy.
        command += " --router ADAPTER:KEY=VALUE,... (a staging router: the rollout in progress owns the live one)"
    return command


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _why_not(records: list[DrillRecord], digest: str, since: datetime) -> str:
    if not records:
        return "no drill on record"
    last = records[-1]
    if not last.passed and last.at >= since:
        return f"the last drill ({_when(last.at)}) failed"
    passing = [r for r in records if r.passed]
    if not passing:
        return "every drill on record failed"
    newest = passing[-1]
    if newest.at < since:
        return f"the last passing drill ({_when(newest.at)}) is older than that"
    return (
        f"the last passing drill ({_when(newest.at)}) rehearsed a different rollback section "
        f"(digest {newest.rollback_digest})"
    )


def drill_gate(plan: Plan, store: DrillEvents, now: datetime) -> str | None:
    """None when traffic may leave shadow; else the refusal, saying exactly what to run.

    With `rollback.require_drill: D`, a drill counts when it passed, was recorded at or after
    `now - D`, and its rollback digest equals the plan's current `rollback.digest` (any edit to
    the rollback section — steps, authority, budget — asks for a new drill).
    """
    window_s = plan.rollback.require_drill_s
    if window_s is None:
        return None
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now
    since = now - timedelta(seconds=window_s)
    digest = plan.rollback.digest
    records = drills_on_record(store, plan.name)
    if any(r.passed and r.rollback_digest == digest and r.at >= since for r in records):
        return None
    leave = "traffic may not leave shadow" if any(s.is_shadow for s in plan.stages) else "traffic may not begin"
    return (
        f"{leave}: no passing drill since {_when(since)} (require_drill: {format_duration(window_s, weeks=False)}) "
        f"whose rollback section matches the plan (digest {digest}); {_why_not(records, digest, since)}; "
        f"run: {drill_command(plan, needs_other_router=rollout_in_progress(plan, store))}"
    )
