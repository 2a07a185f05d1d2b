"""Which nginx workers still accept requests with the old configuration after a reload (Linux /proc).

`nginx -s reload` only signals the master. New workers start with the new include, then the
old workers are told to stop accepting; until each has retitled itself "worker process is
shutting down" it may still take a new connection and serve the old split. A status page
that already shows the new split proves only that *a* new worker answers, so verify also waits
until none of the workers that existed before the reload still accepts connections.

Without /proc (not Linux) or without a master that can be found, these return empty results
and verification rests on the status page alone.
"""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _parent(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # the command name in parentheses may hold spaces; the fields after it are fixed
    return int(stat.rsplit(")", 1)[1].split()[1])


def masters(nginx_conf: Path | None) -> list[int]:
    """PIDs of nginx masters started with `nginx_conf` (any nginx master when it is None)."""
    found: list[int] = []
    if not PROC.is_dir():
        return found
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        title = _cmdline(int(entry.name))
        if title.startswith("nginx: master process") and (nginx_conf is None or str(nginx_conf) in title):
            found.append(int(entry.name))
    return found


def accepting_workers(master_pids: list[int]) -> set[int]:
    """Workers of those masters that still accept new connections (not shutting down)."""
    if not master_pids:
        return set()
    workers = set()
    for entry in PROC.iterdir():
        pid = int(entry.name) if entry.name.isdigit() else None
        if pid and _parent(pid) in master_pids and _cmdline(pid) == "nginx: worker process":
            workers.add(pid)
    return workers


def is_running(nginx_conf: Path) -> bool | None:
    """Whether an nginx master runs with `nginx_conf`; None when /proc cannot tell."""
    return bool(masters(nginx_conf)) if PROC.is_dir() else None
