"""`rollout evaluate PLAN` (judge a stage now, change nothing) and `rollout simulate PLAN` (synthetic logs)."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from rollout_cli.cli import output
from rollout_cli.cli.options import JsonOpt, PlanArg, StateDirOpt
from rollout_cli.cli.output import print_json
from rollout_cli.cli.window import EXIT_FOR, SinceOpt, UntilOpt, parse_moment, window_end
from rollout_cli.errors import UsageError
from rollout_cli.evaluation.verdict import Evaluation
from rollout_cli.plan.model import Plan, Stage
from rollout_cli.routers.base import RouterSplit
from rollout_cli.units import MAX_DURATION_S, parse_duration


def _stage_from_state(plan: Plan, state_dir: str | None) -> tuple[Stage, datetime | None, RouterSplit] | None:
    """The running rollout's stage, judged-window start and split — only when its state already exists
    (found from the plan, state/location.py; never created here)."""
    from rollout_cli.state.locate import existing_store
    from rollout_cli.transitions.controller import judged_since

    store = existing_store(state_dir, plan)
    if store is None:
        return None
    try:
        state = store.get(plan.name)
    finally:
        store.close()
    if state is None or state.stage is None or state.is_terminal:
        return None
    return plan.stage(state.stage), judged_since(plan, state), state.split


def complete_stage(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of --stage: the stage names of the plan given on the command line."""
    from rollout_cli.plan import load_plan

    # While the option's own value is being typed, click leaves the plan among the unparsed args.
    plan = ctx.params.get("plan") or next((a for a in ctx.args if a.endswith((".yaml", ".yml"))), None)
    try:
        names = [stage.name for stage in load_plan(plan).stages] if plan else []
    except Exception:  # noqa: BLE001 - completion must never print an error into the shell
        return []
    return [name for name in names if name.startswith(incomplete)]


def _keep(plan: Plan, evaluation: Evaluation, state_dir: str | None, now: datetime) -> None:
    """A person's evaluation joins the evaluation history when the plan's state exists (none is created):
    a SQLite state folder that exists, or a PostgreSQL store that holds the plan's rollout. The actor is
    the store's (self-asserted on SQLite, the authenticated role on PostgreSQL; docs/team.md)."""
    from rollout_cli.errors import RolloutError
    from rollout_cli.state.locate import existing_store

    try:
        store = existing_store(state_dir, plan)
        if store is None:
            return
        from rollout_cli.transitions.history import keep_evaluation

        try:
            if store.kind == "postgresql" and store.get(plan.name) is None:
                return  # a shared store holds many plans: this one has no rollout there
            keep_evaluation(store, plan, evaluation, actor=store.actor(None), source="evaluate", at=now)
        finally:
            store.close()
    except RolloutError as error:  # the verdict still stands; say it was not kept
        output.err_console.print(f"warning: the evaluation was not kept in the history: {error.message}", markup=False,
                          soft_wrap=True)


StageOpt = Annotated[
    str | None,
    typer.Option("--stage", help="Stage to judge \\[default: the running one, else the first].",
                 autocompletion=complete_stage),
]


FullOpt = Annotated[
    bool,
    typer.Option("--full", help="Read every log file, not the evaluation cache beside the state "
                 "(used unless ROLLOUT_EVALUATION_CACHE=0; docs/incremental.md)."),
]


def _cache_dir(plan: Plan, state_dir: str | None) -> Path | None:
    """The state folder when the plan's local state exists: the evaluation cache lives there."""
    from rollout_cli.state.location import is_url, locate

    if is_url(state_dir):
        return None
    where = locate(plan, Path(state_dir) if state_dir else None)
    if not where.exists():
        return None
    from rollout_cli.logcache import cache_enabled

    return where.directory if cache_enabled() else None


def evaluate(plan: PlanArg, stage: StageOpt = None, since: SinceOpt = None, until: UntilOpt = None,
             state_dir: StateDirOpt = None, full: FullOpt = False, json_out: JsonOpt = False) -> None:
    """Judge a stage from the logs now and change nothing. Exit 0 pass, 1 fail, 3 inconclusive, 2 bad input.

    Without a running rollout the planned split comes from the stage (--stage, else the first stage)
    and the window is all data up to now. ROLLOUT_NOW pins "now" (simulated time). When the plan's
    state exists, log files read before come from its evaluation cache (--full, or
    ROLLOUT_EVALUATION_CACHE=0, reads them all again).
    Example: rollout evaluate plans/ranker-v42.yaml --stage canary --since 2h --json
    """
    from rollout_cli.evaluation.stage import evaluate_stage
    from rollout_cli.plan import load_plan
    from rollout_cli.state.clock import utc_now

    loaded = load_plan(plan)
    now = utc_now()
    split: RouterSplit | None = None
    start: datetime | None = None
    if stage is not None:
        try:
            chosen = loaded.stage(stage)
        except KeyError as error:
            raise UsageError(str(error.args[0])) from None
    else:
        running = _stage_from_state(loaded, state_dir)
        chosen, start, split = running if running else (loaded.stages[0], None, None)
    window_since = parse_moment(since, now, "--since") if since else start
    window_until, capped = window_end(until, now)
    if capped and not json_out:
        output.err_console.print(f"note: {capped}", markup=False)
    evaluation = evaluate_stage(loaded, chosen, since=window_since, until=window_until, now=now, split=split,
                                cache_dir=_cache_dir(loaded, state_dir), full=full)
    if evaluation.cache is not None and evaluation.cache.note and not json_out:
        output.err_console.print(f"note: {evaluation.cache.note}", markup=False)
    if loaded.drift.enabled:  # shown beside the verdict; drift never changes it (docs/plan.md `drift`)
        from rollout_cli.drift.run import check_drift

        evaluation = replace(evaluation, drift=check_drift(loaded, window_until or now))
    _keep(loaded, evaluation, state_dir, now)
    if json_out:
        print_json(evaluation.to_json())
    else:
        from rollout_cli.cli.evaluate_view import print_evaluation

        print_evaluation(evaluation)
    code = EXIT_FOR[evaluation.verdict]
    if code:
        raise typer.Exit(int(code))


def _segment_effect(value: str | None) -> tuple[str, str, float] | None:
    if value is None:
        return None
    try:
        where, change = value.rsplit(":", 1)
        segment, segment_value = where.split("=", 1)
        return segment, segment_value, float(change)
    except ValueError:
        raise UsageError(f"--segment-effect: {value!r} is not SEGMENT=VALUE:CHANGE (e.g. platform=ios:-0.3)") \
            from None


OutOpt = Annotated[Path | None, typer.Option("--out", help="Directory to write predictions/outcomes/training parquet "
                                             "into \\[default: where the plan's data globs read them].")]
ScenarioOpt = Annotated[
    str,
    typer.Option("--scenario", help="healthy, harm, segment-harm, srm, slow, shadow-disagree, stale, drift, "
                 "crossover; for `rollout shadow`: shadow-healthy, shadow-segment, shadow-shift, shadow-load, "
                 "shadow-missing, shadow-unusual, shadow-labels."),
]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Random seed (same seed, same logs).")]
UnitsOpt = Annotated[int | None, typer.Option("--units", min=1, help="Units (users) to simulate.")]
DurationOpt = Annotated[str | None, typer.Option("--duration", help="Time range length (e.g. 6h).")]
StartOpt = Annotated[str | None, typer.Option("--start", help="Start of the range (ISO time).")]
SimStageOpt = Annotated[
    str | None,
    typer.Option("--stage", help="Take the shares from this stage \\[default: first traffic stage].",
                 autocompletion=complete_stage),
]
CandidateOpt = Annotated[float | None, typer.Option("--candidate", min=0, max=100,
                                                    help="Percent of units served by the candidate.")]
ShadowOpt = Annotated[float | None, typer.Option("--shadow", min=0, max=100,
                                                 help="Percent of requests mirrored to the candidate.")]
EffectOpt = Annotated[float | None, typer.Option("--effect", help="Relative change of candidate conversion (-0.2).")]
SegmentEffectOpt = Annotated[
    str | None,
    typer.Option("--segment-effect", help="SEGMENT=VALUE:CHANGE, e.g. platform=ios:-0.3."),
]
SrmOpt = Annotated[float | None, typer.Option("--srm", min=0, max=1, help="Share of candidate units lost from the logs.")]
LatencyOpt = Annotated[float | None, typer.Option("--latency-shift", help="Relative change of candidate latency.")]
DisagreeOpt = Annotated[
    float | None,
    typer.Option("--shadow-disagreement", min=0, max=1, help="Share of shadow answers that disagree."),
]
StaleOpt = Annotated[str | None, typer.Option("--stale", help="No rows in this last part of the range (e.g. 2h).")]
DriftOpt = Annotated[float | None, typer.Option("--drift", help="Feature shift in standard deviations.")]
PartOpt = Annotated[str, typer.Option("--part", help="Suffix for the file names (append a stage: --part -canary): "
                                       "letters, digits, '-', '_' and '.'.")]
_PART = re.compile(r"[A-Za-z0-9._-]*")


def _checked_knobs(numbers: dict[str, float | None], durations: dict[str, str | None], part: str) -> None:
    """UsageError for what typer's ranges do not catch: NaN or infinity, a duration beyond 100 years
    (no date holds it), a --part that would leave the folder (before anything is written)."""
    for option, number in numbers.items():
        if number is not None and not math.isfinite(number):
            raise UsageError(f"{option} {number}: give a number")
    for option, text in durations.items():
        try:
            seconds = parse_duration(text) if text else 0
        except ValueError as error:
            raise UsageError(f"{option} {text}: {error}") from None
        if seconds > MAX_DURATION_S:
            raise UsageError(f"{option} {text}: at most 100 years")
    if not _PART.fullmatch(part) or ".." in part:
        raise UsageError(f"--part {part!r}: a file name suffix takes letters, digits, '-', '_' and '.' (not '..')")


def simulate(plan: PlanArg, out: OutOpt = None, scenario: ScenarioOpt = "healthy", seed: SeedOpt = 1,
             units: UnitsOpt = None, duration: DurationOpt = None, start: StartOpt = None,
             stage: SimStageOpt = None, candidate: CandidateOpt = None, shadow: ShadowOpt = None,
             effect: EffectOpt = None, segment_effect: SegmentEffectOpt = None, srm: SrmOpt = None,
             latency_shift: LatencyOpt = None, shadow_disagreement: DisagreeOpt = None, stale: StaleOpt = None,
             drift: DriftOpt = None, part: PartOpt = "", json_out: JsonOpt = False) -> None:
    """Write realistic synthetic logs for a plan (for demos, tests and benchmarks).

    The logs end now (ROLLOUT_NOW when set) unless --start says otherwise, so `evaluate` right after
    sees fresh data; without --out they go where the plan reads them.
    Example: rollout simulate plans/ranker-v42.yaml --scenario segment-harm --units 50000
    """
    from rollout_cli.plan import load_plan
    from rollout_cli.sim.logs import scenario_named, simulate_stage
    from rollout_cli.state.clock import parse_time, utc_now

    _checked_knobs({"--candidate": candidate, "--shadow": shadow, "--effect": effect, "--srm": srm,
                    "--latency-shift": latency_shift, "--shadow-disagreement": shadow_disagreement, "--drift": drift},
                   {"--duration": duration, "--stale": stale}, part)
    loaded = load_plan(plan)
    try:
        overrides: dict[str, Any] = {
            "units": units, "stage": stage, "candidate_pct": candidate, "shadow_pct": shadow, "effect": effect,
            "segment_effect": _segment_effect(segment_effect), "srm": srm, "latency_shift": latency_shift,
            "shadow_disagreement": shadow_disagreement, "drift": drift,
            "duration_s": parse_duration(duration) if duration else None,
            "stale_s": parse_duration(stale) if stale else None,
            "start": parse_time(start) if start else None,
        }
    except ValueError as error:
        raise UsageError(str(error)) from None
    if scenario.startswith("shadow-") and scenario != "shadow-disagree":  # the shadow comparison's scenarios
        from rollout_cli.sim.shadow_logs import shadow_scenario, simulate_shadow

        if out is None:
            raise UsageError("the shadow scenarios need --out DIR")
        logs = simulate_shadow(loaded, out, seed=seed, scenario=shadow_scenario(
            loaded, scenario, units=units, duration_s=overrides["duration_s"], start=overrides["start"]))
    else:
        chosen = scenario_named(scenario, **overrides)
        if start is None:  # end the logs now: a default date in the past reads as stale at once
            chosen = replace(chosen, start=(utc_now() - timedelta(seconds=chosen.duration_s)).replace(microsecond=0))
        if out is None:
            from rollout_cli.sim.layout import simulate_into_plan

            logs = simulate_into_plan(loaded, scenario=chosen, seed=seed, part=part)
        else:
            logs = simulate_stage(loaded, out, scenario=chosen, seed=seed, part=part)
    doc = {"predictions": str(logs.predictions), "outcomes": str(logs.outcomes),
           "training": str(logs.training) if logs.training else None, "start": logs.start.isoformat(),
           "end": logs.end.isoformat(), "units": logs.units, "rows": logs.rows, "scenario": scenario, "seed": seed}
    if json_out:
        print_json(doc)
        return
    output.console.print(f"wrote {logs.rows.get('predictions', 0)} predictions and {logs.rows.get('outcomes', 0)} outcomes "
                  f"({logs.units.get('baseline', 0)} baseline / {logs.units.get('candidate', 0)} candidate units) "
                  f"for {doc['start']} .. {doc['end']} into {out or logs.predictions.parent}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
    app.command("simulate")(simulate)


def fast_path(args: list[str]) -> int | None:
    """A controller's `rollout evaluate PLAN --stage S --json` without typer's parameter coercion
    (cli/plain_args.py); any other line goes through typer."""
    from rollout_cli.cli.plain_args import call_plain

    return call_plain({"evaluate": evaluate}, args)
