"""`rollout runbook generate | check`: exact content, determinism, staleness."""

from __future__ import annotations

import os
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from runbook_helpers import edited_plan_text, plan_text

from rollout_cli.plan import load_plan
from rollout_cli.runbook.render import build_runbook
from rollout_cli.state.drills import DRILL_ACTION
from rollout_cli.state.store import StateStore

GOLDEN = Path(__file__).parent / "golden" / "ranker-v7.md"


def test_generate_writes_the_golden_runbook(workspace, rollout) -> None:
    result = rollout("runbook", "generate", "plan.yaml")
    assert (result.code, result.out) == (0, "wrote runbooks/ranker-v7.md\n")
    assert (workspace.root / "runbooks" / "ranker-v7.md").read_text() == GOLDEN.read_text()


def test_output_is_deterministic_and_not_rewritten(workspace, rollout) -> None:
    out = workspace.root / "book.md"
    assert rollout("runbook", "generate", "plan.yaml", "-o", "book.md").code == 0
    first, mtime = out.read_bytes(), out.stat().st_mtime_ns
    os.utime(out, ns=(mtime - 10**9, mtime - 10**9))
    assert rollout("runbook", "generate", "plan.yaml", "-o", "book.md").code == 0
    assert out.read_bytes() == first
    assert out.stat().st_mtime_ns == mtime - 10**9  # unchanged content is not written again
    # the order people are listed in a team does not change the runbook: members are sorted
    workspace.write_plan(edited_plan_text(lambda d: d["teams"].update(oncall=["alice", "bob"])))
    assert rollout("runbook", "check", "plan.yaml", "-o", "book.md").code == 0


def test_check_passes_on_a_current_runbook(workspace, rollout) -> None:
    rollout("runbook", "generate", "plan.yaml")
    result = rollout("runbook", "check", "plan.yaml")
    assert (result.code, result.out) == (0, "runbooks/ranker-v7.md is up to date\n")


def test_check_fails_when_missing(workspace, rollout) -> None:
    result = rollout("runbook", "check", "plan.yaml")
    assert result.code == 1
    assert result.out == "runbooks/ranker-v7.md is missing\nrun: rollout runbook generate plan.yaml\n"


def test_check_fails_when_the_authority_changed(workspace, rollout) -> None:
    rollout("runbook", "generate", "plan.yaml", "-o", "book.md")
    workspace.write_plan(edited_plan_text(lambda d: d["rollback"].update(authority=["team:oncall"])))
    result = rollout("runbook", "check", "plan.yaml", "-o", "book.md")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "book.md is stale: -2 +2 lines against what generate writes now"
    assert "-- **may roll back** (`rollback.authority`): alice, bob (team `oncall`); carol" in lines
    assert "+- **may roll back** (`rollback.authority`): alice, bob (team `oncall`)" in lines
    assert lines[-1] == "run: rollout runbook generate plan.yaml -o book.md"


def _record_drill(store: StateStore, plan, *, at: datetime, digest: str | None = None, outcome: str = "pass") -> None:
    evidence = {
        "outcome": outcome, "duration_s": 1.25, "budget_s": 300.0, "rollback_digest": digest or plan.rollback.digest,
        "router": "file:path=staging.json",
        "steps": [{"name": "route baseline", "duration_s": 0.004, "outcome": "pass"},
                  {"name": "verify router", "duration_s": 0.001, "outcome": "pass"},
                  {"name": "run true", "duration_s": 1.245, "outcome": "pass"}],
    }
    store.record_event(plan, DRILL_ACTION, "alice", True, "drill", evidence=evidence, at=at)


DRILL_BLOCK = """\
<!-- drill on record -->
Last passing drill: 2026-11-20 09:30 UTC by alice, against `file:path=staging.json` — 1.25s of the 5m budget \
(rollback section `{digest}`).

| step | measured | outcome |
| --- | --- | --- |
| `route baseline` | 0.00s | pass |
| `verify router` | 0.00s | pass |
| `run true` | 1.25s | pass |
<!-- end of drill on record -->"""


def test_the_last_passing_drill_is_in_the_runbook(workspace, rollout) -> None:
    plan = load_plan(workspace.plan)
    store = StateStore.open(workspace.root / "state")
    _record_drill(store, plan, at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    _record_drill(store, plan, at=datetime(2026, 11, 21, 9, 30, tzinfo=UTC), outcome="fail")
    _record_drill(store, plan, at=datetime(2026, 11, 22, 9, 30, tzinfo=UTC), digest="0000000000000000")
    assert rollout("runbook", "generate", "plan.yaml", "--state-dir", "state").code == 0
    text = (workspace.root / "runbooks" / "ranker-v7.md").read_text()
    assert DRILL_BLOCK.format(digest=plan.rollback.digest) in text
    # CI has no drills on record: check keeps the file's drill block while it matches the rollback section
    assert rollout("runbook", "check", "plan.yaml").code == 0
    assert rollout("runbook", "check", "plan.yaml", "--state-dir", "state").code == 0
    workspace.write_plan(plan_text(budget="10m"))
    stale = rollout("runbook", "check", "plan.yaml")
    assert stale.code == 1
    assert "+No drill on record for this rollback section. Rehearse it: `rollout drill \"${ROLLOUT_REPO:-.}\"/plan.yaml` " \
           "(then regenerate this runbook with the same `--state-dir`)." in stale.out.splitlines()


def test_without_state_the_runbook_says_no_drill_and_creates_no_state(workspace, rollout) -> None:
    assert rollout("runbook", "generate", "plan.yaml").code == 0
    assert "No drill on record for this rollback section." in (workspace.root / "runbooks/ranker-v7.md").read_text()
    assert not (workspace.root / ".rollout").exists()


def test_one_output_file_cannot_hold_two_runbooks(workspace, rollout) -> None:
    (workspace.root / "other.yaml").write_text(edited_plan_text(lambda d: d.update(name="ranker-v8")))
    result = rollout("runbook", "generate", "plan.yaml", "other.yaml", "-o", "book.md")
    assert result.code == 2
    assert "error: -o names one runbook, but 2 plans were given" in result.err
    assert rollout("runbook", "generate", "plan.yaml", "other.yaml").code == 0
    assert sorted(p.name for p in (workspace.root / "runbooks").iterdir()) == ["ranker-v7.md", "ranker-v8.md"]


ROUTERS = {
    "nginx": {"config_path": "/etc/nginx/rollout/ranker.conf", "nginx_conf": "/etc/nginx/nginx.conf",
              "baseline": "10.0.0.1:8080", "candidate": "10.0.0.2:8080",
              "status_url": "http://10.0.0.3/_rollout/split"},
    "haproxy": {"socket": "/run/haproxy/admin.sock", "backend": "ranker", "baseline_server": "v6",
                "candidate_server": "v7", "state_file": "/var/lib/haproxy/server-state",
                "shadow_file": "/var/lib/rollout/ranker-mirror.json"},  # the plan has a shadow stage
    "http": {"url": "https://router.internal/splits/ranker", "token": "${env:ROUTER_TOKEN}"},
}


@pytest.mark.parametrize("adapter", sorted(ROUTERS))
def test_generating_a_runbook_contacts_no_router(adapter: str, workspace, monkeypatch) -> None:
    workspace.write_plan(plan_text(router={"adapter": adapter, "options": ROUTERS[adapter]}))

    def forbidden(*args, **kwargs):
        raise AssertionError(f"generating a runbook must not contact anything: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(subprocess, "run", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    text = build_runbook(load_plan(workspace.plan), "plan.yaml", None)
    manual = text.split("### If the tool itself is broken")[1].split("```sh\n")[1].split("\n```")[0]
    assert manual.splitlines()[-1].endswith(LAST_MANUAL_LINE[adapter])


LAST_MANUAL_LINE = {
    "nginx": "curl -fsS http://10.0.0.3/_rollout/split  # expect candidate_traffic=0 shadow=0",
    # after the weights and the state dump: the shadow file the outside mirror follows, set to 0
    "haproxy": "os.replace(p+'\"'\"'.tmp'\"'\"',p)' /var/lib/rollout/ranker-mirror.json  # the share the external "
               "mirror follows",
    # the token stays a shell variable: the runbook never holds a secret
    "http": 'curl -fsS --max-time 5 -H "Authorization: Bearer ${ROUTER_TOKEN}" "https://router.internal/splits/ranker"'
            '  # expect {"candidate_traffic": 0.0, "shadow": 0.0}',
}
