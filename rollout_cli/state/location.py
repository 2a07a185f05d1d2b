"""Where a plan's state lives: found from the plan, never from the working directory.

The contract (docs/on-call.md, "Where the state is"), first match wins:
  1. `--state-dir DIR` or `ROLLOUT_STATE_DIR` — said explicitly by the person or the service;
  2. the plan's own `state: {dir: PATH}`, a relative PATH taken from the plan file's folder;
  3. `<root>/.rollout`, where root is the plan's repository root: the nearest folder at or above
     the plan file that holds `.git`; without one, the folder above the nearest folder named
     `plans`; without that, the plan file's own folder.
So `rollout rollback ~/work/churn/plans/churn-v3.yaml` finds the same state from `~`, from the
repository root, or from a folder with an unrelated `.rollout/` of its own.

`locate` touches nothing; `exists` tells a read-only command whether there is state to read at
all (they never create it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rollout_cli.plan.model import Plan

STATE_DIR_NAME = ".rollout"
DATABASE_NAME = "state.db"
URL_SCHEMES = ("postgresql://", "postgres://")  # --state naming the shared store (state/postgres.py)


def is_url(text: str | os.PathLike[str] | None) -> bool:
    return isinstance(text, str) and text.startswith(URL_SCHEMES)


@dataclass(frozen=True)
class StateLocation:
    directory: Path
    how: str  # in words: why this folder

    @property
    def database(self) -> Path:
        return self.directory / DATABASE_NAME

    def exists(self) -> bool:
        return self.database.is_file()

    def describe(self) -> str:
        return f"{self.directory} ({self.how})"


def plan_root(plan_file: Path) -> Path:
    """The plan's repository root (see the module docstring, rule 3)."""
    folder = plan_file.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    for candidate in (folder, *folder.parents):
        if candidate.name == "plans":
            return candidate.parent
    return folder


def locate(plan: Plan, explicit: Path | None = None) -> StateLocation:
    """The state folder of `plan`; `explicit` is --state-dir (typer fills it from ROLLOUT_STATE_DIR too)."""
    if explicit is not None:
        return StateLocation(Path(explicit).absolute(), "given by --state-dir or ROLLOUT_STATE_DIR")
    from_env = os.environ.get("ROLLOUT_STATE_DIR")
    if from_env:
        return StateLocation(Path(from_env).absolute(), "given by ROLLOUT_STATE_DIR")
    plan_file = Path(plan.source)
    if plan.state_dir:
        declared = Path(plan.state_dir).expanduser()
        if not declared.is_absolute():
            declared = plan_file.resolve().parent / declared
        return StateLocation(declared, f"the plan's state.dir in {plan_file}")
    root = plan_root(plan_file)
    return StateLocation(root / STATE_DIR_NAME, f"beside the plan's repository root {root}")
