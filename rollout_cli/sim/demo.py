"""`rollout demo`: the whole story on one machine (docs/operations.md#try-it-rollout-demo), in accelerated time.

A plan on a file router; logs simulated tick by tick at whatever split the router serves; a
drill first (the plan requires one); then the controller: shadow passes, the canary passes, and
at ramp-25 the candidate starts losing conversions on iOS only — the per-segment guard catches
it, the controller rolls back by itself, and the audit trail and the runbook show what happened.

Each tick appends `tick_s` of simulated traffic ending at the simulated clock and then runs
the real controller step (`transitions.controller.tick`) with `now` = that clock; state, router
and audit trail are the real ones, in `<dir>/.rollout`. Nothing here is scripted past the data:
if the guards did not catch the harm, the demo would say so and exit 1. It ends by writing
the rollout's report (`<dir>/report.html`, rollout_cli/report).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml
from rollout_cli.plan.model import Plan
from rollout_cli.report import write_report
from rollout_cli.routers.base import BASELINE_ONLY, PreparableRouter
from rollout_cli.state.records import AuditEvent
from rollout_cli.state.store import StateStore
from rollout_cli.stats.outcome import Outcome
from rollout_cli.transitions import controller, moves
from rollout_cli.transitions.context import Rollout
from rollout_cli.units import format_split

ONCALL = "alice"  # the demo plan's on-call engineer, who drills and starts the rollout
HARM = ("platform", "ios", -0.35)  # iOS users convert 35% less with the candidate
HARM_STAGE = "ramp-25"
TICK_S = 1800.0  # simulated time per controller step
UNITS_PER_TICK = 24_000
# A popular page: 30% of users buy within the hour, and v2 is a little better on average (+3%) —
# so the whole-population guard alone would wave it through; only the iOS breakdown shows the harm.
BASE_CONVERSION = 0.30
CANDIDATE_EFFECT = 0.03
MAX_TICKS = 24



def demo_plan(directory: Path) -> dict[str, Any]:
    """The demo's plan document: a file router and logs in `directory`."""
    logs = directory / "logs"
    return {
        "version": 1,
        "name": "demo-ranker",
        "description": "The embedded demo — ranker v2 replacing v1, harmful on iOS only.",
        "owner": "demo-team",
        "models": {"baseline": "ranker-v1", "candidate": "ranker-v2"},
        "router": {"adapter": "file", "options": {"path": str(directory / "router.json")}},
        "data": {"predictions": f"{logs}/predictions*.parquet", "outcomes": f"{logs}/outcomes*.parquet"},
        "segments": ["platform"],
        "metrics": {"conversion": {"kind": "proportion", "event": "purchase", "window": "1h"},
                    "agreement": {"kind": "agreement", "tolerance": 0.05}},
        "guards": [{"metric": "conversion", "max_drop": "10%", "per_segment": True}],
        "stages": [
            {"name": "shadow", "shadow": "100%", "min_duration": "1h",
             "guards": [{"metric": "agreement", "min": "90%"}]},
            {"name": "canary", "traffic": "20%", "min_duration": "1h"},
            {"name": "ramp-25", "traffic": "25%", "min_duration": "2h"},
            {"name": "ramp-50", "traffic": "50%", "min_duration": "2h"},
            {"name": "full", "traffic": "100%"},
        ],
        "decision": {"confidence": "95%", "max_duration": "8h", "on_inconclusive": "hold", "auto_advance": True,
                     "auto_rollback": True},
        "teams": {"demo-oncall": [ONCALL, "bob"]},
        "rollback": {
            "authority": ["team:demo-oncall"],
            "approvers": ["carol"],
            "max_duration": "5m",
            "require_drill": "14d",
            "steps": [{"route": "baseline"}, {"verify": "router"}],
            "user_impact": "iOS and everyone else get ranker-v1 answers from their next request on.",
            "contacts": ["#demo-oncall"],
        },
    }


@dataclass(frozen=True)
class DemoTick:
    at: datetime
    stage: str | None
    split: str
    verdict: str | None
    action: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "stage": self.stage, "split": self.split, "verdict": self.verdict,
                "action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class DemoSummary:
    directory: Path
    plan_path: Path
    outcome: str  # the final status: rolled_back (the expected end) or anything else
    rolled_back_at: str | None
    caught: list[dict[str, Any]]  # the failing checks that triggered the rollback
    drill: str | None
    ticks: list[DemoTick]
    events: list[AuditEvent]
    runbook: Path | None
    simulated_hours: float
    report: Path | None = None
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def caught_the_segment(self) -> bool:
        return self.outcome == "rolled_back" and any(
            (c.get("segment") or {}).get(HARM[0]) == HARM[1] for c in self.caught)

    def to_json(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory), "plan": str(self.plan_path), "outcome": self.outcome,
            "rolled_back_at": self.rolled_back_at, "caught_segment": self.caught_the_segment,
            "caught": self.caught, "drill": self.drill, "simulated_hours": self.simulated_hours,
            "wall_s": round(self.wall_s, 2), "runbook": str(self.runbook) if self.runbook else None,
            "ticks": [t.to_json() for t in self.ticks], "events": [e.to_json() for e in self.events],
            "notes": self.notes, "report": str(self.report) if self.report else None,
        }


def write_demo_plan(directory: Path) -> Path:
    path = directory / "plans" / "demo-ranker.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Dumped, not pasted: a folder named "a,b" or "demo #1" must not break the plan.
    path.write_text(plan_yaml(demo_plan(directory)))
    return path


def run_demo(directory: Path, *, seed: int = 7, on_tick: Callable[[DemoTick], None] | None = None,
             on_note: Callable[[str], None] | None = None) -> DemoSummary:
    """Run the demo in `directory` (created; must not hold an earlier demo's state)."""
    import time

    from rollout_cli.sim.logs import Scenario, simulate_stage, with_window

    started = time.monotonic()
    note = on_note or (lambda _text: None)
    directory.mkdir(parents=True, exist_ok=True)
    plan_path = write_demo_plan(directory)
    plan = load_plan(plan_path)
    store = StateStore.open(directory / ".rollout")
    rollout = Rollout.open(plan, store)
    if isinstance(rollout.router, PreparableRouter):  # the demo's file router
        rollout.router.prepare()
    rollout.router.apply(BASELINE_ONLY)  # the serving system before the rollout: baseline only
    notes: list[str] = []

    drill = _drill(rollout)
    # The simulated clock starts now, after the drill (recorded at the real time): the gate counts it.
    clock = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    notes.append(f"drill: {drill}")
    note(f"drill: {drill}")
    moves.start(rollout, actor=ONCALL, reason="demo: begin the rollout", now=clock)
    note(f"started at stage {plan.stages[0].name}")

    ticks: list[DemoTick] = []
    caught: list[dict[str, Any]] = []
    rolled_back_at = None
    for i in range(MAX_TICKS):
        state = rollout.state()
        if state.is_terminal:
            break
        harmful = state.stage == HARM_STAGE
        scenario = with_window(Scenario(units=UNITS_PER_TICK, segment_effect=HARM if harmful else None,
                                         conversion=BASE_CONVERSION, effect=CANDIDATE_EFFECT), clock,
                               clock + timedelta(seconds=TICK_S), state.candidate_traffic, state.shadow)
        simulate_stage(plan, directory / "logs", scenario=scenario, seed=seed * 1000 + i, part=f"-{i:03d}",
                       first_unit=i * UNITS_PER_TICK, training=False)
        clock += timedelta(seconds=TICK_S)
        report = controller.tick(rollout, run_by="rollout demo", now=clock)
        verdict = report.evaluation.verdict.value if report.evaluation else None
        tick = DemoTick(clock, state.stage, format_split(state.candidate_traffic, state.shadow),
                        verdict, report.action.kind, report.action.reason)
        ticks.append(tick)
        if on_tick:
            on_tick(tick)
        if report.action.kind == "rollback" and report.evaluation is not None:
            rolled_back_at = state.stage
            caught = [c.to_json() for c in report.evaluation.checks if c.outcome is Outcome.FAIL]
    final = rollout.state()
    runbook = _runbook(plan, plan_path, store, directory)
    hours = (clock - ticks[0].at).total_seconds() / 3600 + TICK_S / 3600 if ticks else 0.0
    page = write_report(plan, store, directory / "report.html", now=clock).path if ticks else None
    return DemoSummary(directory, plan_path, final.status, rolled_back_at, caught, drill, ticks,
                       store.events(plan.name), runbook, hours, page, time.monotonic() - started, notes)


def _drill(rollout: Rollout) -> str:
    """The drill the plan requires before traffic leaves shadow."""
    from rollout_cli.runbook.rehearsal import admit, rehearse

    spec = admit(rollout.plan, rollout.store, ONCALL, None)
    result = rehearse(rollout.plan, rollout.store, ONCALL, spec)
    return f"{result.outcome} in {result.duration_s:.3f}s (budget {rollout.plan.rollback.max_duration_s:g}s)"


def _runbook(plan: Plan, plan_path: Path, store: StateStore, directory: Path) -> Path:
    from rollout_cli.runbook.render import generate

    return generate(plan, plan_path, directory / "runbooks" / f"{plan.name}.md", store)
