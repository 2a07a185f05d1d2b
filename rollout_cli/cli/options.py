"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

PlanArg = Annotated[Path, typer.Argument(help="The rollout plan (YAML).", show_default=False, metavar="PLAN")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
StateDirOpt = Annotated[
    str | None,
    typer.Option("--state", "--state-dir", envvar=["ROLLOUT_STATE_URL", "ROLLOUT_STATE_DIR"], show_envvar=True,
                 help="Where state and audit live: a folder (SQLite; default: found from the plan — its state.dir, "
                      "else .rollout at its repository root; docs/on-call.md) or a postgresql:// URL (credentials "
                      "only from PGPASSWORD, ~/.pgpass or a service file; docs/team.md)."),
]
ActorOpt = Annotated[
    str | None,
    typer.Option("--as", help="Who is acting (default: $ROLLOUT_ACTOR, else the login name)."),
]
