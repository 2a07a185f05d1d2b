"""The rollback under any corruption of a file router: it completes and verifies what the
serving side reads, or exits 4 with the manual commands and an audited, closed transition.
`status` and `tick` answer (exit 4) instead of crashing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from rollout_support import T0, cli, write_plan

NOW = {"ROLLOUT_NOW": T0.isoformat()}


def _started(directory: Path) -> Path:
    plan = write_plan(directory)
    assert cli(["start", str(plan), "--as", "alice"], cwd=directory, env=NOW).returncode == 0
    (directory / "router.json").write_text(json.dumps({"candidate_traffic": 50.0, "shadow": 0.0}))
    return plan


def _junk(router: Path) -> None:
    router.write_bytes(b"\x80\x81{}")


def _utf16(router: Path) -> None:
    router.write_bytes(json.dumps({"candidate_traffic": 50.0, "shadow": 0.0}).encode("utf-16"))


def _nested(router: Path) -> None:
    router.write_text("[" * 100_000)


def _folder(router: Path) -> None:
    router.unlink()
    router.mkdir()


def _loop(router: Path) -> None:
    router.unlink()
    router.symlink_to(router.name)


def _dangling(router: Path) -> None:
    router.unlink()
    router.symlink_to("gone.json")


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], bool]] = {
    # name: (how, whether the rollback can complete)
    "binary junk": (_junk, True),
    "UTF-16": (_utf16, True),
    "nested past the stack": (_nested, True),
    "a folder": (_folder, False),
    "a link loop": (_loop, False),
    "a dangling link": (_dangling, False),
}


def _journal(directory: Path) -> tuple[list[tuple[str, str]], list[tuple[str, int, str]]]:
    with sqlite3.connect(directory / ".rollout" / "state.db") as conn:
        transitions = conn.execute("SELECT kind, phase FROM transitions ORDER BY id").fetchall()
        events = conn.execute("SELECT action, allowed, reason FROM events ORDER BY id").fetchall()
    return transitions, events


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_rollback_through_a_corrupted_router_completes_or_says_what_to_do(tmp_path: Path, name: str) -> None:
    corrupt, completes = CORRUPTIONS[name]
    plan = _started(tmp_path)
    router = tmp_path / "router.json"
    corrupt(router)
    status = cli(["status", str(plan), "--json"], cwd=tmp_path, env=NOW)
    assert (status.returncode, json.loads(status.stdout)["router_agrees"]) == (4, False)
    if name == "binary junk":  # tick reads the router the same way; once is enough
        tick = cli(["tick", str(plan), "--json"], cwd=tmp_path, env=NOW)  # no logs: a data or a router error
        assert tick.returncode in (2, 4) and "internal error" not in tick.stderr
    result = cli(["rollback", str(plan), "--reason", "harm", "--as", "bob", "--json"], cwd=tmp_path)
    assert "internal error" not in result.stderr
    doc = json.loads(result.stdout)
    transitions, events = _journal(tmp_path)
    assert transitions[-1][0] == "rollback" and transitions[-1][1] in ("done", "failed")  # closed either way
    assert events[-1][:2] == ("rollback", 1)
    if completes:
        assert (result.returncode, doc["outcome"], doc["router_verified"]) == (0, "rolled_back", True)
        assert json.loads(router.read_text()) == {"candidate_traffic": 0.0, "shadow": 0.0}
        assert transitions[-1][1] == "done"
    else:
        assert (result.returncode, doc["outcome"], doc["router_verified"]) == (4, "incomplete", False)
        assert doc["manual_commands"] and str(router) in doc["manual_commands"][0]
        assert transitions[-1][1] == "failed"
        assert "rollback INCOMPLETE" in events[-1][2]


def test_rollback_through_a_symlink_changes_the_file_serving_reads(tmp_path: Path) -> None:
    plan = _started(tmp_path)
    router, serving = tmp_path / "router.json", tmp_path / "serving.json"
    router.rename(serving)
    router.symlink_to(serving.name)
    result = cli(["rollback", str(plan), "--reason", "harm", "--as", "bob", "--json"], cwd=tmp_path)
    assert (result.returncode, json.loads(result.stdout)["router_verified"]) == (0, True)
    assert router.is_symlink()  # the link is kept; the file it leads to now serves the baseline
    assert json.loads(serving.read_text()) == {"candidate_traffic": 0.0, "shadow": 0.0}


def test_the_manual_commands_work_on_a_corrupted_file_behind_a_link(tmp_path: Path) -> None:
    """What a person runs when the tool cannot: the printed commands fix the served file."""
    import subprocess

    from rollout_cli.routers.base import BASELINE_ONLY
    from rollout_cli.routers.file import FileRouter

    serving = tmp_path / "serving.json"
    serving.write_bytes(b"\x80\x81{}")
    (tmp_path / "router.json").symlink_to(serving.name)
    command = FileRouter(tmp_path / "router.json").explain(BASELINE_ONLY)[0]
    subprocess.run(command, shell=True, cwd=tmp_path, check=True)
    assert json.loads(serving.read_text()) == {"candidate_traffic": 0.0, "shadow": 0.0}
    assert (tmp_path / "router.json").is_symlink()
    assert shutil.which("python3")
