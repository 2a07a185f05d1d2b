"""The rollout's state for Prometheus: the textfile, and the endpoint `rollout run` serves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families
from rollout_support import T0, assert_odd_targets_kept, odd_targets, simulate, write_plan

from rollout_cli.cli.main import main
from rollout_cli.plan import load_plan


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted({"plan": "ranker", **labels}.items())))]


def test_the_textfile_describes_stage_split_verdict_guards_and_time(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROLLOUT_STATE_DIR", str(tmp_path / ".rollout"))
    monkeypatch.delenv("ROLLOUT_STATE_URL", raising=False)
    monkeypatch.setenv("ROLLOUT_NOW", T0.isoformat())
    path = write_plan(tmp_path)
    plan = load_plan(path)
    assert main(["start", str(path), "--as", "alice"]) == 0
    simulate(plan, tmp_path, T0, 1, candidate_pct=0, shadow_pct=100, part=1)
    monkeypatch.setenv("ROLLOUT_NOW", (T0 + timedelta(hours=1)).isoformat())
    assert main(["tick", str(path)]) == 0  # shadow passes: canary
    monkeypatch.setenv("ROLLOUT_NOW", (T0 + timedelta(hours=1, minutes=30)).isoformat())
    out = tmp_path / "ranker.prom"
    assert main(["metrics", str(path), "--textfile", str(out)]) == 0
    found = samples(out.read_text())
    assert value(found, "rollout_stage_index") == 1 and value(found, "rollout_stage_info", stage="canary") == 1
    assert value(found, "rollout_status", status="running") == 1 and value(found, "rollout_status", status="paused") == 0
    assert value(found, "rollout_candidate_traffic_percent") == 5 and value(found, "rollout_shadow_percent") == 0
    assert value(found, "rollout_time_in_stage_seconds") == 1800
    # the last verdict the state keeps is the one that advanced; its checks are labelled with shadow
    assert [v for v in ("pass", "fail", "inconclusive") if value(found, "rollout_last_verdict", verdict=v)] == ["pass"]
    guard = {"stage": "shadow", "metric": "agreement", "segment": ""}
    assert value(found, "rollout_guard_outcome", outcome="pass", **guard) == 1
    assert value(found, "rollout_guard_interval_low", **guard) <= value(found, "rollout_guard_interval_high", **guard)
    assert ("rollout_drill_age_seconds", (("plan", "ranker"),)) not in found  # no drill on record
    capsys.readouterr()


def test_metrics_before_the_start_reads_without_creating_a_state_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"
    monkeypatch.setenv("ROLLOUT_STATE_DIR", str(state))
    monkeypatch.delenv("ROLLOUT_STATE_URL", raising=False)
    path = write_plan(tmp_path)
    capsys.readouterr()
    assert main(["metrics", str(path)]) == 0
    found = samples(capsys.readouterr().out)
    assert value(found, "rollout_stage_index") == -1 and value(found, "rollout_status", status="not_started") == 1
    assert not state.exists()  # a read (docs/on-call.md): no store is created


def test_the_textfile_never_replaces_a_pipe_a_device_a_link_or_a_folder(tmp_path: Path, monkeypatch, capsys) -> None:
    """The textfile is written beside and renamed into place: that would swap a device (a FIFO
    stands in for one) or a link for a regular file. Refused, each left as it was."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROLLOUT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("ROLLOUT_STATE_URL", raising=False)
    path = write_plan(tmp_path)
    for target, words in odd_targets(tmp_path, ".prom").items():
        capsys.readouterr()
        assert main(["metrics", str(path), "--textfile", target.name]) == 2
        assert capsys.readouterr().err.splitlines()[0] == f"error: --textfile {target.name} {words}"
    assert_odd_targets_kept(tmp_path, ".prom", alone=False)  # the plan and its state are here too


def test_rollout_run_serves_the_metrics_on_loopback(tmp_path: Path) -> None:
    path = write_plan(tmp_path)
    env = {**os.environ, "ROLLOUT_STATE_DIR": str(tmp_path / ".rollout"), "ROLLOUT_NOW": T0.isoformat()}
    env.pop("ROLLOUT_STATE_URL", None)
    subprocess.run([sys.executable, "-m", "rollout_cli", "start", str(path), "--as", "alice"], env=env, check=True,
                   capture_output=True, cwd=tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "rollout_cli", "run", str(path), "--interval", "1s", "--max-ticks",
                             "6", "--metrics-port", str(port), "--json"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        text = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "rollout_stage_index" not in text:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except requests.ConnectionError:
                time.sleep(0.1)
        found = samples(text)
        assert value(found, "rollout_stage_info", stage="shadow") == 1 and value(found, "rollout_shadow_percent") == 100
    finally:
        proc.wait(timeout=30)
    assert proc.returncode in (0, 2), proc.stderr  # no logs in this folder: data errors, nothing moves
