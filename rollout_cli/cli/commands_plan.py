"""`rollout plan …`: validate, show, schema, init."""

from __future__ import annotations

import typer

plan_app = typer.Typer(help="Write and check rollout plans.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
