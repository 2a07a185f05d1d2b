"""`rollout state init | check | copy`: the state store itself (docs/team.md).

Thin: parse, call one function of rollout_cli.state, render.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rollout_cli.cli.options import JsonOpt, StateDirOpt
from rollout_cli.cli.output import console, print_json
from rollout_cli.errors import UsageError

state_app = typer.Typer(name="state", help="Create, check and move the state store (SQLite folder or PostgreSQL).\n\n"
                        "Example: rollout state check --state postgresql://rollout@db.internal/rollout",
                        no_args_is_help=True)

GrantOpt = Annotated[list[str] | None, typer.Option(
    "--grant", help="ROLE[=NAME,NAME]: let a database role run rollouts (never edit the audit trail), acting as "
                    "these plan names (default: the role's own name). Repeatable.")]


@state_app.command("init")
def init_command(state_dir: StateDirOpt = None, grant: GrantOpt = None, json_out: JsonOpt = False) -> None:
    """Create the store, or migrate it to this version's schema (never dropping an audit row).

    Run it as the database's owner; --grant then lets the team's roles in.
    Example: rollout state init --state postgresql://admin@db.internal/rollout --grant rollout_bob=bob
    """
    from rollout_cli.state import pg_schema
    from rollout_cli.state.locate import open_store, state_location
    from rollout_cli.state.postgres import PostgresStore

    where = state_location(state_dir)
    doc: dict[str, Any]
    if not isinstance(where, str):
        if grant:
            raise UsageError("--grant needs a PostgreSQL store: a SQLite file has no roles",
                             hint="e.g. --state postgresql://admin@db.internal/rollout")
        store = open_store(where)
        doc = {"store": store.location, "kind": store.kind, "applied": [], "version": None, "granted": []}
    else:
        import psycopg

        raw = PostgresStore.connect(where)
        try:
            applied = pg_schema.migrate(raw)
            granted = []
            for entry in grant or []:
                role, _, names = entry.partition("=")
                people = [n.strip() for n in names.split(",") if n.strip()] or [role]
                pg_schema.grant(raw, role.strip(), people)
                granted.append({"role": role.strip(), "names": people})
            doc = {"store": PostgresStore(where, raw).location, "kind": "postgresql", "applied": applied,
                   "version": pg_schema.version(raw), "granted": granted}
        except psycopg.Error as exc:  # e.g. a role that may not create tables or grant: say which, no traceback
            raise UsageError(f"cannot initialise {PostgresStore(where, raw).location}: {str(exc).strip()}",
                             hint="run `rollout state init` as the database's owner") from None
        finally:
            raw.close()
    if json_out:
        print_json(doc)
        return
    what = f"migrated to schema version {doc['version']}" if doc["applied"] else "up to date"
    console.print(f"[bold green]ready[/] {doc['store']} ({doc['kind']}): {what}")
    for g in doc["granted"]:
        console.print(f"  role {g['role']} acts as {', '.join(g['names'])}")


@state_app.command("check")
def check_command(state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """Say which store is in use, its schema version, and how far identities can be trusted. Exit 2 on a problem.

    Example: rollout state check --state postgresql://rollout@db.internal/rollout
    """
    from rollout_cli.state import pg_schema
    from rollout_cli.state.locate import existing_store, sqlite_folder, state_location
    from rollout_cli.state.location import DATABASE_NAME
    from rollout_cli.state.postgres import PostgresStore
    from rollout_cli.transitions.status import identity_note

    where = state_location(state_dir)
    # A PostgreSQL store is looked at even when its schema is missing or behind: saying so is the point.
    # A SQLite one is never created by a check: a folder without one is the problem to report.
    store = PostgresStore(where, PostgresStore.connect(where)) if isinstance(where, str) else existing_store(where)
    if store is None:
        folder = sqlite_folder(where)
        doc: dict[str, Any] = {
            "store": str(folder), "kind": "sqlite", "identity": identity_note(None), "version": None,
            "problems": [f"no state store here ({folder / DATABASE_NAME} is missing); `rollout state init` creates one"]}
    else:
        problems = pg_schema.problems(store.conn) if store.kind == "postgresql" else []
        doc = {"store": store.location, "kind": store.kind, "identity": identity_note(store), "problems": problems,
               "version": pg_schema.version(store.conn) if store.kind == "postgresql" else None}
    problems = doc["problems"]
    if json_out:
        print_json(doc)
    else:
        console.print(f"{doc['store']} ({doc['kind']}): {'; '.join(problems) or 'sound'}", soft_wrap=True)
        console.print(f"identity: {doc['identity']}", soft_wrap=True)
    if problems:
        raise typer.Exit(2)


@state_app.command("copy")
def copy_command(to: Annotated[str, typer.Option("--to", help="Where to copy: a postgresql:// URL, or a folder "
                                                "for a SQLite store (e.g. to move back from PostgreSQL).")],
                 state_dir: StateDirOpt = None, json_out: JsonOpt = False) -> None:
    """Copy the whole state — running rollouts, journal, audit trail, evaluation history — into a store
    that does not hold these plans yet: SQLite to PostgreSQL, or back.

    Example: rollout state copy --state .rollout --to postgresql://rollout@db.internal/rollout
    """
    from rollout_cli.state.copy import copy_state
    from rollout_cli.state.locate import checked, existing_store, sqlite_folder, state_location

    checked(to, "--to")
    source = existing_store(state_dir)  # the source must exist; the target is created when absent
    if source is None:
        raise UsageError(f"no state store to copy at {sqlite_folder(state_location(state_dir))} (no state.db there)",
                         hint="check --state: it names the store to copy from")
    result = copy_state(source, to)
    if json_out:
        print_json({"to": result.target, "plans": list(result.plans), "rows": result.rows})
        return
    console.print(f"[bold green]copied[/] {', '.join(result.plans) or 'nothing'} to {result.target} "
                  f"({result.rows['events']} audit events, {result.rows['evaluations']} evaluations); "
                  f"from now on use --state {result.target}")


def register(app: typer.Typer) -> None:
    app.add_typer(state_app, name="state")
