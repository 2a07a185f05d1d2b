"""A throwaway PostgreSQL cluster on loopback, started by the tests themselves.

initdb (as the `postgres` user when the suite runs as root: the server refuses to run as root),
then pg_ctl on 127.0.0.1 and a free port, with its socket in the data folder and fsync off (a
test cluster need not survive power loss). Authentication is `trust`: any role connects without
a password, which is what lets the identity tests connect as several roles.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUITE_PEOPLE = ("alice", "bob", "carol", "mallory")


def pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    SUPERUSER = "test"

    def __init__(self) -> None:
        binaries = pg_bin()
        if binaries is None:
            raise FileNotFoundError("PostgreSQL is not installed (scripts/test installs it)")
        self.bin = binaries
        self.root = Path(tempfile.mkdtemp(prefix="rollout-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._names = itertools.count(1)
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", "postgres", "--", *argv] if self.as_root else list(argv)
        return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)

    def start(self) -> PgCluster:
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", self.SUPERUSER,
                      "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
                   "-c fsync=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
                  "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop("immediate")
        self.start()

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "postgres"):  # type: ignore[no-untyped-def]
        import psycopg
        from psycopg.rows import dict_row

        return psycopg.connect(self.url(database), autocommit=True, row_factory=dict_row)

    def new_database(self, *, init: bool = True) -> str:
        """A fresh database (schema initialised unless init=False); its URL as the superuser.

        The superuser may act as the people of the suite's plans (--as alice, bob, carol, mallory),
        so the command tests run unchanged on both stores; tests/shared_state gives roles their own.
        """
        name = f"t{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = self.url(name)
        if init:
            from rollout_cli.state import pg_schema

            with self.admin(name) as conn:
                pg_schema.migrate(conn)
                pg_schema.grant(conn, self.SUPERUSER, [self.SUPERUSER, *SUITE_PEOPLE])
        return url

    def role(self, name: str) -> None:
        with self.admin() as conn:
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                conn.execute(f'CREATE ROLE "{name}" LOGIN')
