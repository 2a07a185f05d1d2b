"""Simulated logs written where the plan reads them (`rollout simulate` without `--out`).

A plan's `data.predictions` / `data.outcomes` are globs such as `logs/NAME/predictions/*.parquet`
(what `plan init` writes). The simulator writes one parquet file per role into the glob's fixed
folder, named so that the glob matches it: the first `*` of the glob's file part becomes
`simulated{part}`. A table source, a non-parquet glob, or a glob with a wildcard in its folder
part cannot be written to: UsageError saying to give `--out`.
"""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path, PurePath

from rollout_cli.errors import UsageError
from rollout_cli.plan.model import DataSource, Plan
from rollout_cli.sim.logs import Scenario, SimulatedLogs, simulate_stage

_WILDCARDS = "*?["


def target_file(source: DataSource | None, role: str, part: str) -> Path:
    """The file a simulation writes for `role` so that the plan's glob reads it."""
    glob = source.glob if source is not None else None
    if glob is None or not glob.lower().endswith(".parquet"):
        raise UsageError(f"cannot write simulated {role} where the plan reads them ({source.describe() if source else 'none'}"
                         "): not a parquet file glob", hint="give --out DIR and point the plan's data there")
    pattern = PurePath(glob)
    if any(c in str(pattern.parent) for c in _WILDCARDS):
        raise UsageError(f"cannot write simulated {role} into {glob}: its folder part has a wildcard",
                         hint="give --out DIR")
    name = pattern.name.replace("*", f"simulated{part}", 1) if "*" in pattern.name else pattern.name
    if not fnmatch.fnmatch(name, pattern.name):
        raise UsageError(f"cannot name a file that {glob} matches", hint="give --out DIR")
    return Path(pattern.parent) / name


def simulate_into_plan(plan: Plan, *, scenario: Scenario, seed: int, part: str = "") -> SimulatedLogs:
    """Simulate, then move the files where the plan's globs read them (same folder: an atomic rename)."""
    predictions = target_file(plan.data.predictions, "predictions", part)
    outcomes = target_file(plan.data.outcomes, "outcomes", part) if plan.data.outcomes else None
    predictions.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=predictions.parent, prefix=".simulate-") as scratch:
        logs = simulate_stage(plan, Path(scratch), scenario=scenario, seed=seed, part=part)
        shutil.move(str(logs.predictions), predictions)
        if outcomes is not None:
            outcomes.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(logs.outcomes), outcomes)
        training = None
        if logs.training is not None and plan.data.training is not None and plan.data.training.glob:
            training = Path(plan.data.training.glob)
            training.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(logs.training), training)
    return replace(logs, predictions=predictions, outcomes=outcomes or logs.outcomes, training=training)
