"""The demo's rollout, run once for this folder's tests (tests/demo_rollout.py)."""

from __future__ import annotations

import pytest
from demo_rollout import demo_rollout

from rollout_cli.sim.demo import DemoSummary


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return demo_rollout(tmp_path_factory.mktemp("demo") / "demo")
