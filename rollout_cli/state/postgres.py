"""The shared store: PostgreSQL, for a team whose controller and people run on different machines.

Same tables, journal and audit trail as the SQLite store (it reuses that store's SQL), with the
server doing the locking:
  - write():  one transaction that first takes `pg_advisory_xact_lock(1, 0)` — the database-wide
    write lock SQLite's BEGIN IMMEDIATE gives, released at commit or when the connection drops;
  - lock(plan): a session advisory lock (2, hashtext(plan)), held across the transaction's
    commits for the whole move and dropped by the server when the holder's connection dies;
  - the journal's owner is the server backend (`pg_backend_pid()`), which also holds a session
    advisory lock (3, transition id) from the moment the intent is written: a transition whose lock
    can be taken has a dead owner, wherever that owner ran (no PID guessing across machines).
The actor is the authenticated role (session_user) mapped through `people` (pg_schema.py);
--as may only narrow it. Credentials come only from libpq's environment (PGPASSWORD, PGSERVICE,
~/.pgpass, a service file): a URL carrying a password is refused and no URL is printed whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rollout_cli.secrets import redact
from rollout_cli.state import pg_schema
from rollout_cli.state.base import IdentityRefused
from rollout_cli.state.records import Transition
from rollout_cli.state.store import StateStore, StateStoreError

WRITE_LOCK = (1, 0)
PLAN_LOCK_NS, OWNER_LOCK_NS = 2, 3
CONNECT_TIMEOUT_S = 10


def safe_location(url: str) -> str:
    """The URL without any password, for messages."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - a malformed URL is described, never echoed
        return "postgresql://(malformed URL)"
    if "service" in parts:
        return f"postgresql service {parts['service']}"
    user = f"{parts['user']}@" if "user" in parts else ""
    port = f":{parts['port']}" if "port" in parts else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


def _scrub(text: str) -> str:
    """An error text with libpq's password variable scrubbed, through the project's one redaction path."""
    return redact(text, ["${env:PGPASSWORD}"])


class PgConnection:
    """psycopg's connection speaking the SQLite store's dialect (`?` placeholders) and raising
    StateStoreError, so the shared SQL and every caller's error handling stay the same."""

    def __init__(self, raw: Any, location: str) -> None:
        self.raw = raw
        self.location = location
        self.owner_pid = int(raw.info.backend_pid)

    def execute(self, sql: str, params: Any = ()) -> Any:
        import psycopg

        try:
            return self.raw.execute(sql.replace("?", "%s"), params)
        except psycopg.Error as exc:
            raise StateStoreError(f"the state store {self.location} failed: {_scrub(str(exc)).strip()}",
                                  hint="check the PostgreSQL server answers (`rollout state check`)") from None

    def claim(self, transition_id: int) -> None:
        """Hold the owner lock of a transition this connection just opened (journal.begin)."""
        self.execute("SELECT pg_advisory_lock(?, ?)", (OWNER_LOCK_NS, transition_id))


class PostgresStore(StateStore):
    kind = "postgresql"
    identity_verified = True

    def __init__(self, url: str, raw: Any) -> None:
        self.url = url
        self.raw = raw
        self._location = safe_location(url)
        super().__init__(state_dir=None, connection=PgConnection(raw, self._location))  # type: ignore[arg-type]

    @property
    def location(self) -> str:
        return self._location

    @classmethod
    def connect(cls, url: str) -> Any:
        """A raw psycopg connection (autocommit, rows as dicts), or StateStoreError in words."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
        from psycopg.rows import dict_row

        location = safe_location(url)
        try:
            if "password" in conninfo_to_dict(url):
                raise StateStoreError(f"the state URL {location} carries a password: refused",
                                      hint="give credentials through PGPASSWORD, ~/.pgpass or a service file "
                                           "(PGSERVICE), never on the command line")
        except psycopg.ProgrammingError:
            raise StateStoreError(f"the state URL {location} cannot be read",
                                  hint="e.g. postgresql://rollout@db.internal:5432/rollout") from None
        try:
            # synchronous_commit on whatever the server's default: a journal phase must survive a server
            # crash once its transaction has returned (the same promise as SQLite's synchronous=FULL).
            return psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S,
                                   application_name="rollout", options="-c synchronous_commit=on")
        except psycopg.Error as exc:
            raise StateStoreError(f"cannot open the state store {location}: {_scrub(str(exc)).strip()}",
                                  hint="check the server, the role and its credentials (PGPASSWORD, ~/.pgpass, "
                                       "PGSERVICE)") from None

    @classmethod
    def open(cls, url: str) -> PostgresStore:  # type: ignore[override]
        """The store at `url`; its schema must be initialised and current (`rollout state init`)."""
        raw = cls.connect(url)
        store = cls(url, raw)
        found = pg_schema.problems(store.conn)
        if found and not found[0].startswith("the audit trail"):
            store.close()
            raise StateStoreError(f"the state store {store.location}: {found[0]}")
        return store

    def close(self) -> None:
        try:
            self.raw.close()
        except Exception:  # noqa: BLE001, S110 - a connection already lost is closed enough
            pass

    @contextmanager
    def write(self) -> Iterator[Any]:
        import psycopg

        try:
            with self.raw.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(?, ?)", WRITE_LOCK)
                yield self.conn
        except psycopg.Error as exc:
            raise StateStoreError(f"cannot write the state store {self.location}: {_scrub(str(exc)).strip()}",
                                  hint="check the PostgreSQL server answers (`rollout state check`)") from None

    @contextmanager
    def lock(self, plan_name: str) -> Iterator[None]:
        if plan_name in self._held:
            yield
            return
        self.conn.execute("SELECT pg_advisory_lock(?, hashtext(?))", (PLAN_LOCK_NS, plan_name))
        self._held.add(plan_name)
        try:
            yield
        finally:
            self._held.discard(plan_name)
            try:
                self.conn.execute("SELECT pg_advisory_unlock(?, hashtext(?))", (PLAN_LOCK_NS, plan_name))
            except StateStoreError:
                pass  # the connection is gone, and the server dropped the lock with it

    # --- owners and identity -------------------------------------------------------------------

    def is_own(self, transition: Transition) -> bool:
        return bool(transition.owner_pid == self.raw.info.backend_pid)

    def owner_alive(self, transition: Transition) -> bool:
        if self.is_own(transition):
            return True
        row = self.conn.execute("SELECT pg_try_advisory_lock(?, ?) AS free", (OWNER_LOCK_NS, transition.id)).fetchone()
        if row["free"]:
            self.conn.execute("SELECT pg_advisory_unlock(?, ?)", (OWNER_LOCK_NS, transition.id))
        return not row["free"]

    def role(self) -> str:
        return str(self.conn.execute("SELECT session_user AS role").fetchone()["role"])

    def names(self, role: str) -> list[str]:
        """The plan names the role may act as: `people`'s row, else the role's own name."""
        row = self.conn.execute("SELECT names FROM people WHERE role = ?", (role,)).fetchone()
        return list(row["names"]) if row and row["names"] else [role]

    def actor(self, requested: str | None) -> str:
        """The authenticated role's first plan name; --as (or ROLLOUT_ACTOR) may pick another of its names, no other."""
        role = self.role()
        names = self.names(role)
        wanted = (requested or os.environ.get("ROLLOUT_ACTOR") or "").strip()
        if not wanted:
            return names[0]  # the role's first name, unless --as picks another of its names
        if wanted in names:
            return wanted
        raise IdentityRefused(
            f"database role {role} may not act as {wanted}: it acts as {', '.join(names)}", role=role,
            hint="connect as the person's own role (PGUSER, a service file), or ask an administrator to map "
                 "the role: `rollout state init --grant ROLE=NAME`")
