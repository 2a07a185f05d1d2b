"""Whether the process that opened a transition still runs — robust to PID reuse and PID namespaces.

A bare PID is not an identity: PIDs are reused, and a process that was PID 1 in its own PID
namespace (a container's entrypoint) is recorded as 1, which every checker outside that
namespace sees as its own, always-alive init. So the journal records, beside the PID, the
process as /proc names it: the PID in /proc's namespace, the process's start time (clock ticks
after boot) and the boot id. The owner is alive only while /proc shows a process with that PID
*and* that start time, on the same boot, that is not a zombie. Without procfs (not Linux), the
old check (signal 0 to the PID) is the fallback. docs/operations.md, "The journal".
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: str) -> tuple[str, str, str] | None:
    """(pid as /proc names it, state letter, start time) of /proc/PID/stat, or None."""
    try:
        text = (PROC / pid / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    head, _, rest = text.rpartition(")")  # the command name may hold spaces and parentheses
    fields = rest.split()
    if len(fields) < 20 or not head:
        return None
    return head.split(" (", 1)[0].strip(), fields[0], fields[19]


def _boot_id() -> str:
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def process_identity() -> str | None:
    """This process as "PID:START:BOOT" (PID and start time as /proc shows them), or None
    without procfs."""
    own = _stat("self")
    if own is None:
        return None
    pid, _, start = own
    return f"{pid}:{start}:{_boot_id()}"


def identity_alive(identity: str) -> bool | None:
    """Whether the process `identity` names still runs; None when this machine cannot tell
    (no procfs, or an identity recorded without it)."""
    parts = identity.split(":")
    if len(parts) != 3 or process_identity() is None:
        return None
    pid, start, boot = parts
    if boot != _boot_id():
        return False  # recorded before a reboot: every process of then is gone
    found = _stat(pid)
    if found is None:
        return False
    _, state, started = found
    return started == start and state not in ("Z", "X")


def pid_alive(pid: int) -> bool:
    """The fallback: a process with this PID exists (it may be another one, after reuse)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
