"""`rollout router setup PLAN`: the router-side files a plan needs before its first start."""

from __future__ import annotations

from typing import Annotated

import typer

from rollout_cli.cli.options import JsonOpt, PlanArg
from rollout_cli.cli.output import console, print_json

router_app = typer.Typer(
    name="router",
    help="The router side of a plan.\n\nExample: rollout router setup plans/ranker-v42.yaml --write",
    no_args_is_help=True,
)


@router_app.command("setup")
def setup(plan: PlanArg,
          write: Annotated[bool, typer.Option("--write", help="Create the files the router owns (nginx include, "
                                              "HAProxy shadow file, router file), serving the baseline alone.")] = False,
          force: Annotated[bool, typer.Option("--force", help="With --write: replace a file that exists with "
                                              "other content.")] = False,
          json_out: JsonOpt = False) -> None:
    """Print (or with --write, create) what the router needs before `rollout start`: files the
    router owns, and the lines to paste once into your own nginx or HAProxy configuration.

    Never overwrites an existing file without --force. Talks to no router.
    Example: rollout router setup plans/ranker-v42.yaml --write
    """
    from rollout_cli.plan import load_plan
    from rollout_cli.routers.registry import router_for
    from rollout_cli.routers.setup import setup_for, write_pieces

    loaded = load_plan(plan)
    pieces = setup_for(router_for(loaded.router.adapter, loaded.router.options))
    written = write_pieces(pieces, force=force) if write else []
    if json_out:
        print_json({"plan": loaded.name, "adapter": loaded.router.adapter, "pieces": [p.to_json() for p in pieces],
                    "written": [str(p) for p in written]})
        return
    for piece in pieces:
        where = f" → {piece.path}" if piece.path else ""
        status = " (written)" if piece.path in written else ""
        console.print(f"[bold]# {piece.title}{where}{status}[/]", soft_wrap=True)
        console.print(piece.text, markup=False, highlight=False, soft_wrap=True)
    if not write and any(p.path for p in pieces):
        console.print("[dim]nothing written: add --write to create the files above[/]")


def register(app: typer.Typer) -> None:
    app.add_typer(router_app)
