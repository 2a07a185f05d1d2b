"""Rules for metrics counted in Prometheus (`source: prometheus`, docs/data.md).

Form only: the server is never contacted and no `${env:…}` is looked up at validation.
"""

from __future__ import annotations

from rollout_cli.plan.load import child_path
from rollout_cli.plan.rules_common import RuleContext, as_mapping, guard_lists
from rollout_cli.secrets import is_reference


def _prometheus_metrics(ctx: RuleContext) -> set[str]:
    return {str(name) for name, m in ctx.section("metrics").items() if as_mapping(m).get("source") == "prometheus"}


def rule_prometheus(ctx: RuleContext) -> None:
    counted = _prometheus_metrics(ctx)
    for name in counted:
        url = as_mapping(as_mapping(ctx.section("metrics")[name]).get("prometheus")).get("url")
        if isinstance(url, str) and not is_reference(url) and not url.startswith(("http://", "https://")):
            ctx.report(child_path(child_path("$.metrics", name), "prometheus") + ".url",
                       f"{url!r} is not an http:// or https:// URL (or a ${{env:NAME}} reference)")
    for list_path, guards, _ in guard_lists(ctx):
        for j, guard in enumerate(guards):
            guard = as_mapping(guard)
            if guard.get("metric") in counted and guard.get("per_segment"):
                ctx.report(f"{list_path}[{j}].per_segment",
                           f"{guard['metric']!r} is counted in Prometheus, per arm only: it cannot be judged per "
                           "segment (the logs' segments are not Prometheus labels)")
