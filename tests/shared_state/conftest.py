"""Fixtures shared by the PostgreSQL state tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_support import T0


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working folder: no state location or actor from the environment, a fixed clock."""
    monkeypatch.chdir(tmp_path)
    for name in ("ROLLOUT_STATE_URL", "ROLLOUT_STATE_DIR", "ROLLOUT_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ROLLOUT_NOW", T0.isoformat())
    return tmp_path
