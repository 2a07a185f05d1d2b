"""Move the state of a store — a running rollout included — into an empty PostgreSQL store.

The copy is a snapshot taken inside the source's write transaction (no other process writes
meanwhile) and written in one target transaction: all or nothing. Refused while a transition is
open (an advance in flight finishes in seconds; an abandoned one is reconciled by the next tick)
and when the target already holds one of the plans. Ids are kept, so the journal's transition
numbers in audit evidence still point at the right rows. Both audit trails get a `state_copied`
event, and from then on the team uses the target (docs/team.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from rollout_cli.errors import UsageError
from rollout_cli.state import pg_schema
from rollout_cli.state.clock import format_time, utc_now
from rollout_cli.state.postgres import PostgresStore
from rollout_cli.state.records import OPEN_PHASES
from rollout_cli.state.store import StateStore

TABLES = ("rollouts", "transitions", "events")


@dataclass(frozen=True)
class CopyResult:
    plans: tuple[str, ...]
    rows: dict[str, int]
    target: str


def copy_state(source: StateStore, target_url: str) -> CopyResult:
    """Copy every row of `source` into the PostgreSQL store at `target_url` (initialised if empty)."""
    raw = PostgresStore.connect(target_url)
    try:
        if pg_schema.version(raw) == 0:
            pg_schema.migrate(raw)
        target = PostgresStore(target_url, raw)
        problems = pg_schema.problems(target.conn)
        if problems:
            raise UsageError(f"cannot copy into {target.location}: {problems[0]}")
        return _copy(source, target)
    finally:
        raw.close()


def _copy(source: StateStore, target: PostgresStore) -> CopyResult:
    marks = ", ".join("?" for _ in OPEN_PHASES)
    with source.write() as src:
        rows = {t: [dict(r) for r in src.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()] for t in TABLES}
        open_ones = src.execute(f"SELECT id, plan FROM transitions WHERE phase IN ({marks})", OPEN_PHASES).fetchall()
        if open_ones:
            raise UsageError(f"cannot copy while a transition is open ({', '.join(f'{r[1]} #{r[0]}' for r in open_ones)})",
                             hint="run `rollout tick PLAN` (it finishes or undoes it), then copy again")
        plans = tuple(sorted({r["plan"] for t in TABLES for r in rows[t]}))
        with target.write() as dst:
            taken = [p for p in plans if dst.execute("SELECT 1 FROM rollouts WHERE plan = ? UNION ALL SELECT 1 FROM "
                                                     "events WHERE plan = ? LIMIT 1", (p, p)).fetchone()]
            if taken:
                raise UsageError(f"cannot copy: {target.location} already holds {', '.join(taken)}",
                                 hint="copy into an empty database (or one without these plans)")
            for table in TABLES:
                for row in rows[table]:
                    columns = list(row)
                    dst.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                                tuple(row[c] for c in columns))
                if table != "rollouts":
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
