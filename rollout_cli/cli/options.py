"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

PlanArg = Annotated[Path, typer.Argument(help="The rollout plan (YAML).", show_default=False, metavar="PLAN")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
StateDirOpt = Annotated[
    Path | None,
    typer.Option("--state-dir", envvar="ROLLOUT_STATE_DIR", help="Where state and audit live (default: found from the plan — "
                 "its state.dir, else .rollout at its repository root; docs/on-call.md)."),
]
ActorOpt = Annotated[
    str | None,
    typer.Option("--as", help="Who is acting (default: $ROLLOUT_ACTOR, else the login name)."),
]
