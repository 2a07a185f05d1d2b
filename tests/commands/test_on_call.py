"""The 3am path: state found from the plan from any directory, a rollback that acts on what the
router reports, a start that never builds over a live router, and an audit trail that says
whether things worked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from rollout_support import router_split, write_plan

from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit


def rollout(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`rollout ARGS` as a real process with no state folder given: it must be found from the plan."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("ROLLOUT_STATE_DIR", "ROLLOUT_NOW")}
    full_env.update({"COLUMNS": "200", **env})
    return subprocess.run([sys.executable, "-m", "rollout_cli", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=60, check=False)


def repository(tmp_path: Path) -> tuple[Path, Path]:
    """A checkout with `.git` and `plans/ranker.yaml`; returns (root, plan)."""
    root = tmp_path / "work" / "churn"
    (root / ".git").mkdir(parents=True)
    (root / "plans").mkdir()
    plan = write_plan(root / "plans", router_options=json.dumps({"path": str(root / "router.json")}))
    return root, plan


def test_a_rollback_from_another_directory_finds_the_state_beside_the_repository(tmp_path: Path) -> None:
    root, plan = repository(tmp_path)
    assert rollout(["start", str(plan), "--as", "alice"], cwd=root).returncode == 0
    assert (root / ".rollout" / "state.db").is_file()
    home = tmp_path / "home"
    home.mkdir()
    status = rollout(["status", str(plan), "--json"], cwd=home)
    doc = json.loads(status.stdout)
    assert (status.returncode, doc["status"], doc["stage"], doc["state_dir"]) == (0, "running", "shadow",
                                                                                str(root / ".rollout"))
    assert not (home / ".rollout").exists()  # status never creates state
    result = rollout(["rollback", str(plan), "--reason", "x", "--as", "bob"], cwd=home)
    assert result.returncode == 0, result.stderr
    assert router_split(root) == BASELINE_ONLY
    assert not (home / ".rollout").exists()
    events = json.loads(rollout(["history", "plans/ranker.yaml", "--json"], cwd=root).stdout)["events"]
    assert [e["action"] for e in events] == ["start", "rollback"]


def test_an_unrelated_state_folder_in_the_working_directory_is_ignored(tmp_path: Path) -> None:
    root, plan = repository(tmp_path)
    other = tmp_path / "elsewhere"
    other.mkdir()
    other_plan = write_plan(other, router_options=json.dumps({"path": str(other / "router.json")}))
    assert rollout(["start", str(other_plan), "--as", "alice"], cwd=other).returncode == 0  # other/.rollout
    assert rollout(["start", str(plan), "--as", "alice"], cwd=root).returncode == 0
    assert rollout(["advance", str(plan), "--force", "--reason", "x", "--as", "carol"], cwd=other).returncode == 0
    assert router_split(root) == RouterSplit(5, 0)
    result = rollout(["rollback", str(plan), "--reason", "x", "--as", "bob"], cwd=other)
    assert result.returncode == 0, result.stderr
    assert router_split(root) == BASELINE_ONLY
    # the unrelated rollout in other/.rollout is untouched: still running at shadow
    assert json.loads(rollout(["status", str(other_plan), "--json"], cwd=other).stdout)["stage"] == "shadow"


def test_the_plan_may_declare_its_state_folder(tmp_path: Path) -> None:
    root, plan = repository(tmp_path)
    plan.write_text(plan.read_text() + "state: {dir: ../var/state}\n")
    assert rollout(["start", str(plan), "--as", "alice"], cwd=tmp_path).returncode == 0
    assert (root / "var" / "state" / "state.db").is_file() and not (root / ".rollout").exists()


def test_commands_without_state_say_where_they_looked_and_create_nothing(tmp_path: Path) -> None:
    root, plan = repository(tmp_path)
    (root / "router.json").write_text('{"candidate_traffic": 0.0, "shadow": 0.0}')
    status = rollout(["status", str(plan)], cwd=tmp_path, COLUMNS="60")
    assert status.returncode == 0
    words = " ".join(re.sub("[│╭╮╰╯─]", " ", status.stdout).split())
    assert "no state there yet" in words and "(beside the plan's repository root" in words
    doc = json.loads(rollout(["status", str(plan), "--json"], cwd=tmp_path).stdout)
    assert (doc["state_found"], doc["state_dir"]) == (False, str(root / ".rollout"))
    advance = rollout(["advance", str(plan), "--as", "alice"], cwd=tmp_path)
    assert advance.returncode == 2
    assert f"no rollout state for ranker: looked in {root / '.rollout'}" in " ".join(advance.stderr.split())
    history = rollout(["history", str(plan)], cwd=tmp_path)
    assert history.returncode == 0 and "looked in" in history.stderr
    assert not (root / ".rollout").exists() and not (tmp_path / ".rollout").exists()


def test_a_rollback_without_state_moves_a_router_that_serves_the_candidate(tmp_path: Path) -> None:
    root, plan = repository(tmp_path)
    (root / "router.json").write_text('{"candidate_traffic": 25.0, "shadow": 0.0}')  # live, state lost
    status = rollout(["status", str(plan), "--json"], cwd=tmp_path)
    doc = json.loads(status.stdout)
    assert status.returncode == 4 and doc["router_agrees"] is False
    assert doc["next"].startswith("ROUTER SERVES THE CANDIDATE: the router reports candidate 25% served")
    result = rollout(["rollback", str(plan), "--reason", "state lost", "--as", "bob", "--json"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outcome"] == "rolled_back"
    assert router_split(root) == BASELINE_ONLY
    (event,) = json.loads(rollout(["history", str(plan), "--json"], cwd=tmp_path).stdout)["events"]
    assert event["evidence"]["state_said"] == "not_started"
    assert event["evidence"]["router_found"] == {"candidate_traffic": 25.0, "shadow": 0.0}
    assert event["succeeded"] is True
    # at the baseline with no rollout: nothing to do, and said so (exit 0)
    again = rollout(["rollback", str(plan), "--reason", "again", "--as", "bob"], cwd=tmp_path)
    assert again.returncode == 0 and "already rolled back" in again.stdout


def test_start_refuses_a_live_router_unless_told_to_adopt_it(tmp_path: Path) -> None:
    root, plan = repository(tmp_path)
    (root / "router.json").write_text('{"candidate_traffic": 5.0, "shadow": 0.0}')
    refused = rollout(["start", str(plan), "--as", "alice"], cwd=tmp_path)
    assert refused.returncode == 2
    assert "start of ranker refused: the router serves candidate 5% served" in " ".join(refused.stderr.split())
    assert router_split(root) == RouterSplit(5, 0)  # not moved back to the shadow stage
    adopted = rollout(["start", str(plan), "--adopt", "--as", "alice", "--json"], cwd=tmp_path)
    assert adopted.returncode == 0, adopted.stderr
    assert json.loads(adopted.stdout)["stage"] == "canary" and router_split(root) == RouterSplit(5, 0)
    events = json.loads(rollout(["history", str(plan), "--json"], cwd=tmp_path).stdout)["events"]
    assert [(e["action"], e["evidence"]["result"], e["succeeded"]) for e in events] == [
        ("start", "refused", False), ("start", "adopted", True)]


def test_history_ok_is_success_not_permission_and_nothing_is_cut(tmp_path: Path) -> None:
    root, plan = repository(tmp_path)
    assert rollout(["start", str(plan), "--as", "alice"], cwd=root).returncode == 0
    (root / "router.json").unlink()
    (root / "router.json").mkdir()  # the router is gone: the rollback cannot be verified
    reason = "conversion down on iOS since 02:40 (candidate 11% below) see incident INC-4242 for the graphs"
    assert rollout(["rollback", str(plan), "--reason", reason, "--as", "bob"], cwd=root).returncode == 4
    events = json.loads(rollout(["history", str(plan), "--json"], cwd=root).stdout)["events"]
    assert [(e["action"], e["allowed"], e["succeeded"]) for e in events] == [("start", True, True),
                                                                          ("rollback", True, False)]
    for columns in ("60", "40"):
        text = rollout(["history", str(plan)], cwd=root, COLUMNS=columns).stdout
        assert "ok: FAILED" in text and "ok: yes" in text
        assert " ".join(reason.split()) in " ".join(text.split())  # every word, none cut


def test_run_in_a_pipe_prints_one_line_per_tick_as_it_happens(tmp_path: Path) -> None:
    root, plan = repository(tmp_path)
    assert rollout(["start", str(plan), "--as", "alice"], cwd=root).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "ROLLOUT_STATE_DIR"}
    for flag, check in (("", lambda line: " tick 1 stage shadow verdict " in line),
                        ("--json-lines", lambda line: json.loads(line)["tick"] == 1)):
        process = subprocess.Popen([sys.executable, "-m", "rollout_cli", "run", str(plan), "--interval", "3s",
                                    "--max-ticks", "2", *([flag] if flag else [])], cwd=tmp_path, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = process.stdout.readline() if process.stdout else ""
            assert process.poll() is None, "the first tick's line came only when the loop ended"
            assert check(first), first
            out, _ = process.communicate(timeout=60)
        finally:
            process.kill()
        lines = [first, *out.splitlines()]
        assert len([line for line in lines if line.strip()]) == 2  # one per tick, nothing redrawn


def test_the_runbooks_rollback_command_works_from_any_directory(tmp_path: Path) -> None:
    root, plan = repository(tmp_path)
    assert rollout(["runbook", "generate", "plans/ranker.yaml"], cwd=root).returncode == 0
    text = (root / "runbooks" / "ranker.md").read_text()
    line = next(x for x in text.splitlines() if x.startswith("rollout rollback "))
    assert line.startswith('rollout rollback "${ROLLOUT_REPO:-.}"/plans/ranker.yaml --reason')
    # generated from another directory, the runbook is the same bytes
    assert rollout(["runbook", "check", str(plan), "-o", str(root / "runbooks" / "ranker.md")],
                   cwd=tmp_path).returncode == 0
    assert rollout(["start", str(plan), "--as", "alice"], cwd=root).returncode == 0
    home = tmp_path / "home"
    home.mkdir()
    command = line.replace("WHAT YOU SAW", "drill at 3am").replace("YOUR_NAME", "bob")
    env = {k: v for k, v in os.environ.items() if k != "ROLLOUT_STATE_DIR"}
    done = subprocess.run(["bash", "-c", command.replace("rollout ", f"{sys.executable} -m rollout_cli ", 1)],
                          cwd=home, env={**env, "ROLLOUT_REPO": str(root)}, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert router_split(root) == BASELINE_ONLY and not (home / ".rollout").exists()


def _logical(database: Path) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(database) as conn:
        return [row for table in ("rollouts", "transitions", "events")
                for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1")]  # noqa: S608 - fixed names


def test_read_only_commands_change_nothing(tmp_path: Path) -> None:
    root, plan = repository(tmp_path)
    assert rollout(["start", str(plan), "--as", "alice"], cwd=root).returncode == 0
    router = root / "router.json"
    before = (_logical(root / ".rollout" / "state.db"), router.read_bytes(), router.stat().st_mtime_ns)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["status", str(plan)], ["status", str(plan), "--json"], ["history", str(plan)],
                 ["evaluate", str(plan)], ["plan", "show", str(plan)], ["plan", "validate", str(plan)]):
        rollout(args, cwd=elsewhere)
    after = (_logical(root / ".rollout" / "state.db"), router.read_bytes(), router.stat().st_mtime_ns)
    assert after == before
    assert list(elsewhere.iterdir()) == []  # nothing written where they ran
