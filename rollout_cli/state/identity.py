"""Who is acting: `--as`, then ROLLOUT_ACTOR, then the login name (docs/commands.md#who-runs-a-command)."""

from __future__ import annotations

import getpass
import os

CONTROLLER = "controller"  # the actor recorded for automatic actions of `tick` and `run`


def current_actor(explicit: str | None) -> str:
    """The acting person: the explicit name, else $ROLLOUT_ACTOR, else the login name.

    getpass.getuser() raises when no login name can be found (containers running as a uid
    with no passwd entry); the uid is then the most honest name left.
    """
    for candidate in (explicit, os.environ.get("ROLLOUT_ACTOR")):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - getuser raises KeyError/OSError depending on the platform
        return f"uid:{os.getuid()}"
