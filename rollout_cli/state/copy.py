"""Move the state of a store — a running rollout included — into another store: SQLite to
PostgreSQL (a team starts sharing), or PostgreSQL back to a SQLite folder.

The copy is a snapshot taken inside the source's write transaction (no other process writes
meanwhile) and written in one target transaction: all or nothing. Refused while a transition is
open (an advance in flight finishes in seconds; an abandoned one is reconciled by the next tick)
and when the target already holds one of the plans. Ids are kept, so the journal's transition
numbers in audit evidence still point at the right rows. Both audit trails get a `state_copied`
event, and from then on the team uses the target (docs/team.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rollout_cli.errors import UsageError
from rollout_cli.state import pg_schema
from rollout_cli.state.clock import format_time, utc_now
from rollout_cli.state.location import is_url
from rollout_cli.state.postgres import PostgresStore
from rollout_cli.state.records import OPEN_PHASES
from rollout_cli.state.store import StateStore

# parents before children (evaluation_checks refers to evaluations); all but the checks have a plan column
TABLES = ("rollouts", "transitions", "events", "evaluations", "evaluation_checks")
WITH_IDS = ("transitions", "events", "evaluations")


@dataclass(frozen=True)
class CopyResult:
    plans: tuple[str, ...]
    rows: dict[str, int]
    target: str


def copy_state(source: StateStore, target: str | Path) -> CopyResult:
    """Copy every row of `source` into the store at `target`: a PostgreSQL URL (initialised if
    empty) or a SQLite folder (created if absent)."""
    if not isinstance(target, str) or not is_url(target):
        if source.kind == "sqlite" and Path(target).resolve() == Path(source.location).resolve():
            raise UsageError(f"cannot copy {source.location} onto itself")
        destination = StateStore.open(Path(target))
        try:
            return _copy(source, destination)
        finally:
            destination.close()
    raw = PostgresStore.connect(target)
    try:
        if pg_schema.version(raw) == 0:
            pg_schema.migrate(raw)
        shared = PostgresStore(target, raw)
        problems = pg_schema.problems(shared.conn)
        if problems:
            raise UsageError(f"cannot copy into {shared.location}: {problems[0]}")
        return _copy(source, shared)
    finally:
        raw.close()


def _copy(source: StateStore, target: StateStore) -> CopyResult:
    with source.write() as src:
        rows = {t: [dict(r) for r in src.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()] for t in TABLES}
        open_ones = [r for r in rows["transitions"] if r["phase"] in OPEN_PHASES]
        if open_ones:
            named = ", ".join(f"{r['plan']} #{r['id']}" for r in open_ones)
            raise UsageError(f"cannot copy while a transition is open ({named})",
                             hint="run `rollout tick PLAN` (it finishes or undoes it), then copy again")
        plans = tuple(sorted({r["plan"] for t in TABLES if t != "evaluation_checks" for r in rows[t]}))
        with target.write() as dst:
            held = ("SELECT 1 FROM rollouts WHERE plan = ? UNION ALL SELECT 1 FROM events WHERE plan = ? "
                    "UNION ALL SELECT 1 FROM evaluations WHERE plan = ? LIMIT 1")
            taken = [p for p in plans if dst.execute(held, (p, p, p)).fetchone()]
            if taken:
                raise UsageError(f"cannot copy: {target.location} already holds {', '.join(taken)}",
                                 hint="copy into an empty database (or one without these plans)")
            for table in TABLES:
                for row in rows[table]:
                    columns = list(row)
                    dst.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                                tuple(row[c] for c in columns))
                if table in WITH_IDS and target.kind == "postgresql":  # SQLite's AUTOINCREMENT follows by itself
                    dst.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                f"GREATEST((SELECT max(id) FROM {table}), 1))")
            now = format_time(utc_now())
            for plan in plans:
                dst.execute("INSERT INTO events (plan, at, actor, action, allowed, reason) VALUES (?, ?, ?, ?, 1, ?)",
                            (plan, now, source.actor(None), "state_copied", f"state copied from {source.location}"))
        for plan in plans:  # only once the target committed: the source says where its state went
            src.execute("INSERT INTO events (plan, at, actor, action, allowed, reason) VALUES (?, ?, ?, ?, 1, ?)",
                        (plan, now, source.actor(None), "state_copied",
                         f"state copied to {target.location}; use --state {target.location} from now on"))
    return CopyResult(plans, {t: len(rows[t]) for t in TABLES}, target.location)
