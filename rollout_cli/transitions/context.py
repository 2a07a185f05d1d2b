"""What every transition works with: the plan, its store, its router, and shared refusals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rollout_cli.errors import ExitCode, RolloutError
from rollout_cli.plan.model import Plan
from rollout_cli.routers.base import Router
from rollout_cli.state.records import RolloutState, not_started
from rollout_cli.state.store import StateStore
from rollout_cli.transitions.drill_gate import drill_gate


class Superseded(RolloutError):
    """An advance gave way: a rollback took over, or the rollout is no longer where it was."""

    exit_code = ExitCode.FAILED


class LostRace(Superseded):
    """An advance or a completion found that another one moved the rollout first: nothing changed
    here, so it exits like a hold (3), not like a failing stage (1); docs/operations.md."""

    exit_code = ExitCode.INCONCLUSIVE


@dataclass(frozen=True)
class Rollout:
    plan: Plan
    store: StateStore
    router: Router

    @classmethod
    def open(cls, plan: Plan, store: StateStore) -> Rollout:
        from rollout_cli.routers.registry import router_for

        return cls(plan, store, router_for(plan.router.adapter, plan.router.options))

    def state(self) -> RolloutState:
        return self.store.get(self.plan.name) or not_started(self.plan.name)

    @property
    def ref(self) -> str:
        """How a person names the plan on the command line."""
        return self.plan.source or self.plan.name


def drill_refusal(rollout: Rollout, now: Any) -> str | None:
    """The drill gate's refusal, or None; only asked when the plan requires a drill."""
    if rollout.plan.rollback.require_drill_s is None:
        return None
    return drill_gate(rollout.plan, rollout.store, now)
