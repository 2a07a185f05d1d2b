"""Guard metrics counted in Prometheus (`source: prometheus`), judged like the logs' counts.

Contract of `add_prometheus_counts(plan, needs, agg, since=, until=)`: for every guard metric of
the stage with a `prometheus` source, read each arm's count of events and of requests over the
judged window, at its end (data/prometheus.py), and put them into the whole population's cells
as the sums a proportion of requests has in the logs — n = Σy = requests, Σx = Σx² = Σxy =
events — so judge.py judges them with the same always-valid interval, Bernoulli variance floor,
min_units_per_check and Holm as any other share of requests (docs/statistics.md). Returns the
reasons that hold the stage: a server that does not answer, an empty vector, more events than
requests. A metric with a reason gets no sums, so its checks are inconclusive: never a pass.

Requests are the units here: Prometheus keeps no unit ids, so requests of one user are counted
as independent (docs/data.md says what that means for the interval).
"""

from __future__ import annotations

from datetime import UTC, datetime

from rollout_cli.data.prometheus import PrometheusUnavailable, Server, read_count
from rollout_cli.data.queries import Aggregates, Sums
from rollout_cli.evaluation.needs import StageNeeds
from rollout_cli.plan.model import Metric, Plan

ARMS = ("baseline", "candidate")


def add_prometheus_counts(plan: Plan, needs: StageNeeds, agg: Aggregates, *, since: datetime,
                          until: datetime) -> list[str]:
    """Fill `agg` with the stage's Prometheus counts; the reasons to hold (see the module contract)."""
    metrics = list({g.metric.name: g.metric for g in needs.guards if g.metric.prometheus is not None}.values())
    at = until.replace(tzinfo=UTC) if until.tzinfo is None else until
    window_s = max(0.0, (until - since).total_seconds())
    reasons = []
    for metric in metrics:
        try:
            counts = {arm: _arm_counts(metric, arm, at, window_s) for arm in ARMS}
        except PrometheusUnavailable as exc:
            reasons.append(f"{metric.name} (Prometheus): {exc}; not judged")
            continue
        for arm, (events, requests) in counts.items():
            agg.cell(None, arm).sums[metric.name] = Sums(n=round(requests), sum_x=events, sum_y=requests,
                                                         sum_xx=events, sum_yy=requests, sum_xy=events)
    return reasons


def _arm_counts(metric: Metric, arm: str, at: datetime, window_s: float) -> tuple[float, float]:
    source = metric.prometheus
    assert source is not None
    server = Server(source.url, source.token)
    count, total = source.queries(arm)
    events = read_count(server, count, at=at, window_s=window_s)
    requests = read_count(server, total, at=at, window_s=window_s)
    if requests == 0:
        raise PrometheusUnavailable(f"no data: the {arm} has no requests counted in the window")
    if events > requests:
        raise PrometheusUnavailable(f"the {arm} has {events:g} events counted among {requests:g} requests; the count "
                                    "query must select a subset of the total query")
    return events, requests
