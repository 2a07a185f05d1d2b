"""`rollout demo` end to end, as a real process: it rolls back because of the iOS segment."""

from __future__ import annotations

import json
from pathlib import Path

from rollout_support import cli


def test_demo_rolls_back_because_of_the_segment(tmp_path: Path) -> None:
    result = cli(["demo", "--dir", str(tmp_path / "demo"), "--json"], cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["ok"], doc["outcome"], doc["rolled_back_at"], doc["caught_segment"]) == (True, "rolled_back",
                                                                                          "ramp-25", True)
    assert [c["segment"] for c in doc["caught"]] == [{"platform": "ios"}]
    assert doc["drill"].startswith("pass in ")
    moves = [(e["action"], e["actor"], e["from_stage"], e["to_stage"]) for e in doc["events"]
             if e["action"] in ("drill", "start", "advance", "rollback")]
    assert moves == [("drill", "alice", None, None), ("start", "alice", None, "shadow"),
                     ("advance", "controller", "shadow", "canary"), ("advance", "controller", "canary", "ramp-25"),
                     ("rollback", "controller", "ramp-25", None)]
    rollback = doc["events"][-1]
    assert rollback["evidence"]["evaluation"]["verdict"] == "fail"
    assert rollback["evidence"]["result"] == "rolled_back"
    assert json.loads((tmp_path / "demo" / "router.json").read_text())["candidate_traffic"] == 0.0
    assert Path(doc["runbook"]).read_text().startswith("#")
    assert Path(doc["report"]) == tmp_path / "demo" / "report.html"
    assert Path(doc["report"]).read_text().startswith("<!DOCTYPE html>")


def test_demo_refuses_a_used_folder(tmp_path: Path) -> None:
    (tmp_path / ".rollout").mkdir()
    result = cli(["demo", "--dir", str(tmp_path)], cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert f"{tmp_path} already holds a demo's state" in result.stderr


def test_demo_folder_names_are_quoted_in_the_plan(tmp_path: Path) -> None:
    target = tmp_path / "demo #1, a"  # YAML comment and flow separators in the path
    result = cli(["demo", "--dir", str(target), "--json"], cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outcome"] == "rolled_back"


def test_demo_refuses_a_file_as_its_folder(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    result = cli(["demo", "--dir", str(tmp_path / "taken")], cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert f"--dir {tmp_path / 'taken'} is a file, not a folder" in result.stderr
