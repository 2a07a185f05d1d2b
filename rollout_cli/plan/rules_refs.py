"""Rules about references and safety (docs/plan.md): metrics and their data, column roles, the
router adapter, people and teams, rollback steps, and numbers no command could use (secrets
have their own module, rules_secrets).

Nothing here reads an environment variable, a file named by the plan, or the network; the
router adapter is looked up by name among the built-ins and the installed entry points,
without importing any plugin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from rollout_cli.plan.load import child_path
from rollout_cli.plan.model import OUTCOME_ROLES, PREDICTION_ROLES
from rollout_cli.plan.rules_common import RuleContext, as_list, as_mapping, leaves, parsed
from rollout_cli.plan.suggest import Vocabulary, did_you_mean
from rollout_cli.routers.base import RouterSplit
from rollout_cli.routers.registry import BUILTIN_ROUTERS, known_adapters, options_problems, split_problems
from rollout_cli.secrets import is_reference, malformed_references
from rollout_cli.units import MAX_DURATION_S, finite, format_duration, parse_duration, parse_fraction, parse_share

_UNIT_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[smhdw%]\s*$")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

# Keys that make sense for each metric kind besides `kind` (the schema knows the union).
_KIND_KEYS = {
    "proportion": {"event", "column", "window"},
    "mean": {"event", "column", "window", "cap"},
    "quantile": {"column", "q"},
    "agreement": {"tolerance"},
    "coverage": {"timeout"},
    "score_shift": set(),
}


def rule_metrics(ctx: RuleContext) -> None:
    has_outcomes = "outcomes" in ctx.section("data")
    for name, metric in ctx.section("metrics").items():
        if not isinstance(metric, dict):
            continue
        path = child_path("$.metrics", str(name))
        kind = metric.get("kind")
        allowed = _KIND_KEYS.get(kind) if isinstance(kind, str) else None
        if isinstance(kind, str) and allowed is not None:
            takes = ", ".join(sorted(allowed))
            for key in metric:
                if key != "kind" and key not in allowed and key in {"event", "column", "window", "q", "tolerance", "cap",
                                                                     "timeout"}:
                    said = f"it takes: {takes}" if takes else "it takes nothing besides kind"
                    message = f"{key!r} does not apply to {_article(kind)} {kind} metric ({said})"
                    ctx.report(child_path(path, key), message, key=True)
        if "window" in metric and "column" in metric and "event" not in metric and kind in ("proportion", "mean"):
            ctx.report(
                f"{path}.window",
                "window applies to outcome events (counted after a unit is served); a column metric reads the prediction log",
                key=True,
            )
        if "event" in metric and not has_outcomes:
            ctx.report(f"{path}.event", f"{name!r} counts outcome events, but data.outcomes is not set")


def _effective_columns(ctx: RuleContext) -> dict[str, str]:
    columns = {role: role for role in PREDICTION_ROLES + OUTCOME_ROLES}
    for role, column in as_mapping(ctx.section("data").get("columns")).items():
        if isinstance(column, str) and role in columns:
            columns[role] = column
    return columns


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def rule_data(ctx: RuleContext) -> None:
    data = ctx.section("data")
    for source in ("predictions", "outcomes", "training"):
        value = data.get(source)
        target = value if isinstance(value, str) else as_mapping(value).get("database")
        # Spark reads where the data is (s3a://, abfss://, hdfs://): the cluster opens them, not rollout
        if isinstance(target, str) and _URL_SCHEME.match(target) and data.get("engine") != "spark":
            ctx.report(
                f"$.data.{source}",
                f"data sources are local files; {target!r} is a URL (rollout never reads the network)",
            )
    columns = _effective_columns(ctx)
    written = list(as_mapping(data.get("columns")))
    clashes: dict[tuple[str, str, str], list[str]] = {}  # (role, role, column) -> tables
    for table, roles in (("predictions", PREDICTION_ROLES), ("outcomes", OUTCOME_ROLES)):
        owner: dict[str, str] = {}
        for role in roles:
            first = owner.setdefault(columns[role], role)
            if first != role:
                pair = tuple(sorted((first, role), key=lambda r: written.index(r) if r in written else -1))
                clashes.setdefault((pair[0], pair[1], columns[role]), []).append(table)
    for (first, second, column), tables in clashes.items():
        ctx.report(
            f"$.data.columns.{second}",
            f"roles {first} and {second} both read column {column!r} of {' and '.join(tables)}; "
            "each role needs its own column",
        )
    role_of = {columns[role]: role for role in PREDICTION_ROLES}
    for i, segment in enumerate(as_list(ctx.root.get("segments"))):
        if isinstance(segment, str) and segment in role_of:
            ctx.report(
                f"$.segments[{i}]",
                f"segment {segment!r} is the {role_of[segment]} column; segment by attributes such as country or platform",
            )


def rule_router(ctx: RuleContext) -> None:
    router = ctx.section("router")
    adapter = router.get("adapter")
    if not isinstance(adapter, str):
        return
    if adapter in BUILTIN_ROUTERS:
        options = router.get("options", {})
        reported = any(p.path.startswith("$.router.options") for p in ctx.problems)
        if isinstance(options, dict) and not reported:  # the schema reports any other type
            # Building a built-in router only reads its options: no file, socket, network or secret.
            where = "$.router.options" if "options" in router else "$.router"
            messages = options_problems(adapter, options)
            for message in messages:
                ctx.report(where, message)
            if isinstance(options, dict) and not reported and not messages:
                _rule_stage_splits(ctx, adapter, options)
        return
    known = known_adapters()  # reads package metadata only, loads no plugin
    if adapter not in known:
        ctx.report("$.router.adapter", f"unknown router adapter {adapter!r}{did_you_mean(adapter, known)}")


def _rule_stage_splits(ctx: RuleContext, adapter: str, options: dict[str, Any]) -> None:
    """Every stage's split is one the router can serve exactly (HAProxy weights, nginx's two decimals,
    HAProxy shadow without shadow_file) — found now, not mid-rollout."""
    for i, stage in enumerate(as_list(ctx.root.get("stages"))):
        if not isinstance(stage, dict):
            continue
        try:
            split = RouterSplit(parse_share(stage.get("traffic", 0)), parse_share(stage.get("shadow", 0)))
        except (TypeError, ValueError):
            continue  # the share rules report it
        for key, message in split_problems(adapter, options, split).items():
            path = f"$.stages[{i}].{key}" if key in stage else f"$.stages[{i}]"
            ctx.report(path, f"router {adapter}: {message}")


def _rule_people(ctx: RuleContext, key: str, teams: Vocabulary) -> None:
    for i, entry in enumerate(as_list(ctx.section("rollback").get(key))):
        if isinstance(entry, str) and entry.startswith("team:"):
            team = entry[len("team:") :]
            if team not in teams:
                hint = teams.hint(team) if teams.names else " (the plan defines no teams)"
                ctx.report(f"$.rollback.{key}[{i}]", f"team {team!r} is not defined in teams{hint}")


def _is_webhook(value: str) -> bool:
    return is_reference(value) or value.startswith(("http://", "https://"))


def rule_rollback(ctx: RuleContext) -> None:
    teams = Vocabulary(str(name) for name in ctx.section("teams"))  # once: references may be many
    _rule_people(ctx, "authority", teams)
    _rule_people(ctx, "approvers", teams)
    rollback = ctx.section("rollback")
    steps = rollback.get("steps")
    if not isinstance(steps, list) or not steps:
        return
    if not any(isinstance(step, dict) and step.get("route") == "baseline" for step in steps):
        ctx.report("$.rollback.steps", "the steps never send traffic back to the baseline: add `- route: baseline`")
    budget = parsed(parse_duration, rollback.get("max_duration"))
    for i, step in enumerate(steps):
        step = as_mapping(step)
        url = step.get("notify")
        # A malformed reference is reported by rule_secrets; one message per mistake.
        if isinstance(url, str) and not malformed_references(url) and not _is_webhook(url):
            ctx.report(
                f"$.rollback.steps[{i}].notify",
                # Not quoted: a value that is neither may well be the webhook's secret token.
                "notify takes a webhook URL (http:// or https://) or a ${env:NAME} reference; this value is neither",
            )
        timeout = parsed(parse_duration, step.get("timeout")) if "timeout" in step else None
        if timeout is not None and budget is not None and timeout > budget:
            ctx.report(
                f"$.rollback.steps[{i}].timeout",
                f"timeout {format_duration(timeout)} is longer than the whole rollback budget "
                f"(rollback.max_duration {format_duration(budget)})",
            )


def rule_numbers(ctx: RuleContext) -> None:
    """YAML's `.nan` and `.inf`, and numbers too long for a float (`1000…0%`), pass every range
    check of the schema; no plan means them, and the commands that use them cannot."""
    for path, value in _numbers(ctx.doc.data, "$"):
        unit_text = _UNIT_TEXT.match(value) if isinstance(value, str) else None
        try:
            finite(value, float(unit_text.group(1)) if unit_text else value)
        except ValueError as error:
            ctx.report(path, str(error))


def _durations(ctx: RuleContext) -> Iterator[tuple[str, Any]]:
    """(path, value) of every duration the plan writes."""
    for name, metric in ctx.section("metrics").items():
        if isinstance(metric, dict) and "window" in metric:
            yield child_path(child_path("$.metrics", str(name)), "window"), metric["window"]
    for i, stage in enumerate(as_list(ctx.root.get("stages"))):
        if isinstance(stage, dict) and "min_duration" in stage:
            yield f"$.stages[{i}].min_duration", stage["min_duration"]
    for section, keys in (("decision", ("max_duration", "freshness", "settling_time")), ("rollback", ("max_duration", "require_drill"))):
        for key in keys:
            if key in ctx.section(section):
                yield f"$.{section}.{key}", ctx.section(section)[key]
    for i, step in enumerate(as_list(ctx.section("rollback").get("steps"))):
        if isinstance(step, dict) and "timeout" in step:
            yield f"$.rollback.steps[{i}].timeout", step["timeout"]
    for key in ("window", "monitor_for"):
        if key in ctx.section("drift"):
            yield f"$.drift.{key}", ctx.section("drift")[key]


# Durations a plan cannot mean as zero, and what zero would do; a zero `min_duration`, `settling_time`
# or `monitor_for` means "none" and stays allowed.
_NOT_ZERO = {
    "window": "a window of no time holds no rows",
    "max_duration": "the limit would be reached before anything could happen",
    "freshness": "every row would be stale, so every stage would hold",
    "require_drill": "no drill could ever be recent enough, so traffic could never leave shadow",
    "timeout": "the step would time out before it starts",
}


def rule_durations(ctx: RuleContext) -> None:
    for path, value in _durations(ctx):
        seconds = parsed(parse_duration, value)
        if seconds is not None and seconds > MAX_DURATION_S:
            ctx.report(path, f"{value!r} is longer than 100 years; write at most {format_duration(MAX_DURATION_S)}")
        key = path.rsplit(".", 1)[-1]
        if seconds == 0 and key in _NOT_ZERO:
            ctx.report(path, f"{value!r} is no time at all: {_NOT_ZERO[key]}; write a positive duration")


def _numbers(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Numbers, and texts that are a number with a unit ("24h", "5%"), with their paths."""
    for where, leaf in leaves(value, path):
        is_number = isinstance(leaf, (int, float)) and not isinstance(leaf, bool)
        if is_number or (isinstance(leaf, str) and _UNIT_TEXT.match(leaf)):
            yield where, leaf


def rule_basics(ctx: RuleContext) -> None:
    models = ctx.section("models")
    baseline, candidate = models.get("baseline"), models.get("candidate")
    if isinstance(baseline, str) and baseline and baseline == candidate:
        ctx.report("$.models.candidate", f"the candidate and the baseline are the same model ({baseline!r})")
    confidence = ctx.section("decision").get("confidence")
    value = parsed(parse_fraction, confidence) if confidence is not None else None
    if value is not None and not 0.5 <= value < 1:
        ctx.report("$.decision.confidence", f"confidence {confidence!r} must be at least 50% and below 100% (e.g. 95%)")
