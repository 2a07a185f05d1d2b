"""Shared fixtures of the command tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_support import T0


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str) -> Path:
    """A folder with the state on each backend in turn (SQLite in .rollout, or a fresh PostgreSQL database)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROLLOUT_STATE_DIR", str(tmp_path / ".rollout"))
    monkeypatch.setenv("ROLLOUT_NOW", T0.isoformat())
    monkeypatch.delenv("ROLLOUT_ACTOR", raising=False)
    return tmp_path
