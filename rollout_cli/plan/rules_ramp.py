"""Rules of the ramp (docs/plan.md): stage order and shares, gates, and guards that fit their metric."""

from __future__ import annotations

from typing import Any

from rollout_cli.plan.rules_common import (
    RuleContext,
    as_list,
    as_mapping,
    counts_events,
    guard_lists,
    metric_kind,
    metric_names,
    parsed,
)
from rollout_cli.plan.suggest import Vocabulary
from rollout_cli.units import format_duration, format_share, parse_duration, parse_share, parse_threshold

RELATIVE_KINDS = ("proportion", "mean", "quantile")
SHADOW_KINDS = ("agreement", "coverage", "score_shift")  # judged on paired shadow answers only


def _share(stage: dict[str, Any], key: str) -> float | None:
    return parsed(parse_share, stage.get(key, 0))


def rule_stages(ctx: RuleContext) -> None:
    stages = [as_mapping(s) for s in as_list(ctx.root.get("stages"))]
    if not stages:
        return
    seen_names: dict[str, int] = {}
    last_traffic: tuple[float, str] | None = None  # share and name of the latest traffic stage
    seen_shadow = False
    for i, stage in enumerate(stages):
        path = f"$.stages[{i}]"
        name = stage.get("name")
        label = f"stage {name!r}" if isinstance(name, str) else f"stage {i + 1}"
        if isinstance(name, str):
            if name in seen_names:
                ctx.report(f"{path}.name", f"stage name {name!r} is already used by stage {seen_names[name] + 1}")
            seen_names.setdefault(name, i)
        if stage.get("final") is True and i != len(stages) - 1:
            ctx.report(f"{path}.final", f"only the last stage may be final; {label} is followed by more stages")
        traffic, shadow = _share(stage, "traffic"), _share(stage, "shadow")
        if traffic is None or shadow is None:
            continue  # the schema reported the share
        if traffic == 0 and shadow == 0:
            ctx.report(
                path,
                f"{label} sends nothing to the candidate: give it traffic (a share served) or shadow (a share mirrored)",
            )
            continue
        if traffic == 0:
            seen_shadow = True
            if last_traffic is not None:
                ctx.report(
                    path,
                    f"shadow {label} comes after traffic stage {last_traffic[1]!r}; "
                    "shadow stages come before any traffic",
                )
            continue
        if last_traffic is None and not seen_shadow:
            ctx.report(
                f"{path}.traffic",
                f"{label} serves {format_share(traffic)} of traffic with no shadow stage before it; start with a "
                "shadow stage (e.g. shadow: 100%) so the candidate answers real requests before it serves any",
            )
        if last_traffic is not None and traffic <= last_traffic[0]:
            ctx.report(
                f"{path}.traffic",
                f"traffic {format_share(traffic)} does not rise above {format_share(last_traffic[0])} of "
                f"stage {last_traffic[1]!r}; shares must rise stage by stage",
            )
        last_traffic = (traffic, name if isinstance(name, str) else f"{i + 1}")
    _rule_ending(ctx, stages)
    _rule_gates(ctx, stages)


def _rule_ending(ctx: RuleContext, stages: list[dict[str, Any]]) -> None:
    last, path = stages[-1], f"$.stages[{len(stages) - 1}]"
    if last.get("final") is True:
        return
    traffic, shadow = _share(last, "traffic"), _share(last, "shadow")
    if traffic is None or shadow is None or (traffic == 0 and shadow == 0):
        return
    if traffic == 0:
        ctx.report(
            path,
            "the plan never serves the candidate: add traffic stages up to 100%, or mark the last stage final: true",
        )
    elif traffic != 100:
        ctx.report(
            f"{path}.traffic",
            f"the last stage serves {format_share(traffic)}, not 100%; end the ramp at 100% "
            "or mark the last stage final: true",
        )


def _rule_gates(ctx: RuleContext, stages: list[dict[str, Any]]) -> None:
    raw_plan_guards = ctx.root.get("guards", [])
    plan_guards = as_list(raw_plan_guards)
    approvers = ctx.section("rollback").get("approvers")
    max_duration = parsed(parse_duration, ctx.section("decision").get("max_duration"))
    for i, stage in enumerate(stages):
        path, name = f"$.stages[{i}]", stage.get("name", i + 1)
        traffic = _share(stage, "traffic")
        raw_guards = stage.get("guards", raw_plan_guards)
        if raw_guards == [] or raw_guards is None:
            ctx.report(
                path, f"stage {name!r} has no guards, so nothing could make it fail; add guards to it or to the plan"
            )
        if traffic == 0 and "guards" not in stage:
            outcome_metrics = [
                str(as_mapping(g).get("metric")) for g in plan_guards if counts_events(ctx, as_mapping(g).get("metric"))
            ]
            if outcome_metrics:
                verb = "counts" if len(outcome_metrics) == 1 else "count"
                ctx.report(
                    path,
                    f"shadow stage {name!r} uses the plan's guards, but {', '.join(map(repr, outcome_metrics))} "
                    f"{verb} user outcomes, which shadow answers never cause; give the stage its own guards",
                )
        if stage.get("approval") == "required" and (approvers is None or approvers == []):
            ctx.report(
                f"{path}.approval",
                f"stage {name!r} requires approval, but rollback.approvers names nobody who could give it",
            )
        min_duration = parsed(parse_duration, stage.get("min_duration", 0))
        own = parsed(parse_duration, stage.get("max_duration")) if "max_duration" in stage else None
        limit, where = (own, "its max_duration") if own is not None else (max_duration, "decision.max_duration")
        if limit is not None and min_duration is not None and min_duration > limit:
            ctx.report(
                f"{path}.min_duration",
                f"min_duration {format_duration(min_duration)} is longer than {where} "
                f"{format_duration(limit)}, so the stage would time out before it could pass",
            )


def rule_guards(ctx: RuleContext) -> None:
    names = Vocabulary(metric_names(ctx))  # built once: many guards may name unknown metrics
    has_segments = bool(as_list(ctx.root.get("segments")))
    stages = as_list(ctx.root.get("stages"))
    for list_path, guards, stage_index in guard_lists(ctx):
        stage = as_mapping(stages[stage_index]) if stage_index is not None else {}
        in_shadow = stage_index is not None and _share(stage, "traffic") == 0
        for j, guard in enumerate(guards):
            if not isinstance(guard, dict):
                continue
            path = f"{list_path}[{j}]"
            metric = guard.get("metric")
            if not isinstance(metric, str):
                continue
            if metric not in names:
                ctx.report(f"{path}.metric", f"unknown metric {metric!r}{names.hint(metric)}")
                continue
            _rule_guard_fits_kind(ctx, path, guard, metric, metric_kind(ctx, metric))
            if metric_kind(ctx, metric) in SHADOW_KINDS and not in_shadow:
                where = (
                    "plan-level guards apply to traffic stages; move it into the shadow stage's guards"
                    if stage_index is None
                    else f"stage {stage.get('name')!r} serves traffic"
                )
                kind_words = {"agreement": "an agreement", "coverage": "a coverage", "score_shift": "a score_shift"}
                ctx.report(
                    f"{path}.metric",
                    f"{metric!r} is {kind_words[str(metric_kind(ctx, metric))]} metric, which exists only in shadow "
                    f"stages; {where}",
                )
            if in_shadow and counts_events(ctx, metric):
                ctx.report(
                    f"{path}.metric",
                    f"{metric!r} counts user outcomes, which shadow answers never cause; "
                    "a shadow stage can guard latency, errors and agreement",
                )
            if guard.get("per_segment") is True and not has_segments:
                ctx.report(f"{path}.per_segment", "per_segment needs segments, and the plan lists none")


def _rule_guard_fits_kind(ctx: RuleContext, path: str, guard: dict[str, Any], metric: str, kind: str | None) -> None:
    if kind in ("agreement", "coverage"):
        for key in ("max_drop", "max_increase", "max"):
            if key in guard:
                ctx.report(
                    f"{path}.{key}", f"{'an' if kind == 'agreement' else 'a'} {kind} guard takes min (e.g. min: 90%); "
                    f"{key} does not apply to {metric!r}"
                )
    elif kind == "score_shift":
        for key in ("max_drop", "max_increase", "min"):
            if key in guard:
                ctx.report(f"{path}.{key}", f"a score_shift guard takes max (e.g. max: 0.1); {key} does not apply "
                                            f"to {metric!r}")
    elif kind == "quantile" and "min" in guard:
        ctx.report(
            f"{path}.min", f"a quantile guard takes max, max_increase or max_drop; min does not apply to {metric!r}"
        )
    if kind not in RELATIVE_KINDS and kind not in ("agreement", "coverage", "score_shift"):
        return
    low = parsed(parse_threshold, guard["min"]) if "min" in guard else None
    high = parsed(parse_threshold, guard["max"]) if "max" in guard else None
    if kind == "score_shift" and high is not None and high <= 0:
        ctx.report(f"{path}.max", f"{metric!r} is a PSI; its max must be above 0 (e.g. 0.1), not {guard['max']!r}")
    if kind in ("proportion", "agreement", "coverage"):
        for key, bound in (("min", low), ("max", high)):
            if bound is not None and not 0 <= bound <= 1:
                ctx.report(
                    f"{path}.{key}",
                    f"{metric!r} is a share between 0% and 100%; {guard[key]!r} is not "
                    + (f"(write e.g. {guard[key]}% or a fraction such as 0.05)" if _means_percent(guard[key])
                       else "(write a share such as 5% or 0.05)"),
                )
    if low is not None and high is not None and low > high:
        ctx.report(path, f"min {guard['min']!r} is above max {guard['max']!r}; no value could pass")


def _means_percent(value: object) -> bool:
    """A bare number such as 5 where a share goes: the person likely meant 5%."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 1 < value <= 100
