"""The demo's rollout (a harm on iOS caught at ramp-25), run once per test folder that needs it."""

from __future__ import annotations

from pathlib import Path

from rollout_cli.sim.demo import DemoSummary, run_demo


def demo_rollout(directory: Path) -> DemoSummary:
    summary = run_demo(directory, seed=7)
    assert summary.caught_the_segment, "the demo no longer tells its story"
    return summary
