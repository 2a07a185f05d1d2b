"""Drills against real nginx and HAProxy on loopback (tests/fixtures_servers.py): the split moves,
the rollback steps run, the router is put back as found, and real requests go where the router says."""

from __future__ import annotations

import json

import pytest
from runbook_helpers import plan_text
from servers import HAProxyStack, NginxStack, send_requests, wait_until

from rollout_cli.routers.base import RouterSplit
from rollout_cli.state.store import StateStore

pytestmark = pytest.mark.servers


def _plan_with_router(adapter: str, options: dict, run_steps) -> str:
    return plan_text(run_steps, router={"adapter": adapter, "options": options})


def _drill_events(workspace) -> list:
    return StateStore.open(workspace.root / "state").events("ranker-v7", action="drill")


def test_nginx_drill_passes_and_restores_the_mirror(workspace, rollout, nginx_stack: NginxStack) -> None:
    found = RouterSplit(candidate_traffic=0.0, shadow=100.0)  # in shadow: mirror everything, serve nothing
    nginx_stack.router().apply(found)
    wait_until(lambda: nginx_stack.router().verify(found), what="nginx to serve the shadow split")
    workspace.write_plan(_plan_with_router("nginx", nginx_stack.options(), [(["true"], "5s")]))
    result = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["outcome"] == "pass" and doc["restored_split"] == found.to_json()
    assert nginx_stack.router().read() == found
    nginx_stack.candidate.clear()
    answers = send_requests(nginx_stack.port, 40)
    assert {a.model for a in answers} == {"baseline"}
    # the mirror is back (mirrored requests may land just after the answers they copy)
    wait_until(lambda: len([h for h in nginx_stack.candidate.hits() if h.shadow]) == 40, what="40 mirrored requests")


def test_nginx_drill_with_a_failing_step(workspace, rollout, nginx_stack: NginxStack) -> None:
    workspace.write_plan(_plan_with_router("nginx", nginx_stack.options(), [(["false"], None)]))
    result = rollout("drill", "plan.yaml", "--as", "alice", "--state-dir", "state")
    assert result.code == 1
    assert "drill failed: step 3 `run false` failed: exited 1" in result.err
    assert nginx_stack.router().read() == RouterSplit(0.0, 0.0)
    assert {a.model for a in send_requests(nginx_stack.port, 20)} == {"baseline"}
    (event,) = _drill_events(workspace)
    assert event.evidence["outcome"] == "fail"


def test_haproxy_drill_passes_and_restores_the_weights(workspace, rollout, haproxy_stack: HAProxyStack) -> None:
    found = RouterSplit(candidate_traffic=50.0, shadow=0.0)  # found mid-ramp on a staging router
    haproxy_stack.router().apply(found)
    workspace.write_plan(_plan_with_router("haproxy", haproxy_stack.options(shadow_file=str(haproxy_stack.root / "mirror.json")), [(["true"], "5s")]))
    result = rollout("drill", "plan.yaml", "--as", "bob", "--state-dir", "state", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert [s["outcome"] for s in doc["steps"]] == ["pass", "pass", "pass"]
    assert haproxy_stack.router().read() == found
    models = [a.model for a in send_requests(haproxy_stack.port, 40)]
    assert models.count("candidate") == 20  # round robin at 1:1, exactly


def test_haproxy_drill_with_a_step_that_overruns(workspace, rollout, haproxy_stack: HAProxyStack) -> None:
    workspace.write_plan(_plan_with_router("haproxy", haproxy_stack.options(shadow_file=str(haproxy_stack.root / "mirror.json")), [(["sleep", "5"], "1s")]))
    result = rollout("drill", "plan.yaml", "--as", "bob", "--state-dir", "state", "--json")
    assert result.code == 1
    assert json.loads(result.out)["failure"] == "step 3 `run sleep 5` failed: timed out after 1s"
    assert haproxy_stack.router().read() == RouterSplit(0.0, 0.0)
    assert {a.model for a in send_requests(haproxy_stack.port, 20)} == {"baseline"}
