"""The controller's own rollback (`tick`) when PostgreSQL goes away in the middle of it: exit 4 with
the router's manual commands (docs/commands.md: a rollback that could not be completed or verified),
never exit 2 as for a bad input; the next tick finishes the rollback from the journal."""

from __future__ import annotations

import json
import shlex
from datetime import timedelta
from pathlib import Path

import pytest
from kill_trials import state_env
from rollout_support import T0, cli, router_split, simulate, write_plan

from rollout_cli.plan import load_plan
from rollout_cli.routers.base import BASELINE_ONLY
from rollout_cli.state.locate import open_store
from rollout_cli.transitions import moves
from rollout_cli.transitions.context import Rollout


@pytest.mark.slow
def test_a_server_restart_during_the_controllers_rollback_exits_4(tmp_path: Path, pg_cluster) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.new_database()
    pg_ctl = [str(pg_cluster.bin / "pg_ctl"), "-D", str(pg_cluster.data), "-m", "immediate", "-w", "restart"]
    if pg_cluster.as_root:
        pg_ctl = ["runuser", "-u", "postgres", "--", *pg_ctl]
    marker = tmp_path / "restarted"  # the server restarts once, after the router is at the baseline
    restart = f"[ -e {marker} ] || {{ touch {marker}; {shlex.join(pg_ctl)} >/dev/null; }}"
    # a failing guard, or no verdict past max_duration: either way the controller rolls back
    path = write_plan(tmp_path, decision="{max_duration: 1h, on_inconclusive: rollback}",
                      extra_steps=f"    - run: [sh, -c, {json.dumps(restart)}]\n      timeout: 30s\n")
    plan = load_plan(path)
    rollout = Rollout.open(plan, open_store(url))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    moves.advance(rollout, "shadow", plan.stage("canary"), actor="alice", reason="setup", now=T0, evidence=None)
    started = rollout.state().stage_started_at  # when the split was verified (the real clock)
    rollout.store.close()
    assert started is not None
    # an hour of canary with a harm on iOS: the controller rolls back
    simulate(plan, tmp_path, started, 1.2, candidate_pct=5, shadow_pct=0, part=2, units=60_000,
             segment_effect=("platform", "ios", -0.6))
    env = {**state_env(url), "ROLLOUT_NOW": (started + timedelta(hours=1.2)).isoformat()}

    tick = cli(["tick", str(path)], cwd=tmp_path, env=env)
    assert tick.returncode == 4, tick.stdout + tick.stderr
    assert "the rollback stopped, the router may not be at the baseline" in tick.stderr
    assert "to send every request to the baseline by hand" in tick.stderr
    assert "rolled back" not in tick.stdout.lower().replace("rollback", "")
    assert router_split(tmp_path) == BASELINE_ONLY  # the route step had run before the server went away

    again = cli(["tick", str(path), "--json"], cwd=tmp_path, env=env)
    doc = json.loads(again.stdout)
    assert doc["reconciled"][0].startswith("finished the interrupted rollback"), again.stderr
    status = json.loads(cli(["status", str(path), "--json"], cwd=tmp_path, env=env).stdout)
    assert (status["status"], status["rollback_incomplete"]) == ("rolled_back", False)
