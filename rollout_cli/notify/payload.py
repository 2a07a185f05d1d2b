"""What a notification says: the event, and its payload for each webhook format."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from rollout_cli.plan.model import Plan

TITLES = {
    "rollback_started": "rollback started (router at the baseline, remaining steps running)",
    "rollback_finished": "rolled back",
    "rollback_failed": "ROLLBACK FAILED: the router is not verified at the baseline",
    "stage_advanced": "advanced",
    "held_too_long": "held too long",
    "approval_needed": "approval needed",
    "drill_failed": "drill failed",
    "drift_confirmed": "drift confirmed",
    "controller_error": "controller error",
}


@dataclass(frozen=True)
class Event:
    """One thing that happened to a rollout, with the evidence a person needs to act on it."""

    kind: str  # one of plan.model.NOTIFY_EVENTS
    summary: str  # one sentence: what happened
    at: datetime
    stage: str | None = None
    check: str | None = None  # the failing check (or the reason), in words
    command: str | None = None  # the exact command a person runs next, if any
    actor: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def runbook_path(plan: Plan) -> str:
    """Where `rollout runbook generate` writes the plan's runbook by default."""
    return f"runbooks/{plan.name}.md"


def json_payload(plan: Plan, event: Event) -> dict[str, Any]:
    doc = asdict(event)
    doc.update(at=event.at.isoformat(), plan=plan.name, title=TITLES.get(event.kind, event.kind),
               runbook=runbook_path(plan), candidate=plan.candidate, baseline=plan.baseline)
    return doc


def slack_payload(plan: Plan, event: Event) -> dict[str, Any]:
    """Slack's incoming-webhook message: `text` (the fallback every client shows) and blocks."""
    title = f"{plan.name}: {TITLES.get(event.kind, event.kind)}"
    lines = [event.summary]
    if event.check:
        lines.append(f"*Why:* {event.check}")
    if event.command:
        lines.append(f"*Run:* `{event.command}`")
    lines.append(f"*Runbook:* {runbook_path(plan)}")
    text = "\n".join(lines)
    return {"text": f"{title}\n{text}",
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
                       {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}]}


def payload(plan: Plan, event: Event, fmt: str) -> dict[str, Any]:
    return slack_payload(plan, event) if fmt == "slack" else json_payload(plan, event)
