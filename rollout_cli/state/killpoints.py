"""A reproducible crash hook for the fault tests.

With ROLLOUT_KILL_AT=<point>, the process sends itself SIGKILL when it reaches that named
point of a transition: no cleanup, no finally blocks, exactly like `kill -9` or a lost machine.
The points are listed in KILL_POINTS and in docs/operations.md. Unset, this costs one lookup.
"""

from __future__ import annotations

import os
import signal

KILL_POINTS = (
    # start and advance (kind = "start" or "advance")
    "advance:after-intent",  # journal says intent; router untouched
    "advance:after-apply",  # router written; journal still says intent
    "advance:after-applied",  # journal says applied; not verified
    "advance:after-verified",  # journal says verified; state not moved yet
    "start:after-intent",
    "start:after-apply",
    "start:after-verified",
    # rollback
    "rollback:after-intent",
    "rollback:after-route",  # router set to baseline; journal still says intent
    "rollback:after-applied",
    "rollback:after-verified",
    "rollback:after-steps",  # every step ran; state not marked rolled back yet
)


def kill_point(name: str) -> None:
    """Die here with SIGKILL when ROLLOUT_KILL_AT names this point."""
    if os.environ.get("ROLLOUT_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
        # Still here: PID 1 of a PID namespace ignores signals it sends itself. Its end is the
        # same as a kill -9 from outside (an OOM kill): gone at once, no cleanup of any kind.
        os._exit(137)
