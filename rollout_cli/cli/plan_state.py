"""A plan's rollout as the commands open it: the plan, its state — found from the plan, never
from the working directory (state/location.py) — and its router.

Commands that move the rollout (start, rollback) create the state where it belongs; read-only
commands (status, history, evaluate) and the controller (advance, tick, run) never create it, and
say where they looked when there is none.
"""

from __future__ import annotations

from pathlib import Path

from rollout_cli.errors import UsageError
from rollout_cli.plan import load_plan
from rollout_cli.plan.model import Plan
from rollout_cli.state.locate import folder, open_store, shared_url
from rollout_cli.state.locate import where as shared_where
from rollout_cli.state.location import StateLocation, locate
from rollout_cli.state.store import StateStore
from rollout_cli.transitions.context import Rollout


def no_state(plan: Plan, where: StateLocation) -> UsageError:
    ref = plan.source or plan.name
    return UsageError(f"no rollout state for {plan.name}: looked in {where.describe()} and found no state.db",
                      hint=f"start it with `rollout start {ref}`; if it runs with its state elsewhere, "
                           "give that folder with --state-dir (or ROLLOUT_STATE_DIR)")


def existing_store(plan: Plan, state_dir: str | None) -> tuple[StateLocation, StateStore | None]:
    """The plan's state folder, and its store when one exists there (never created here); or the
    shared PostgreSQL store (state/locate.py)."""
    if shared_url(state_dir):
        return shared_where(plan, state_dir), open_store(state_dir, plan)
    where = locate(plan, folder(state_dir))
    blocked = where.directory.exists() and not where.directory.is_dir()  # opening says what is wrong
    return where, StateStore.open(where.directory) if where.exists() or blocked else None


def open_rollout(plan_path: Path, state_dir: str | None, *, create: bool) -> Rollout:
    """The plan with its store; without `create`, a missing store is a UsageError naming the folder."""
    plan = load_plan(plan_path)
    if shared_url(state_dir):
        return Rollout.open(plan, open_store(state_dir, plan))
    where = locate(plan, folder(state_dir))
    if not create and not where.exists():
        raise no_state(plan, where)
    return Rollout.open(plan, StateStore.open(where.directory))
