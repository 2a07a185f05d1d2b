"""The one place that decides which kind of store a command opens.

`--state` (alias `--state-dir`) takes a folder (SQLite, the embedded default) or a `postgresql://`
URL; typer fills it from $ROLLOUT_STATE_URL, then $ROLLOUT_STATE_DIR. A URL opens the shared
PostgreSQL store (state/postgres.py). Anything else is a SQLite folder, found from the plan when
there is one (state/location.py), else the folder given or ./.rollout (the `state` commands).
An empty value, or a URL of another scheme (`mysql://…`), is a usage error: never a folder named
`mysql:` or the current directory (`checked`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from rollout_cli.errors import UsageError
from rollout_cli.plan.model import Plan
from rollout_cli.state.location import DATABASE_NAME, STATE_DIR_NAME, StateLocation, is_url, locate

if TYPE_CHECKING:  # the stores are imported when one opens: a look without state needs neither
    from rollout_cli.state.store import StateStore


_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)://")
_FROM_ENV = "when not given on the command line, --state comes from ROLLOUT_STATE_URL, then ROLLOUT_STATE_DIR"


def checked(given: str | Path | None, option: str = "--state") -> str | Path | None:
    """`given` unchanged when it can name a store; UsageError (exit 2) for an empty value or a URL
    whose scheme is not PostgreSQL's (the rest of the URL is not echoed: it may hold a password)."""
    if given is None:
        return None
    text = str(given)
    hint = _FROM_ENV if option == "--state" else None
    if not text.strip():
        raise UsageError(f"{option} is empty: give a folder or a postgresql:// URL", hint=hint)
    scheme = _SCHEME.match(text)
    if scheme and not is_url(text):
        raise UsageError(f"{option} {scheme.group(1)}://…: rollout keeps state in a folder (SQLite) or a "
                         f"postgresql:// URL, not {scheme.group(1)}://", hint=hint)
    return given


def shared_url(given: str | Path | None) -> str | None:
    """The PostgreSQL URL asked for, or None for a SQLite folder."""
    text = str(checked(given)) if given is not None else os.environ.get("ROLLOUT_STATE_URL")
    return text if text and is_url(text) else None


def folder(given: str | Path | None) -> Path | None:
    """The SQLite folder given explicitly (None: find it)."""
    return None if given is None or shared_url(given) else Path(given)


def state_location(given: str | Path | None) -> str | Path | None:
    """A URL (str), a folder (Path), or None for the default folder — for commands without a plan."""
    return shared_url(given) or folder(given) or (Path(os.environ["ROLLOUT_STATE_DIR"])
                                                  if os.environ.get("ROLLOUT_STATE_DIR") else None)


def sqlite_folder(given: str | Path | None) -> Path:
    """The SQLite folder of a command without a plan: the folder given, else $ROLLOUT_STATE_DIR, else ./.rollout."""
    return folder(given) or Path(os.environ.get("ROLLOUT_STATE_DIR") or STATE_DIR_NAME)


def where(plan: Plan, given: str | Path | None) -> StateLocation:
    """Where the plan's state is, for messages: the shared store, or the SQLite folder found from the plan."""
    url = shared_url(given)
    if url:
        from rollout_cli.state.postgres import safe_location

        return StateLocation(Path(safe_location(url)), "the shared PostgreSQL store (--state or ROLLOUT_STATE_URL)")
    return locate(plan, folder(given))


def open_store(given: str | Path | None = None, plan: Plan | None = None) -> StateStore:
    """The store named by `given` (see the module docstring); a SQLite folder is created if absent."""
    from rollout_cli.state.postgres import PostgresStore
    from rollout_cli.state.store import StateStore

    url = shared_url(given)
    if url:
        return PostgresStore.open(url)
    if plan is not None:
        return StateStore.open(locate(plan, folder(given)).directory)
    where_ = state_location(given)
    return StateStore.open(where_ if isinstance(where_, Path) else None)


def existing_store(given: str | Path | None = None, plan: Plan | None = None) -> StateStore | None:
    """The store if one exists; never creates a SQLite one (reading must not leave state behind).
    A PostgreSQL store always exists once initialised; one that cannot be opened is an error."""
    url = shared_url(given)
    if url:
        from rollout_cli.state.postgres import PostgresStore

        return PostgresStore.open(url)
    directory = locate(plan, folder(given)).directory if plan is not None else sqlite_folder(given)
    if not (directory / DATABASE_NAME).is_file():
        return None
    from rollout_cli.state.store import StateStore

    return StateStore.open(directory)
