"""What an on-call engineer runs into at 3am: a router changed by hand or gone, a broken state
store, advancing what cannot advance, a failing router at start, a bad `run` option."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from rollout_support import T0, cli, router_split, write_plan

from rollout_cli.routers.base import BASELINE_ONLY

NOW = {"ROLLOUT_NOW": T0.isoformat()}


def _started(directory: Path) -> Path:
    plan = write_plan(directory)
    assert cli(["start", str(plan), "--as", "alice"], cwd=directory, env=NOW).returncode == 0
    return plan


def _set_router(directory: Path, traffic: float, shadow: float) -> None:
    (directory / "router.json").write_text(json.dumps({"candidate_traffic": traffic, "shadow": shadow}))


def test_rollback_again_when_the_router_left_the_baseline(tmp_path: Path) -> None:
    plan = _started(tmp_path)
    assert cli(["rollback", str(plan), "--reason", "harm", "--as", "bob"], cwd=tmp_path).returncode == 0
    _set_router(tmp_path, 50.0, 0.0)  # someone put the candidate back by hand
    status = cli(["status", str(plan), "--json"], cwd=tmp_path)
    doc = json.loads(status.stdout)
    assert status.returncode == 4
    assert (doc["status"], doc["router_agrees"]) == ("rolled_back", False)
    assert doc["next"].startswith("ROUTER DISAGREES: the router reports candidate 50% served, 0% mirrored")
    result = cli(["rollback", str(plan), "--reason", "again", "--as", "bob", "--json"], cwd=tmp_path)
    again = json.loads(result.stdout)
    assert (result.returncode, again["outcome"], again["router_verified"]) == (0, "rolled_back", True)
    assert router_split(tmp_path) == BASELINE_ONLY
    result = cli(["rollback", str(plan), "--reason", "once more", "--as", "bob", "--json"], cwd=tmp_path)
    assert (result.returncode, json.loads(result.stdout)["outcome"]) == (0, "already_rolled_back")
    assert cli(["status", str(plan)], cwd=tmp_path).returncode == 0


def test_status_exits_4_when_the_router_file_is_gone(tmp_path: Path) -> None:
    plan = _started(tmp_path)
    (tmp_path / "router.json").unlink()
    result = cli(["status", str(plan), "--json"], cwd=tmp_path, env=NOW)
    doc = json.loads(result.stdout)
    assert result.returncode == 4
    assert (doc["router"], doc["router_agrees"]) == (None, False)
    assert doc["next"] == (f"ROUTER UNREADABLE: router file {tmp_path / 'router.json'} does not exist — nothing can "
                           "be verified until it answers; to stop serving the candidate run "
                           f"`rollout rollback {plan} --reason TEXT`")


def test_status_before_start_is_fine_without_a_router_file(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    result = cli(["status", str(plan), "--json"], cwd=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout)["router_agrees"] is None


def test_advance_refuses_what_cannot_advance(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    result = cli(["advance", str(plan), "--as", "alice"], cwd=tmp_path)
    assert result.returncode == 2
    assert f"no rollout state for ranker: looked in {tmp_path / '.rollout'}" in " ".join(result.stderr.split())
    assert not (tmp_path / ".rollout").exists()  # an advance never creates state
    assert cli(["start", str(plan), "--as", "alice"], cwd=tmp_path).returncode == 0
    assert cli(["rollback", str(plan), "--reason", "harm", "--as", "bob"], cwd=tmp_path).returncode == 0
    result = cli(["advance", str(plan), "--as", "carol", "--force", "--reason", "push", "--json"], cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert "ranker cannot advance: the rollout is rolled back" in result.stderr
    assert f"`rollout start {plan}`" in result.stderr
    events = json.loads(cli(["history", str(plan), "--json"], cwd=tmp_path).stdout)["events"]
    assert [(e["actor"], e["action"]) for e in events if "refused" in e["reason"]] == [("carol", "advance")]
    assert router_split(tmp_path) == BASELINE_ONLY


def test_advance_during_an_incomplete_rollback_exits_4(tmp_path: Path) -> None:
    plan = _started(tmp_path)
    (tmp_path / "router.json").unlink()
    (tmp_path / "router.json").mkdir()  # the router is gone: the rollback cannot be verified
    assert cli(["rollback", str(plan), "--reason", "harm", "--as", "bob"], cwd=tmp_path).returncode == 4
    result = cli(["advance", str(plan), "--as", "carol"], cwd=tmp_path)
    assert result.returncode == 4
    assert "ranker cannot advance: an earlier rollback is not verified at the baseline" in result.stderr
    assert "retrying" not in result.stdout + result.stderr  # nothing is retried by an advance


def test_rollback_with_a_broken_state_store_prints_the_manual_commands(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    (tmp_path / "state").write_text("not a folder")
    result = cli(["rollback", str(plan), "--reason", "harm", "--as", "bob"], cwd=tmp_path,
                 env={"ROLLOUT_STATE_DIR": str(tmp_path / "state")})
    # The rollback still runs (the rollback wins over a broken store); here the router file was never
    # created, so the route step fails: exit 4 with the manual commands, and the attempt is recorded beside.
    assert result.returncode == 4
    assert (f"the state store is unusable (cannot open the state store: {tmp_path / 'state'} is a file, not a "
            "folder); rolling back without it") in " ".join(result.stderr.split())
    assert "to send every request to the baseline by hand:" in result.stderr and "python3 -c" in result.stderr
    (record,) = [json.loads(line) for line in (tmp_path / "state-emergency-audit.jsonl").read_text().splitlines()]
    assert (record["actor"], record["result"], record["reason"]) == ("bob", "incomplete", "harm")
    assert "Traceback" not in result.stderr
    status = cli(["status", str(plan)], cwd=tmp_path, env={"ROLLOUT_STATE_DIR": str(tmp_path / "state")})
    assert status.returncode == 2 and "is a file, not a folder" in status.stderr


def test_a_start_the_router_refused_is_in_the_audit_trail(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = json.dumps({"url": f"http://127.0.0.1:{port}/split", "timeout": "0.2s", "retries": 0})
    plan = write_plan(tmp_path, adapter="http", router_options=options)
    result = cli(["start", str(plan), "--as", "alice"], cwd=tmp_path)
    assert result.returncode == 4 and "Connection refused" in result.stderr
    (event,) = json.loads(cli(["history", str(plan), "--json"], cwd=tmp_path).stdout)["events"]
    assert (event["actor"], event["action"], event["to_stage"], event["evidence"]["result"]) == (
        "alice", "start", "shadow", "failed")


def test_run_refuses_a_loop_without_pause_or_end(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    result = cli(["run", str(plan), "--interval", "0s"], cwd=tmp_path)
    assert result.returncode == 2 and "--interval 0s: the time between ticks must be more than 0s" in result.stderr
    assert cli(["run", str(plan), "--interval", "1s", "--max-ticks", "0"], cwd=tmp_path, timeout=20).returncode == 2
    result = cli(["run", str(plan), "--interval", "99999999999w"], cwd=tmp_path)
    assert result.returncode == 2 and "ticks more than a day apart would leave a harm unwatched" in result.stderr


def test_evaluate_refuses_a_window_reaching_back_beyond_reason(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    result = cli(["evaluate", str(plan), "--since", "99999999999w"], cwd=tmp_path)
    assert result.returncode == 2
    assert "--since: '99999999999w' reaches back more than 100 years" in result.stderr
    assert "internal error" not in result.stderr


def test_a_rollback_from_the_wrong_folder_never_verifies_a_file_nobody_reads(tmp_path: Path) -> None:
    """Relative paths resolve against the working directory; run from elsewhere, the file router's
    path names a file that does not exist, and the rollback must not create and "verify" it."""
    home, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    home.mkdir(), elsewhere.mkdir()
    state = {"ROLLOUT_STATE_DIR": str(home / ".rollout")}
    plan = write_plan(home, router_options='{path: router.json}')
    assert cli(["start", str(plan), "--as", "alice"], cwd=home, env=state).returncode == 0
    result = cli(["rollback", str(plan), "--reason", "harm", "--as", "bob", "--json"], cwd=elsewhere, env=state)
    doc = json.loads(result.stdout)
    assert (result.returncode, doc["router_verified"]) == (4, False)
    assert doc["outcome"] != "rolled_back"
    assert not (elsewhere / "router.json").exists()
    status = json.loads(cli(["status", str(plan), "--json"], cwd=home, env=state).stdout)
    assert (status["status"], status["rollback_incomplete"]) == ("running", True)
    # from the right folder the same command finishes the job
    assert cli(["rollback", str(plan), "--reason", "harm", "--as", "bob"], cwd=home, env=state).returncode == 0
    assert router_split(home) == BASELINE_ONLY


def test_an_advance_never_builds_on_a_router_changed_by_hand(tmp_path: Path) -> None:
    plan = _started(tmp_path)  # shadow: candidate 0% served, 100% mirrored
    _set_router(tmp_path, 50.0, 0.0)
    result = cli(["advance", str(plan), "--force", "--reason", "go", "--as", "carol"], cwd=tmp_path, env=NOW)
    assert result.returncode == 4
    assert ("advance of ranker refused: the router reports candidate 50% served, 0% mirrored, "
            "not the split of stage shadow (candidate 0% served, 100% mirrored)") in " ".join(result.stderr.split())
    assert router_split(tmp_path).candidate_traffic == 50.0  # left as found, for a person to judge
    status = json.loads(cli(["status", str(plan), "--json"], cwd=tmp_path).stdout)
    assert status["stage"] == "shadow"
    history = json.loads(cli(["history", str(plan), "--json"], cwd=tmp_path).stdout)
    refused = [e for e in history["events"] if e["action"] == "advance"]
    assert refused and refused[-1]["evidence"]["result"] == "refused"


def test_run_stops_on_a_router_error_and_still_prints_its_document(tmp_path: Path) -> None:
    plan = _started(tmp_path)
    killed = cli(["advance", str(plan), "--force", "--reason", "go", "--as", "carol"], cwd=tmp_path,
                 env={"ROLLOUT_KILL_AT": "advance:after-intent"})
    assert killed.returncode == -9  # an advance interrupted after its intent: the next tick must reconcile
    (tmp_path / "router.json").unlink()
    (tmp_path / "router.json").mkdir()  # ... against a router that cannot be read
    result = cli(["run", str(plan), "--json", "--interval", "0s", "--max-ticks", "3"], cwd=tmp_path)
    doc = json.loads(result.stdout)
    assert result.returncode == 4
    assert len(doc["ticks"]) == 1 and doc["ticks"][0]["reason"].startswith("router error: cannot reconcile")
    assert doc["status"] == "running"


def test_a_damaged_state_store_is_a_message_and_the_rollback_prints_the_manual_commands(tmp_path: Path) -> None:
    import sqlite3

    plan = _started(tmp_path)
    database = tmp_path / ".rollout" / "state.db"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in state.db itself
    with database.open("r+b") as handle:  # keep the header and schema page, damage every table page
        handle.seek(4096)
        handle.write(b"\xff" * (database.stat().st_size - 4096))
    status = cli(["status", str(plan)], cwd=tmp_path)
    assert status.returncode == 2 and "internal error" not in status.stderr
    assert "the state store cannot be read" in status.stderr
    # The rollback wins over the damaged store: router to the baseline, verified, recorded beside the store.
    result = cli(["rollback", str(plan), "--reason", "harm", "--as", "bob"], cwd=tmp_path)
    assert result.returncode == 0 and "internal error" not in result.stderr, result.stderr
    assert "rolling back without it" in " ".join(result.stderr.split())
    assert router_split(tmp_path) == BASELINE_ONLY
    (record,) = [json.loads(line) for line in (tmp_path / ".rollout" / "emergency-audit.jsonl").read_text().splitlines()]
    assert (record["actor"], record["result"], record["router_verified"]) == ("bob", "rolled_back", True)
