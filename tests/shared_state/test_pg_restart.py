"""The PostgreSQL server restarts in the middle of a rollback: exit 4 with the manual steps,
never a false "rolled back"; the next command finishes the rollback from the journal."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from kill_trials import state_env
from rollout_support import T0, cli, router_split, write_plan

from rollout_cli.plan import load_plan
from rollout_cli.routers.base import BASELINE_ONLY
from rollout_cli.state.locate import open_store
from rollout_cli.transitions import moves
from rollout_cli.transitions.context import Rollout


@pytest.mark.slow
def test_a_server_restart_mid_rollback_exits_4_with_manual_steps(tmp_path: Path, pg_cluster) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.new_database()
    pg_ctl = [str(pg_cluster.bin / "pg_ctl"), "-D", str(pg_cluster.data), "-m", "immediate", "-w", "restart"]
    if pg_cluster.as_root:
        pg_ctl = ["runuser", "-u", "postgres", "--", *pg_ctl]
    # pg_ctl restart keeps the server's options; the step runs after the router is at the baseline
    # only once: the next command resumes the rollback and runs its steps again
    marker = tmp_path / "restarted"
    restart = f"[ -e {marker} ] || {{ touch {marker}; {shlex.join(pg_ctl)} >/dev/null; }}"
    path = write_plan(tmp_path, extra_steps=f"    - run: [sh, -c, {json.dumps(restart)}]\n      timeout: 30s\n")
    rollout = Rollout.open(load_plan(path), open_store(url))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    moves.advance(rollout, "shadow", rollout.plan.stage("canary"), actor="alice", reason="setup", now=T0,
                  evidence=None)
    rollout.store.close()

    result = cli(["rollback", str(path), "--reason", "restart test", "--as", "bob"], cwd=tmp_path,
                 env=state_env(url))
    assert result.returncode == 4, result.stdout + result.stderr
    assert "rolled back" not in result.stdout.lower().replace("rollback", "")
    assert "the rollback stopped, the router may not be at the baseline" in result.stderr
    assert "to send every request to the baseline by hand" in result.stderr
    assert router_split(tmp_path) == BASELINE_ONLY  # the route step had run

    # The server is back; the journal still holds the open rollback, and its owner's lock is gone:
    # status reports it (read-only), the next tick finishes it.
    status = cli(["status", str(path), "--json"], cwd=tmp_path, env=state_env(url))
    assert status.returncode == 4 and json.loads(status.stdout)["interrupted"], status.stderr
    tick = cli(["tick", str(path), "--json"], cwd=tmp_path, env=state_env(url))
    assert json.loads(tick.stdout)["reconciled"][0].startswith("finished the interrupted rollback"), tick.stderr
    doc = json.loads(cli(["status", str(path), "--json"], cwd=tmp_path, env=state_env(url)).stdout)
    assert doc["status"] == "rolled_back"
