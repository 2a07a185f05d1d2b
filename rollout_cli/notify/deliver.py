"""Delivery: requests with urllib3's Retry (bounded attempts, backoff), inside a total budget.

Per target: at most ATTEMPTS tries, each with a short connect/read timeout, backing off
0.2 s, 0.4 s between them, retrying on connection errors, timeouts and HTTP 429/5xx. The worst
case is about ATTEMPTS × (connect + read timeout) + backoff ≈ 5 s per target; a plan with several
targets shares TOTAL_BUDGET_S, after which the rest are recorded as not sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rollout_cli.errors import UsageError
from rollout_cli.notify.payload import Event, payload
from rollout_cli.plan.model import NotifyTarget, Plan
from rollout_cli.secrets import redact, resolve, scrub_value
from rollout_cli.state.identity import CONTROLLER
from rollout_cli.state.store import secret_templates

ATTEMPTS = 3
TIMEOUT_S = (0.5, 1.0)  # connect, read — per attempt
BACKOFF_S = 0.2
TOTAL_BUDGET_S = 8.0


class AuditLog(Protocol):
    def record_event(self, plan: Plan, action: str, actor: str, allowed: bool, reason: str,
                     from_stage: str | None = None, to_stage: str | None = None,
                     evidence: dict[str, Any] | None = None, *, at: datetime | None = None,
                     conn: Any = None) -> None: ...


@dataclass(frozen=True)
class Delivery:
    url: str  # redacted
    event: str
    ok: bool
    detail: str  # "HTTP 200", "gave up after 3 attempts: …", "not sent: …"
    duration_s: float


def _session(attempts: int) -> Any:
    import logging

    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    # urllib3 logs each retry as a WARNING quoting the URL, whose path may carry the secret token.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    retry = Retry(total=attempts - 1, connect=attempts - 1, read=attempts - 1, status=attempts - 1,
                  backoff_factor=BACKOFF_S, status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None,
                  raise_on_status=False, respect_retry_after_header=False)
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def send(plan: Plan, target: NotifyTarget, event: Event, *, attempts: int = ATTEMPTS) -> Delivery:
    """One target, one event; never raises."""
    import requests

    templates = secret_templates(plan)
    started = time.monotonic()
    shown = redact(target.url, [target.url])
    try:
        url = resolve(target.url)
        headers = {"Authorization": f"Bearer {resolve(target.token)}"} if target.token else {}
        shown = redact(url, templates)
    except UsageError as exc:
        return Delivery(shown, event.kind, False, f"not sent: {exc.message}", 0.0)
    try:
        with _session(attempts) as session:
            body = scrub_value(payload(plan, event, target.format))  # a reason or an error may quote a secret
            response = session.post(url, json=body, headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        # The error's kind only: its text quotes the URL, whose path may carry the secret. Retries
        # exhausted wrap the last cause (e.g. ReadTimeoutError) in a MaxRetryError: name that cause.
        cause = getattr(exc.args[0], "reason", None) if exc.args else None
        kind = type(cause or exc).__name__
        return Delivery(shown, event.kind, False, f"gave up after {attempts} attempts: {kind}",
                        time.monotonic() - started)
    ok = response.status_code < 300
    detail = f"HTTP {response.status_code}" if ok else f"gave up after {attempts} attempts: HTTP {response.status_code}"
    return Delivery(shown, event.kind, ok, detail, time.monotonic() - started)


def send_all(plan: Plan, event: Event, *, budget_s: float = TOTAL_BUDGET_S) -> list[Delivery]:
    """Send `event` to every target of the plan that subscribes to it; never raises, touches no store
    (so it may run on a thread of its own while a rollback's steps go on)."""
    deliveries: list[Delivery] = []
    deadline = time.monotonic() + budget_s
    for target in plan.notify:
        if event.kind not in target.events:
            continue
        if time.monotonic() >= deadline:
            shown = redact(target.url, [target.url])
            deliveries.append(Delivery(shown, event.kind, False, f"not sent: the {budget_s:g}s budget was spent", 0.0))
            continue
        deliveries.append(send(plan, target, event))
    return deliveries


def record_failures(store: AuditLog | None, plan: Plan, event: Event, deliveries: list[Delivery]) -> None:
    """One audit event per failed delivery; a store that fails too is left alone (never raises)."""
    if store is None:
        return
    for d in deliveries:
        if d.ok:
            continue
        try:
            store.record_event(plan, "notify", event.actor or CONTROLLER, True,
                               f"{event.kind} notification to {d.url} failed: {d.detail}", event.stage, None,
                               {"result": "failed", "event": event.kind, "url": d.url, "detail": d.detail,
                                "duration_s": round(d.duration_s, 3)}, at=event.at)
        except Exception:  # noqa: BLE001, S110 - a report must never become a failure of what it reports
            pass


def notify(plan: Plan, event: Event, *, store: AuditLog | None = None, budget_s: float = TOTAL_BUDGET_S) -> list[Delivery]:
    """Send `event` to every subscribed target of the plan; record each failure; never raises."""
    if not plan.notify:
        return []
    deliveries = send_all(plan, event, budget_s=budget_s)
    record_failures(store, plan, event, deliveries)
    return deliveries
