"""Building the registry from the store, and the two ways out (textfile, HTTP)."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from rollout_cli.plan.model import Plan
from rollout_cli.state.drills import drills_on_record, last_passing_drill
from rollout_cli.state.records import Status, not_started

VERDICTS = ("pass", "fail", "inconclusive")
OUTCOMES = ("pass", "fail", "inconclusive")


def _segment(check: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((check.get("segment") or {}).items()))


def latest_evaluation(store: Any, plan_name: str) -> dict[str, Any] | None:
    """The newest evaluation (as JSON) kept in the audit trail's evidence, or None."""
    for event in reversed(store.events(plan_name)):
        evaluation = (event.evidence or {}).get("evaluation")
        if evaluation:
            return dict(evaluation)
    return None


def collect(plan: Plan, store: Any, now: datetime, evaluation: dict[str, Any] | None = None) -> Any:
    """A fresh CollectorRegistry describing the rollout of `plan` at `now`; `store` None: no state
    folder yet (a rollout not started, with no drill on record)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    name = plan.name

    def gauge(metric: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
        return Gauge(metric, doc, ("plan", *labels), registry=registry)

    state = (store.get(name) if store is not None else None) or not_started(name)
    index = plan.stage(state.stage).index if state.stage else -1
    gauge("rollout_stage_index", "Index of the current stage in the plan (-1 before start).").labels(name).set(index)
    gauge("rollout_stage_info", "The current stage's name (value 1).", ("stage",)).labels(name, state.stage or "").set(1)
    status = gauge("rollout_status", "1 for the rollout's current status, 0 for the others.", ("status",))
    for s in get_args(Status):
        status.labels(name, s).set(1 if state.status == s else 0)
    gauge("rollout_candidate_traffic_percent", "Share of requests the candidate serves.").labels(name).set(
        state.candidate_traffic)
    gauge("rollout_shadow_percent", "Share of requests mirrored to the candidate.").labels(name).set(state.shadow)
    gauge("rollout_rollback_incomplete", "1 when a rollback could not verify the router at the baseline.").labels(
        name).set(int(state.rollback_incomplete))
    if state.stage_started_at is not None:
        gauge("rollout_time_in_stage_seconds", "Seconds since the current stage began.").labels(name).set(
            (now - state.stage_started_at).total_seconds())
    verdict = gauge("rollout_last_verdict", "1 for the last verdict of the current stage, 0 for the others.",
                    ("verdict",))
    for v in VERDICTS:
        verdict.labels(name, v).set(1 if state.last_verdict == v else 0)
    if state.last_evaluated_at is not None:
        gauge("rollout_last_evaluated_timestamp_seconds", "When the stage was last judged (Unix time).").labels(
            name).set(state.last_evaluated_at.timestamp())
    if evaluation is None and store is not None:
        evaluation = latest_evaluation(store, name)
    _checks(gauge, name, evaluation)
    drill = last_passing_drill(drills_on_record(store, name), plan.rollback.digest) if store is not None else None
    if drill is not None:
        gauge("rollout_drill_age_seconds", "Age of the last passing drill of the current rollback section.").labels(
            name).set((now - drill.at).total_seconds())
    return registry


def _checks(gauge: Any, name: str, evaluation: dict[str, Any] | None) -> None:
    labels = ("stage", "metric", "segment")
    estimate = gauge("rollout_guard_estimate", "A guard check's estimate: the candidate's effect on the metric.", labels)
    low = gauge("rollout_guard_interval_low", "Lower bound of the check's confidence interval.", labels)
    high = gauge("rollout_guard_interval_high", "Upper bound of the check's confidence interval.", labels)
    outcome = gauge("rollout_guard_outcome", "1 for the check's outcome, 0 for the others.", (*labels, "outcome"))
    for check in (evaluation or {}).get("checks", []):
        key = (name, str((evaluation or {}).get("stage", "")), str(check.get("metric")), _segment(check))
        if check.get("effect") is not None:
            estimate.labels(*key).set(float(check["effect"]))
        if check.get("interval"):
            low.labels(*key).set(float(check["interval"][0]))
            high.labels(*key).set(float(check["interval"][1]))
        for o in OUTCOMES:
            outcome.labels(*key, o).set(1 if check.get("outcome") == o else 0)


def write_textfile(path: Path, registry: Any) -> None:
    """Write for the node exporter's textfile collector: a temporary file renamed into place."""
    from prometheus_client import write_to_textfile

    write_to_textfile(str(path), registry)


class MetricsServer:
    """An HTTP /metrics endpoint on 127.0.0.1 whose registry the run loop replaces after each tick."""

    def __init__(self, port: int) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        self._lock = threading.Lock()
        self._current: Any = CollectorRegistry()
        server = self

        class Swappable:
            def collect(self) -> Any:
                with server._lock:
                    return list(server._current.collect())

        self.registry = CollectorRegistry()
        self.registry.register(Swappable())  # type: ignore[arg-type]
        self.http, self.thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        self.port = int(self.http.server_address[1])

    def update(self, registry: Any) -> None:
        with self._lock:
            self._current = registry

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def serve(port: int) -> MetricsServer:
    return MetricsServer(port)
