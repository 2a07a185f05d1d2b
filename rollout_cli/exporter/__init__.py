"""The rollout's own state as Prometheus metrics, for dashboards and alert rules.

Contract:
    collect(plan, store, now, evaluation=None) -> CollectorRegistry
    write_textfile(path, registry)            # node exporter's textfile collector (atomic rename)
    serve(port) -> MetricsServer              # `rollout run --metrics-port N`, on 127.0.0.1

Gauges (every one labelled `plan`): stage index and name, status, the split, time in stage,
rollback incomplete, the last verdict and when it was reached, each guard check's estimate
(the candidate-minus-baseline effect) with its interval bounds and outcome, and the age of the
last passing drill of the current rollback section. The checks come from `evaluation` when the
caller has it (the run loop), else from the newest evaluation recorded in the audit trail.
docs/team.md lists every metric with an alert rule example.
"""

from __future__ import annotations

from rollout_cli.exporter.gauges import MetricsServer, collect, serve, write_textfile

__all__ = ["MetricsServer", "collect", "serve", "write_textfile"]
