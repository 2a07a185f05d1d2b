"""Simulated rollouts of a plan through its real judging and decision logic (see the package contract)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from rollout_cli.data.queries import Aggregates, Sums
from rollout_cli.evaluation.needs import StageNeeds, measure_for, stage_measures
from rollout_cli.evaluation.stage import judge_checks, srm_result, stage_verdict
from rollout_cli.evaluation.verdict import Evaluation
from rollout_cli.plan.model import Metric, Plan, Stage
from rollout_cli.planning.harms import Harm
from rollout_cli.sim.logs import segment_values
from rollout_cli.state.records import RolloutState
from rollout_cli.transitions.decide import decide

START = datetime(2026, 1, 5, tzinfo=UTC)
DEFAULT_HORIZON_S = 72 * 3600.0  # a stage's horizon when the plan sets no decision.max_duration
# Baselines assumed per kind of metric (docs/statistics.md, "Simulating a plan"): a unit's
# conversion, the share of flagged answers (errors, as the log simulator), and a mean as 10% of units spending
# lognormal(3, 1) — its moments E[x], E[x²], E[x³].
EVENT_RATE, FLAG_RATE = 0.10, 0.002
MEAN_MOMENTS = (0.1 * math.exp(3.5), 0.1 * math.exp(8.0), 0.1 * math.exp(13.5))


@dataclass(frozen=True)
class Scenario:
    traffic_per_h: float  # units per hour reaching the router
    harms: tuple[Harm, ...] = ()
    runs: int = 500
    seed: int = 1
    catch: float | None = None  # e.g. 0.95: when does each stage catch that share of its rollbacks
    looks: int = 24  # evaluations per stage, evenly over its horizon (the guarantee holds for any number)


@dataclass(frozen=True)
class StageOutcome:
    stage: str
    traffic: float
    entered: float  # share of runs that reached this stage
    caught: float  # share of runs rolled back in this stage
    hours_to_rollback: tuple[float, float] | None  # (median, p90) since the first traffic stage began
    exposed: tuple[int, int] | None  # candidate units served before the rollback (median, p90)
    catch_hours: float | None = None  # time in stage by which `catch` of its rollbacks happened

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "traffic": self.traffic, "entered": self.entered, "caught": self.caught,
                "hours_to_rollback": list(self.hours_to_rollback) if self.hours_to_rollback else None,
                "exposed_units": list(self.exposed) if self.exposed else None, "catch_hours": self.catch_hours}


@dataclass(frozen=True)
class PlanSimulation:
    plan: str
    scenario: Scenario
    stages: tuple[StageOutcome, ...]
    rolled_back: float
    completed: float  # reached the end (100%) anyway
    held: float  # still undecided at a stage's horizon
    hours_to_complete: float | None  # median, of the runs that completed
    warnings: tuple[str, ...] = ()
    not_simulated: tuple[str, ...] = field(default=())
    suggestions: tuple[Any, ...] = ()  # planning.suggest.Suggestion per stage, with --catch and a harm

    def to_json(self) -> dict[str, Any]:
        return {"plan": self.plan, "traffic_per_h": self.scenario.traffic_per_h, "runs": self.scenario.runs,
                "harms": [h.describe() for h in self.scenario.harms], "stages": [s.to_json() for s in self.stages],
                "rolled_back": self.rolled_back, "completed": self.completed, "held": self.held,
                "hours_to_complete": self.hours_to_complete, "warnings": list(self.warnings),
                "not_simulated": list(self.not_simulated), "catch": self.scenario.catch,
                "suggestions": [s.to_json() for s in self.suggestions]}


def _change(harms: tuple[Harm, ...], metric: str, population: tuple[str, str] | None) -> float:
    """The candidate's relative change of `metric` in a population (None: a segment value's own)."""
    change = 0.0
    for harm in harms:
        if harm.metric == metric and (harm.segment is None or harm.segment == population):
            change = harm.change
    return change


def _draw(rng: Any, metric: Metric, k: int, change: float) -> tuple[float, float, float]:
    """Σx, Σx², Σx³ of k new units of one arm (normal approximation of Σx for means)."""
    if k <= 0:
        return (0.0, 0.0, 0.0)
    if metric.kind == "proportion":
        p = min(max((EVENT_RATE if metric.event else FLAG_RATE) * (1.0 + change), 0.0), 1.0)
        x = float(rng.binomial(k, p))
        return (x, x, x)
    m1, m2, m3 = MEAN_MOMENTS
    scale = 1.0 + change
    total = rng.normal(k * m1, math.sqrt(k * (m2 - m1 * m1)))
    return (max(total, 0.0) * scale, k * m2 * scale ** 2, k * m3 * scale ** 3)


class SimulatedArms:
    """Cumulative sufficient statistics of one stage per arm — per value of the segment a harm
    names (the whole is then their sum, as in the logs), else for the whole only."""

    def __init__(self, metrics: list[Metric], values: list[tuple[str, str]], weights: list[float]) -> None:
        self.metrics, self.values, self.weights = metrics, values, weights
        self.cells: list[tuple[str, str] | None] = list(values) if values else [None]
        self.units = {(p, arm): 0 for p in self.cells for arm in ("baseline", "candidate")}
        self.sums = {(p, arm, m.name): [0.0, 0.0, 0.0] for p in self.cells for arm in ("baseline", "candidate")
                     for m in metrics}

    def grow(self, rng: Any, new_units: int, share: float, harms: tuple[Harm, ...]) -> None:
        arrivals = rng.multinomial(new_units, self.weights) if self.values else [new_units]
        for population, arrived in zip(self.cells, arrivals):
            cand = int(rng.binomial(int(arrived), share))
            for arm, k in (("baseline", int(arrived) - cand), ("candidate", cand)):
                self.units[(population, arm)] += k
                for m in self.metrics:
                    change = _change(harms, m.name, population) if arm == "candidate" else 0.0
                    acc = self.sums[(population, arm, m.name)]
                    for i, value in enumerate(_draw(rng, m, k, change)):
                        acc[i] += value

    def aggregates(self) -> Aggregates:
        agg = Aggregates()
        for arm in ("baseline", "candidate"):
            whole = agg.cell(None, arm)
            totals: dict[str, list[float]] = {m.name: [0.0, 0.0, 0.0] for m in self.metrics}
            for population in self.cells:
                n = self.units[(population, arm)]
                whole.units += n if population is not None else 0
                cell = agg.cell(population, arm) if population is not None else whole
                cell.units = n if population is not None else n
                for m in self.metrics:
                    sx, sxx, sxxx = self.sums[(population, arm, m.name)]
                    cell.sums[m.name] = _sums(m, n, sx, sxx, sxxx)
                    totals[m.name] = [a + b for a, b in zip(totals[m.name], (sx, sxx, sxxx))]
            if self.values:
                for m in self.metrics:
                    whole.sums[m.name] = _sums(m, whole.units, *totals[m.name])
        return agg


def _sums(metric: Metric, n: int, sx: float, sxx: float, sxxx: float) -> Sums:
    """Sums as the SQL returns them: one value per unit (y = 1), the cube for outcome sums."""
    return Sums(n, sx, float(n), sxx, float(n), sx, sxxx if measure_for(metric).op == "event_sum" else None)


def simulated_needs(plan: Plan, stage: Stage) -> tuple[StageNeeds, list[str]]:
    """The stage's needs limited to the guards simulated here, and the others named."""
    needs = stage_measures(plan, stage)
    kept = [g for g in needs.guards if g.metric.kind in ("proportion", "mean")]
    skipped = [f"{g.metric.name} ({g.metric.kind})" for g in needs.guards if g not in kept]
    return replace(needs, guards=kept, quantiles=[]), skipped


def simulated_evaluation(plan: Plan, stage: Stage, needs: StageNeeds, agg: Aggregates, segments: list[str],
                seconds: float) -> Evaluation:
    """What `evaluate_stage` would say on these statistics: the same checks, SRM and verdict."""
    checks, _ = judge_checks(plan, stage, needs, agg, segments)
    whole = agg.cells.get(None, {})
    units = {arm: whole[arm].units if arm in whole else 0 for arm in ("baseline", "candidate")}
    srm = srm_result(units, stage.split)
    reasons = []
    if seconds < stage.min_duration_s:
        reasons.append("min_duration")
    if stage.min_units and units["candidate"] < stage.min_units:
        reasons.append("min_units")
    return Evaluation(plan=plan.name, stage=stage.name, verdict=stage_verdict(checks, srm, reasons), since=START,
                      until=START + timedelta(seconds=seconds), units=units, srm=srm, checks=tuple(checks),
                      reasons=tuple(reasons))


def _look_times(plan: Plan, stage: Stage, looks: int) -> list[float]:
    horizon = stage.time_limit(plan.decision) or DEFAULT_HORIZON_S
    times = {horizon * k / looks for k in range(1, looks + 1)}
    if 0 < stage.min_duration_s < horizon:
        times.add(stage.min_duration_s)
    return sorted(times)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _segment_cells(plan: Plan, harms: tuple[Harm, ...]) -> tuple[list[str], list[tuple[str, str]], list[float]]:
    """The segment column a harm names (at most one is broken down), its values and their shares."""
    named = next((h.segment for h in harms if h.segment is not None), None)
    if named is None:
        return [], [], []
    values, weights = segment_values(named[0])
    values, weights = list(values), list(weights)
    for harm in harms:  # a value the simulator does not know gets an equal share
        if harm.segment is not None and harm.segment[0] == named[0] and harm.segment[1] not in values:
            values.append(harm.segment[1])
            weights.append(1.0 / len(values))
    total = sum(weights)
    return [named[0]], [(named[0], v) for v in values], [w / total for w in weights]


def simulate_plan(plan: Plan, scenario: Scenario) -> PlanSimulation:
    """Run `scenario.runs` rollouts of the plan's traffic stages (see the package contract)."""
    import numpy as np

    from rollout_cli.planning.detectable import harm_warnings
    from rollout_cli.planning.suggest import suggest_durations

    rng = np.random.default_rng(scenario.seed)
    stages = [s for s in plan.stages if not s.is_shadow]
    segments, values, weights = _segment_cells(plan, scenario.harms)
    prepared = {s.name: simulated_needs(plan, s) for s in stages}
    skipped = sorted({name for _, names in prepared.values() for name in names})
    entered = {s.name: 0 for s in stages}
    caught: dict[str, list[tuple[float, float, int]]] = {s.name: [] for s in stages}  # (hours, in stage, exposed)
    completed_hours: list[float] = []
    held = 0
    for _ in range(scenario.runs):
        elapsed, exposed = 0.0, 0
        for stage in stages:
            entered[stage.name] += 1
            needs = prepared[stage.name][0]
            metrics = list({g.metric.name: g.metric for g in needs.guards}.values())
            arms = SimulatedArms(metrics, values, weights)
            following = plan.next_stage(stage)
            state = RolloutState(plan=plan.name, status="running", stage=stage.name, stage_started_at=START,
                                 candidate_traffic=stage.traffic, shadow=stage.shadow,
                                 approved_stage=following.name if following else None)
            kind, before = "hold", 0.0
            for seconds in _look_times(plan, stage, scenario.looks):
                arms.grow(rng, round(scenario.traffic_per_h * (seconds - before) / 3600.0), stage.traffic / 100.0,
                          scenario.harms)
                before = seconds
                evaluation = simulated_evaluation(plan, stage, needs, arms.aggregates(), segments, seconds)
                kind = decide(plan, state, evaluation, START + timedelta(seconds=seconds)).kind
                if kind in ("rollback", "advance", "complete"):
                    break
            served = sum(arms.units[(p, "candidate")] for p in arms.cells)
            if kind == "rollback":
                caught[stage.name].append(((elapsed + before) / 3600.0, before / 3600.0, exposed + served))
                break
            if kind not in ("advance", "complete"):
                held += 1
                break
            elapsed, exposed = elapsed + before, exposed + served
            if kind == "complete":
                completed_hours.append(elapsed / 3600.0)
                break
    runs = scenario.runs
    outcomes = []
    for stage in stages:
        hits = caught[stage.name]
        hours = [h for h, _, _ in hits]
        units = [float(u) for _, _, u in hits]
        outcomes.append(StageOutcome(
            stage=stage.name, traffic=stage.traffic, entered=entered[stage.name] / runs, caught=len(hits) / runs,
            hours_to_rollback=(_quantile(hours, 0.5), _quantile(hours, 0.9)) if hits else None,
            exposed=(int(_quantile(units, 0.5)), int(_quantile(units, 0.9))) if hits else None,
            catch_hours=_quantile([s for _, s, _ in hits], scenario.catch) if hits and scenario.catch else None))
    rolled_back = sum(len(h) for h in caught.values()) / runs
    warnings = harm_warnings(plan, stages, scenario, weights={v: w for v, w in zip(values, weights)})
    if scenario.catch is not None and scenario.harms and rolled_back < scenario.catch:
        warnings.append(f"the plan rolls back {100 * rolled_back:.3g}% of these harmful rollouts, below the "
                        f"{100 * scenario.catch:g}% asked for: raise min_units or min_duration of the early stages, "
                        "or decision.max_duration")
    return PlanSimulation(plan=plan.name, scenario=scenario, stages=tuple(outcomes), rolled_back=rolled_back,
                          completed=len(completed_hours) / runs, held=held / runs,
                          hours_to_complete=_quantile(completed_hours, 0.5) if completed_hours else None,
                          warnings=tuple(warnings), not_simulated=tuple(skipped),
                          suggestions=tuple(suggest_durations(plan, scenario)))
