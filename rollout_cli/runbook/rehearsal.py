"""A drill as a recorded action: who may run it, on which router, and what the audit trail keeps.

Rules (docs/runbooks.md, docs/commands.md):
- a drill moves real traffic on the router it runs against and runs the rollback steps for
  real, so the actor needs `rollback.authority`, as for a rollback (exit 5 otherwise);
- against the plan's own router it is refused while that plan's rollout is running or paused
  (exit 2): the live router belongs to the rollout; `--router` points the drill elsewhere;
- every attempt is recorded as a "drill" event: refused ones with `allowed: false`, ones the
  router broke with outcome "fail" and the error, and the rest with the full evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import NoReturn

from rollout_cli.errors import NotAllowed, RouterError, UsageError
from rollout_cli.files import display_path
from rollout_cli.plan.model import Plan
from rollout_cli.runbook.drill import DrillResult, StepCallback, run_drill
from rollout_cli.runbook.router_spec import RouterSpec, parse_router_spec, plan_router
from rollout_cli.state.drills import DRILL_ACTION
from rollout_cli.state.store import StateStore
from rollout_cli.transitions.drill_gate import rollout_in_progress


def _refuse(store: StateStore, plan: Plan, actor: str, reason: str, error: Exception) -> NoReturn:
    store.record_event(plan, DRILL_ACTION, actor, False, reason)
    raise error


def drill_lock(plan: Plan, store: StateStore, router_option: str | None) -> AbstractContextManager[None]:
    """Hold the plan's lock while drilling its own router, so no `start` or `advance` moves it meanwhile."""
    return store.lock(plan.name) if router_option is None else nullcontext()


def admit(plan: Plan, store: StateStore, actor: str, router_option: str | None) -> RouterSpec:
    """The router the drill may run against, or a recorded refusal (NotAllowed, UsageError)."""
    if actor not in plan.rollback.authorized_people:
        who = ", ".join(sorted(plan.rollback.authorized_people))
        reason = f"{actor} is not in rollback.authority ({who})"
        _refuse(store, plan, actor, reason, NotAllowed(f"drill refused: {reason}"))
    spec = parse_router_spec(router_option) if router_option is not None else plan_router(plan.router)
    # `--router` spelling out the plan's own router is no staging router
    own_router = spec.label == plan_router(plan.router).label
    state = store.get(plan.name)
    if own_router and state is not None and rollout_in_progress(plan, store):
        reason = f"the rollout of {plan.name} is {state.status}: its router is live"
        _refuse(
            store, plan, actor, reason,
            UsageError(
                f"drill refused: {reason}",
                hint=f"rehearse on a staging router: rollout drill {display_path(plan.source)} "
                "--router ADAPTER:KEY=VALUE,... (or --router staging-router.yaml)",
            ),
        )
    return spec


def rehearse(
    plan: Plan,
    store: StateStore,
    actor: str,
    spec: RouterSpec,
    *,
    on_step: StepCallback | None = None,
    on_started: Callable[[], None] | None = None,
) -> DrillResult:
    """Run one admitted drill on `spec` and record it. RouterError (exit 4) when the router fails."""
    from rollout_cli.routers.registry import router_for

    router = router_for(spec.router.adapter, spec.router.options)
    try:
        result = run_drill(plan, router, spec.label, on_step=on_step, on_started=on_started)
    except RouterError as error:
        evidence = {
            "outcome": "fail",
            "budget_s": plan.rollback.max_duration_s,
            "rollback_digest": plan.rollback.digest,
            "router": spec.label,
            "steps": [],
            "error": error.message,
        }
        reason = f"drill fail on {spec.label}: the router failed: {error.message}"
        store.record_event(plan, DRILL_ACTION, actor, True, reason, evidence=evidence)
        _drill_failed(plan, store, actor, reason)
        raise
    reason = f"drill {result.outcome} on {spec.label}" + (f": {result.failure}" if result.failure else "")
    store.record_event(plan, DRILL_ACTION, actor, True, reason, evidence=result.evidence())
    if result.outcome != "pass":
        _drill_failed(plan, store, actor, reason)
    return result


def _drill_failed(plan: Plan, store: StateStore, actor: str, reason: str) -> None:
    from rollout_cli.notify import Event, notify
    from rollout_cli.state.clock import utc_now

    ref = plan.source or plan.name
    notify(plan, Event("drill_failed", f"a rollback drill of {plan.name} failed", utc_now(), check=reason, actor=actor,
                       command=f"rollout drill {ref} --router ADAPTER:OPTIONS"), store=store)
