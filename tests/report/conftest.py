"""The demo's rollout, run once for this folder's tests (tests/demo_rollout.py), and its report
re-rendered from a copy of its plan that also checks drift (every optional section present)."""

from __future__ import annotations

import shutil

import pytest
from demo_rollout import demo_rollout

from rollout_cli.report import WrittenReport
from rollout_cli.sim.demo import DemoSummary


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    return demo_rollout(tmp_path_factory.mktemp("demo") / "demo")


@pytest.fixture(scope="session")
def drift_report(demo: DemoSummary, tmp_path_factory: pytest.TempPathFactory) -> WrittenReport:
    """The demo's rollout reported under its plan plus `drift: {reference: {baseline_first: 1h},
    outputs: true}`: the shadow comparison and drift sections both present."""
    from rollout_cli.plan import load_plan
    from rollout_cli.plan.document import plan_yaml
    from rollout_cli.report import write_report
    from rollout_cli.sim.demo import demo_plan
    from rollout_cli.state.store import StateStore

    folder = tmp_path_factory.mktemp("drift-report")
    document = demo_plan(demo.directory)
    document["drift"] = {"reference": {"baseline_first": "1h"}, "outputs": True, "window": "1h"}
    (folder / "plan.yaml").write_text(plan_yaml(document))
    shutil.copytree(demo.directory / ".rollout", folder / "state")
    store = StateStore.open(folder / "state")
    try:
        return write_report(load_plan(folder / "plan.yaml"), store, folder / "report.html", now=demo.ticks[-1].at)
    finally:
        store.close()
