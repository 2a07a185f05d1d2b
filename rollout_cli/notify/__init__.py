"""Notifications: tell people what the rollout did, with what they need to act.

Contract:
    notify(plan, event, store=store) -> list[Delivery]

sends `event` (an `Event`: kind, summary, stage, the failing check in words, the runbook path,
the exact command to run) to every webhook of the plan's `notify:` section that subscribes to
its kind, as a JSON document or a Slack-compatible message (payload.py). Delivery (deliver.py)
retries a few times with backoff inside a short total budget, then gives up: a failed delivery
is recorded in the audit trail (action "notify", allowed, reason says why) and never raised —
a notification must never stop or delay what it reports. Callers send after the fact: a
rollback notifies only once the router is verified at the baseline.

Event kinds are plan.model.NOTIFY_EVENTS. Other features call `notify` with their own kind
(e.g. drift: Event(kind="drift_confirmed", ...)). URLs and tokens are ${env:…} references,
resolved at send time and redacted from everything recorded.
"""

from __future__ import annotations

from rollout_cli.notify.deliver import Delivery, notify, record_failures, send_all
from rollout_cli.notify.payload import Event

__all__ = ["Delivery", "Event", "notify", "record_failures", "send_all"]
