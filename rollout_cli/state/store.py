"""The durable local store (docs/operations.md#state-and-audit): one SQLite file in WAL mode, safe for several processes.

Every write runs in a `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so two
processes never both read-then-write stale state) with a generous busy timeout. Besides the
database, `lock(plan)` takes an exclusive flock on `<state_dir>/<plan>.lock` for the duration of
a transition: the kernel drops it when a process dies, so an open transition found while
holding the lock belongs to a dead process (or to a rollback still waiting for the lock —
see transitions.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from rollout_cli.errors import UsageError
from rollout_cli.plan.model import Plan
from rollout_cli.secrets import redact, remember_references, scrub_value
from rollout_cli.state.clock import format_time, parse_time, utc_now
from rollout_cli.state.location import STATE_DIR_NAME
from rollout_cli.state.records import AuditEvent, CheckRecord, EvaluationRecord, RolloutState

DEFAULT_STATE_DIR = STATE_DIR_NAME
BUSY_TIMEOUT_MS = 30_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS rollouts (
  plan TEXT PRIMARY KEY, status TEXT NOT NULL, stage TEXT, stage_started_at TEXT,
  candidate_traffic REAL NOT NULL, shadow REAL NOT NULL, rollback_incomplete INTEGER NOT NULL DEFAULT 0,
  approved_stage TEXT, last_verdict TEXT, last_decision TEXT, last_evaluated_at TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, plan TEXT NOT NULL, kind TEXT NOT NULL, phase TEXT NOT NULL,
  from_stage TEXT, to_stage TEXT, from_traffic REAL NOT NULL, from_shadow REAL NOT NULL,
  to_traffic REAL NOT NULL, to_shadow REAL NOT NULL, actor TEXT NOT NULL, reason TEXT NOT NULL,
  owner_pid INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, owner_start TEXT);
CREATE INDEX IF NOT EXISTS transitions_open ON transitions (plan, phase);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, plan TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, from_stage TEXT, to_stage TEXT, allowed INTEGER NOT NULL, reason TEXT NOT NULL,
  evidence TEXT);
CREATE INDEX IF NOT EXISTS events_plan ON events (plan, id);
CREATE TABLE IF NOT EXISTS evaluations (
  id INTEGER PRIMARY KEY AUTOINCREMENT, plan TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
  source TEXT NOT NULL, stage TEXT NOT NULL, verdict TEXT NOT NULL, since TEXT NOT NULL, until TEXT NOT NULL,
  baseline_units INTEGER NOT NULL, candidate_units INTEGER NOT NULL, srm_outcome TEXT NOT NULL,
  srm_p_value REAL, reasons TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS evaluations_plan ON evaluations (plan, id);
CREATE TABLE IF NOT EXISTS evaluation_checks (
  evaluation_id INTEGER NOT NULL REFERENCES evaluations (id), position INTEGER NOT NULL, metric TEXT NOT NULL,
  guard TEXT NOT NULL, segment TEXT, segment_value TEXT, outcome TEXT NOT NULL, estimate REAL, low REAL,
  high REAL, limit_low REAL, limit_high REAL, baseline REAL, candidate REAL, baseline_units INTEGER NOT NULL,
  candidate_units INTEGER NOT NULL, PRIMARY KEY (evaluation_id, position));
"""

STATE_COLUMNS = ("status", "stage", "stage_started_at", "candidate_traffic", "shadow", "rollback_incomplete",
                 "approved_stage", "last_verdict", "last_decision", "last_evaluated_at")


def secret_templates(plan: Plan) -> list[str]:
    """Every string of the plan that may carry a ${env:…} reference: what redaction scrubs."""
    texts = [str(v) for v in plan.router.options.values()]
    texts += [t for n in plan.notify for t in (n.url, n.token) if t]
    texts += [t for m in plan.metrics.values() if m.prometheus for t in (m.prometheus.url, m.prometheus.token) if t]
    for step in plan.rollback.steps:
        texts.extend(str(v) for v in step.value) if step.kind == "run" else texts.append(str(step.value))
    return [t for t in texts if "${env:" in t]


def redact_value(value: Any, templates: list[str]) -> Any:
    """Plain data (a JSON-able value) with every secret value of `templates` (and every other
    secret this process knows) replaced by ***."""
    remember_references(templates)
    return scrub_value(value)


class StateStoreError(UsageError):
    """The state store cannot be opened, read or written (a file in the way, a read-only or full disk,
    damage). Every SQLite error of the store surfaces as this, never as sqlite3's own."""


UNREADABLE_HINT = ("restore state.db from a backup or point --state-dir at a sound one; the router is untouched, "
                   "and `rollout rollback` prints its manual commands")


def _time(text: str | None) -> datetime | None:
    return parse_time(text) if text else None


class StateStore:
    """Rollout state, the transition journal (see journal.py) and the audit trail — in SQLite.

    The contract every store keeps is state/base.py's `Store`; state/postgres.py is the shared
    one. Open a store through state/locate.py's `open_store`, which picks the kind.
    """

    kind = "sqlite"
    # Who acts is whatever --as / ROLLOUT_ACTOR / the login name claims: anyone who can write
    # the file can claim any name and edit the audit trail (docs/team.md).
    identity_verified = False

    def __init__(self, state_dir: Path, connection: sqlite3.Connection) -> None:
        self.state_dir = state_dir
        self.conn = connection
        self._held: set[str] = set()

    @property
    def location(self) -> str:
        """Where the store lives, for messages (never carries a credential)."""
        return str(self.state_dir)

    def actor(self, requested: str | None) -> str:
        """The acting person: self-asserted here (--as, ROLLOUT_ACTOR, the login name)."""
        from rollout_cli.state.identity import current_actor

        return current_actor(requested)

    def owner_alive(self, transition: Any) -> bool:
        """Whether the process that opened `transition` still runs (one machine: one state dir)."""
        from rollout_cli.state.journal import owner_alive

        return owner_alive(transition)

    def is_own(self, transition: Any) -> bool:
        """Whether this process opened `transition`."""
        return bool(transition.owner_pid == os.getpid())

    @classmethod
    def open(cls, state_dir: Path | None = None) -> StateStore:
        """The store at `state_dir` (default $ROLLOUT_STATE_DIR, else ./.rollout), created if absent."""
        directory = Path(state_dir or os.environ.get("ROLLOUT_STATE_DIR") or DEFAULT_STATE_DIR)
        if directory.exists() and not directory.is_dir():
            raise StateStoreError(f"cannot open the state store: {directory} is a file, not a folder",
                             hint="point --state-dir (or ROLLOUT_STATE_DIR) at a folder")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # Opening is serialised across processes: switching a new database to WAL can answer
            # "database is locked" at once, without waiting, when another process opens it too.
            with open(directory / "open.lock", "a+") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                conn = sqlite3.connect(directory / "state.db", timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")  # a committed journal phase survives power loss too
                store = cls(directory, conn)
                with store.write() as c:  # not executescript: it would commit outside the write lock
                    for statement in filter(str.strip, SCHEMA.split(";")):
                        c.execute(statement)
                    columns = {row["name"] for row in c.execute("PRAGMA table_info(transitions)")}
                    if "owner_start" not in columns:  # a store written before owners had a start time
                        c.execute("ALTER TABLE transitions ADD COLUMN owner_start TEXT")
        except (OSError, sqlite3.Error) as exc:
            raise StateStoreError(f"cannot open the state store in {directory}: {exc}") from None
        return store

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the database write lock at its start.

        A database that refuses the write (read-only, full, damaged, locked past the busy timeout)
        raises StateStoreError: a message for the person, never a traceback.
        """
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StateStoreError(f"cannot write the state store in {self.state_dir}: {exc}",
                                  hint="check the folder and state.db are writable and the disk has room") from None

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection for reads outside a write transaction; a database that cannot be read
        (damaged pages, not a database) raises StateStoreError."""
        try:
            yield self.conn
        except sqlite3.Error as exc:
            raise StateStoreError(f"the state store cannot be read: {exc}", hint=UNREADABLE_HINT) from None

    @contextmanager
    def lock(self, plan_name: str) -> Iterator[None]:
        """Exclusive across processes: at most one process moves a plan's router at a time.

        Re-entrant within this store (reconcile runs inside an advance that already holds it).
        """
        if plan_name in self._held:
            yield
            return
        path = self.state_dir / f"{_safe(plan_name)}.lock"
        with open(path, "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            self._held.add(plan_name)
            try:
                yield
            finally:
                self._held.discard(plan_name)
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # --- rollout state -------------------------------------------------------------------------

    def get(self, plan_name: str) -> RolloutState | None:
        with self.read() as conn:
            row = conn.execute("SELECT * FROM rollouts WHERE plan = ?", (plan_name,)).fetchone()
        if row is None:
            return None
        return RolloutState(
            plan=row["plan"], status=row["status"], stage=row["stage"],
            stage_started_at=_time(row["stage_started_at"]), candidate_traffic=row["candidate_traffic"],
            shadow=row["shadow"], rollback_incomplete=bool(row["rollback_incomplete"]),
            approved_stage=row["approved_stage"], last_verdict=row["last_verdict"],
            last_decision=row["last_decision"], last_evaluated_at=_time(row["last_evaluated_at"]),
            updated_at=_time(row["updated_at"]),
        )

    def put(self, conn: sqlite3.Connection, state: RolloutState) -> None:
        """Write `state` whole, inside the caller's write transaction."""
        values = {
            "status": state.status, "stage": state.stage,
            "stage_started_at": format_time(state.stage_started_at) if state.stage_started_at else None,
            "candidate_traffic": state.candidate_traffic, "shadow": state.shadow,
            "rollback_incomplete": int(state.rollback_incomplete), "approved_stage": state.approved_stage,
            "last_verdict": state.last_verdict, "last_decision": state.last_decision,
            "last_evaluated_at": format_time(state.last_evaluated_at) if state.last_evaluated_at else None,
        }
        columns = ", ".join(("plan", *STATE_COLUMNS, "updated_at"))
        marks = ", ".join("?" for _ in range(len(STATE_COLUMNS) + 2))
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*STATE_COLUMNS, "updated_at"))
        conn.execute(
            f"INSERT INTO rollouts ({columns}) VALUES ({marks}) ON CONFLICT(plan) DO UPDATE SET {updates}",
            (state.plan, *(values[c] for c in STATE_COLUMNS), format_time(utc_now())),
        )

    # --- audit trail ---------------------------------------------------------------------------

    def record_event(self, plan: Plan, action: str, actor: str, allowed: bool, reason: str,
                     from_stage: str | None = None, to_stage: str | None = None,
                     evidence: dict[str, Any] | None = None, *, at: datetime | None = None,
                     conn: sqlite3.Connection | None = None) -> None:
        """Append one attempt to the audit trail, with the plan's secrets redacted.

        Inside a caller's transaction pass `conn`; otherwise the event is its own transaction.
        """
        templates = secret_templates(plan)
        row = (
            plan.name, format_time(at or utc_now()), redact(actor, templates), action, from_stage, to_stage,
            int(allowed), redact(reason, templates),
            json.dumps(redact_value(evidence, templates), default=str) if evidence is not None else None,
        )
        sql = ("INSERT INTO events (plan, at, actor, action, from_stage, to_stage, allowed, reason, evidence) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        if conn is not None:
            conn.execute(sql, row)
        else:
            with self.write() as c:
                c.execute(sql, row)

    def events(self, plan_name: str, action: str | None = None) -> list[AuditEvent]:
        """The plan's audit trail, oldest first; only `action` events when given."""
        sql = "SELECT * FROM events WHERE plan = ?"
        params: tuple[Any, ...] = (plan_name,)
        if action is not None:
            sql += " AND action = ?"
            params += (action,)
        with self.read() as conn:
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        return [
            AuditEvent(id=r["id"], plan=r["plan"], at=parse_time(r["at"]), actor=r["actor"], action=r["action"],
                       from_stage=r["from_stage"], to_stage=r["to_stage"], allowed=bool(r["allowed"]),
                       reason=r["reason"], evidence=json.loads(r["evidence"]) if r["evidence"] else None)
            for r in rows
        ]

    # --- evaluation history (docs/report.md) ---------------------------------------------------

    def record_evaluation(self, record: EvaluationRecord, *, conn: sqlite3.Connection | None = None) -> int:
        """Keep one evaluation and its checks (two tables, plain columns); its id.

        Inside a caller's transaction pass `conn`; otherwise it is its own transaction.
        """
        def insert(c: sqlite3.Connection) -> int:
            row = c.execute(
                "INSERT INTO evaluations (plan, at, actor, source, stage, verdict, since, until, baseline_units, "
                "candidate_units, srm_outcome, srm_p_value, reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id",
                (record.plan, format_time(record.at), record.actor, record.source, record.stage, record.verdict,
                 format_time(record.since), format_time(record.until), record.baseline_units,
                 record.candidate_units, record.srm_outcome, record.srm_p_value, json.dumps(list(record.reasons))),
            ).fetchone()
            evaluation_id = int(row["id"])
            for i, k in enumerate(record.checks):  # one statement each: the PostgreSQL store has no executemany
                c.execute(
                    "INSERT INTO evaluation_checks (evaluation_id, position, metric, guard, segment, segment_value, "
                    "outcome, estimate, low, high, limit_low, limit_high, baseline, candidate, baseline_units, "
                    "candidate_units) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (evaluation_id, i, k.metric, k.guard, k.segment[0] if k.segment else None,
                     k.segment[1] if k.segment else None, k.outcome, k.estimate, k.low, k.high, k.limit_low,
                     k.limit_high, k.baseline, k.candidate, k.baseline_units, k.candidate_units))
            return evaluation_id

        if conn is not None:
            return insert(conn)
        with self.write() as c:
            return insert(c)

    def evaluations(self, plan_name: str) -> list[EvaluationRecord]:
        """Every kept evaluation of the plan, oldest first, with its checks in their original order."""
        rows = self.conn.execute("SELECT * FROM evaluations WHERE plan = ? ORDER BY id", (plan_name,)).fetchall()
        checks: dict[int, list[CheckRecord]] = {}
        for k in self.conn.execute(
                "SELECT c.* FROM evaluation_checks c JOIN evaluations e ON e.id = c.evaluation_id "
                "WHERE e.plan = ? ORDER BY c.evaluation_id, c.position", (plan_name,)):
            checks.setdefault(k["evaluation_id"], []).append(CheckRecord(
                metric=k["metric"], guard=k["guard"],
                segment=(k["segment"], k["segment_value"]) if k["segment"] is not None else None,
                outcome=k["outcome"], estimate=k["estimate"], low=k["low"], high=k["high"],
                limit_low=k["limit_low"], limit_high=k["limit_high"], baseline=k["baseline"],
                candidate=k["candidate"], baseline_units=k["baseline_units"], candidate_units=k["candidate_units"]))
        return [EvaluationRecord(
            plan=r["plan"], at=parse_time(r["at"]), actor=r["actor"], source=r["source"], stage=r["stage"],
            verdict=r["verdict"], since=parse_time(r["since"]), until=parse_time(r["until"]),
            baseline_units=r["baseline_units"], candidate_units=r["candidate_units"], srm_outcome=r["srm_outcome"],
            srm_p_value=r["srm_p_value"], reasons=tuple(json.loads(r["reasons"])),
            checks=tuple(checks.get(r["id"], ())), id=r["id"]) for r in rows]


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
