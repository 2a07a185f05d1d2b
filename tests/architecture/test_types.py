"""The package type-checks (mypy, configured in pyproject.toml): annotations are part of the contract
the layers rely on, so a wrong one fails the suite, not just an editor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_package_type_checks() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "rollout_cli"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Success" in done.stdout
