"""`rollout metrics`: the rollout's state as Prometheus metrics (rollout_cli.exporter)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rollout_cli.cli.options import PlanArg, StateDirOpt
from rollout_cli.cli.output import console


def metrics(plan: PlanArg, textfile: Annotated[Path | None, typer.Option(
            "--textfile", help="Write here for the node exporter's textfile collector (*.prom), atomically; "
                               "without it, print the metrics.")] = None,
            state_dir: StateDirOpt = None) -> None:
    """Stage, split, last verdict, each guard's estimate and interval, time in stage, drill age — for Prometheus.

    Run it from cron next to `rollout tick`, or use `rollout run --metrics-port N`.
    Example: rollout metrics plans/ranker-v42.yaml --textfile /var/lib/node_exporter/textfile/ranker.prom
    """
    from prometheus_client import generate_latest

    from rollout_cli.cli.plan_state import existing_store
    from rollout_cli.exporter import collect, write_textfile
    from rollout_cli.files import check_target
    from rollout_cli.plan import load_plan
    from rollout_cli.state.clock import utc_now

    loaded = load_plan(plan)
    _, store = existing_store(loaded, state_dir)  # a read: no state folder is created (docs/on-call.md)
    registry = collect(loaded, store, utc_now())
    if textfile is None:
        typer.echo(generate_latest(registry).decode(), nl=False)
        return
    check_target(textfile, option="--textfile")  # a link, folder, pipe or device is never replaced
    try:
        write_textfile(textfile, registry)
    except OSError as exc:
        from rollout_cli.errors import UsageError

        raise UsageError(f"cannot write {textfile}: {exc.strerror or exc}",
                         hint="the folder must exist and be writable (the node exporter's --collector.textfile.directory)") from None
    console.print(f"wrote {textfile}")


def register(app: typer.Typer) -> None:
    app.command(name="metrics")(metrics)
