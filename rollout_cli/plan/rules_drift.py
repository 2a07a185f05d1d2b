"""Rules of the `drift` section the schema cannot express (docs/plan.md, `drift`)."""

from __future__ import annotations

from typing import Any

from rollout_cli.plan.model import PREDICTION_ROLES
from rollout_cli.plan.rules_common import RuleContext, as_list, as_mapping, parsed
from rollout_cli.units import format_duration, parse_duration

MIN_WINDOW_S = 60.0  # shorter windows hold too few rows to say anything, and tick far too often


def _feature_name(feature: Any) -> str | None:
    name = feature.get("name") if isinstance(feature, dict) else feature
    return name if isinstance(name, str) else None


def rule_drift(ctx: RuleContext) -> None:
    drift = ctx.section("drift")
    if not drift:
        return
    data = ctx.section("data")
    columns = as_mapping(data.get("columns"))
    roles = {str(columns.get(role, role)): role for role in PREDICTION_ROLES}
    features = as_list(drift.get("features"))
    seen: set[str] = set()
    for i, feature in enumerate(features):
        name = _feature_name(feature)
        if name is None:
            continue
        if name in seen:
            ctx.report(f"$.drift.features[{i}]", f"feature {name!r} is listed twice")
        seen.add(name)
        if name in roles:
            hint = "; track it with outputs: true" if roles[name] == "prediction" else ""
            ctx.report(f"$.drift.features[{i}]", f"feature {name!r} is the {roles[name]} column, not an input{hint}")
    reference = drift.get("reference", "training")
    if features and reference == "training" and "training" not in data:
        ctx.report("$.drift.features",
                   "drift.features needs data.training, the reference the features are compared with")
    checks_something = bool(features) or drift.get("outputs") is True
    for key in ("monitor_for", "on_drift", "window"):
        if key in drift and not checks_something:
            ctx.report(f"$.drift.{key}", f"drift.{key} needs something to check: features, or outputs: true")
    window = parsed(parse_duration, drift.get("window")) if "window" in drift else None
    if window is not None and window < MIN_WINDOW_S:
        ctx.report("$.drift.window", f"drift.window {drift['window']!r} is shorter than "
                   f"{format_duration(MIN_WINDOW_S)}; windows that short hold too few rows to judge")
    monitor = parsed(parse_duration, drift.get("monitor_for")) if "monitor_for" in drift else None
    if monitor is not None and monitor < (window or 3600.0):
        ctx.report("$.drift.monitor_for", f"drift.monitor_for {drift['monitor_for']!r} is shorter than one window")
    first = as_mapping(reference).get("baseline_first")
    first_s = parsed(parse_duration, first) if first is not None else None
    if first_s is not None and first_s < (window or 3600.0):
        ctx.report("$.drift.reference.baseline_first", "the reference must span at least one drift.window")
