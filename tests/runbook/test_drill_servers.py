"""Drills against real nginx and HAProxy on loopback: the split moves, the rollback steps run,
the router is put back as found, and real requests go where the router says."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from runbook_helpers import plan_text

from rollout_cli.routers.base import RouterSplit
from rollout_cli.state.store import StateStore
from tests.servers import HAProxyStack, NginxStack, send_requests, wait_until

pytestmark = pytest.mark.servers


def _plan_with_router(adapter: str, options: dict, run_steps) -> str:
    section = f"router:\n  adapter: {adapter}\n  options: {json.dumps(options)}\n"
    text = plan_text(run_steps).replace("router:\n  adapter: file\n  options: {path: router.json}\n", section)
    assert section in text
    return text


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[NginxStack]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    stack = NginxStack(tmp_path / "nginx")
    yield stack
    stack.stop()


@pytest.fixture
def haproxy() -> Iterator[HAProxyStack]:
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed")
    # a short folder: UNIX socket paths are limited to 107 bytes, pytest's tmp_path can be longer
    root = Path(tempfile.mkdtemp(prefix="rollout-hx-"))
    stack = HAProxyStack(root)
    yield stack
    stack.stop()
    shutil.rmtree(root, ignore_errors=True)


def _drill_events(workspace) -> list:
    return StateStore.open(workspace.root / "state").events("ranker-v7", action="drill")


def test_nginx_drill_passes_and_restores_the_mirror(workspace, rollout, nginx: NginxStack) -> None:
    found = RouterSplit(candidate_traffic=0.0, shadow=100.0)  # in shadow: mirror everything, serve nothing
    nginx.router().apply(found)
    wait_until(lambda: nginx.router().verify(found), what="nginx to serve the shadow split")
    workspace.write_plan(_plan_with_router("nginx", nginx.options(), [(["true"], "5s")]))
    result = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["outcome"] == "pass" and doc["restored_split"] == found.to_json()
    assert nginx.router().read() == found
    nginx.candidate.clear()
    answers = send_requests(nginx.port, 40)
    assert {a.model for a in answers} == {"baseline"}
    # the mirror is back (mirrored requests may land just after the answers they copy)
    wait_until(lambda: len([h for h in nginx.candidate.hits() if h.shadow]) == 40, what="40 mirrored requests")


def test_nginx_drill_with_a_failing_step(workspace, rollout, nginx: NginxStack) -> None:
    workspace.write_plan(_plan_with_router("nginx", nginx.options(), [(["false"], None)]))
    result = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state")
    assert result.code == 1
    assert "drill failed: step 3 `run false` failed: exited 1" in result.err
    assert nginx.router().read() == RouterSplit(0.0, 0.0)
    assert {a.model for a in send_requests(nginx.port, 20)} == {"baseline"}
    (event,) = _drill_events(workspace)
    assert event.evidence["outcome"] == "fail"


def test_haproxy_drill_passes_and_restores_the_weights(workspace, rollout, haproxy: HAProxyStack) -> None:
    found = RouterSplit(candidate_traffic=50.0, shadow=0.0)  # found mid-ramp on a staging router
    haproxy.router().apply(found)
    workspace.write_plan(_plan_with_router("haproxy", haproxy.options(), [(["true"], "5s")]))
    result = rollout("drill", "plan.yaml", "--as", "bob", "--state-dir", "state", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert [s["outcome"] for s in doc["steps"]] == ["pass", "pass", "pass"]
    assert haproxy.router().read() == found
    models = [a.model for a in send_requests(haproxy.port, 40)]
    assert models.count("candidate") == 20  # round robin at 1:1, exactly


def test_haproxy_drill_with_a_step_that_overruns(workspace, rollout, haproxy: HAProxyStack) -> None:
    workspace.write_plan(_plan_with_router("haproxy", haproxy.options(), [(["sleep", "5"], "1s")]))
    result = rollout("drill", "plan.yaml", "--as", "bob", "--state-dir", "state", "--json")
    assert result.code == 1
    assert json.loads(result.out)["failure"] == "step 3 `run sleep 5` failed: timed out after 1s"
    assert haproxy.router().read() == RouterSplit(0.0, 0.0)
    assert {a.model for a in send_requests(haproxy.port, 20)} == {"baseline"}
