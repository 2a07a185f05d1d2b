"""`rollout evaluate` and `rollout simulate` as a user runs them: real subprocesses, exit codes, JSON shape."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from evaluate_helpers import simulate, write_plan
from rollout_support import cli
from test_bad_data import rewrite

NOW = "2026-01-05T06:00:00Z"


def strict_json(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


def rollout(*args: str, cwd: Path, now: str = NOW, columns: int = 200) -> subprocess.CompletedProcess[str]:
    return cli(list(args), cwd=cwd, env={"ROLLOUT_NOW": now, "COLUMNS": str(columns)}, timeout=120)


@pytest.fixture
def segment_harm(tmp_path: Path) -> Path:
    write_plan(tmp_path)
    done = rollout("simulate", "plan.yaml", "--scenario", "segment-harm", "--out", "logs", "--units", "120000",
                   "--candidate", "50", "--seed", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote ")
    return tmp_path


def test_evaluate_json_follows_the_spec_and_fails_with_exit_1(segment_harm: Path) -> None:
    done = rollout("evaluate", "plan.yaml", "--stage", "canary", "--json", cwd=segment_harm)
    assert done.returncode == 1, done.stderr
    doc = strict_json(done.stdout)  # the whole of stdout is one document, with no NaN or Infinity
    assert {"plan", "stage", "verdict", "window", "units", "srm", "checks"} <= set(doc)
    assert (doc["plan"], doc["stage"], doc["verdict"]) == ("ranker-test", "canary", "fail")
    assert set(doc["window"]) == {"since", "until"} and doc["window"]["until"] == "2026-01-05T06:00:00+00:00"
    assert set(doc["units"]) == {"baseline", "candidate"} and doc["units"]["candidate"] > 50_000
    assert doc["srm"]["outcome"] == "pass" and 0.001 < doc["srm"]["p_value"] <= 1
    first = doc["checks"][0]
    assert {"metric", "segment", "outcome", "baseline", "candidate", "effect", "interval", "reason"} <= set(first)
    assert first["segment"] is None and len(first["interval"]) == 2
    ios = next(c for c in doc["checks"] if c["segment"] == {"platform": "ios"})
    assert ios["outcome"] == "fail" and ios["metric"] == "conversion"
    assert ios["interval"][0] <= ios["effect"] <= ios["interval"][1] < -0.02
    assert ios["reason"] == f"conversion is {100 * abs(ios['effect']):.3g}% below baseline (allowed: 2%)"


def test_evaluate_for_people_prints_a_table_with_reasons(segment_harm: Path) -> None:
    done = rollout("evaluate", "plan.yaml", "--stage", "canary", cwd=segment_harm)
    assert done.returncode == 1
    assert "ranker-test stage canary: fail" in done.stdout
    assert "platform=ios" in done.stdout and "below baseline (allowed: 2%)" in done.stdout
    assert "sample ratio: pass" in done.stdout
    assert "served by both arms: 0 units (0%; tolerated 1%)" in done.stdout


def test_evaluate_windows_and_inconclusive_exit_3(segment_harm: Path) -> None:
    done = rollout("evaluate", "plan.yaml", "--stage", "canary", "--since", "2026-01-05T05:50:00",
                   "--until", "2026-01-05T06:00:00Z", "--json", cwd=segment_harm)
    assert done.returncode == 3, done.stderr
    doc = strict_json(done.stdout)
    assert doc["verdict"] == "inconclusive"
    assert doc["window"] == {"since": "2026-01-05T05:50:00+00:00", "until": "2026-01-05T06:00:00+00:00"}
    stale = rollout("evaluate", "plan.yaml", "--stage", "canary", "--until", "3h", "--json", cwd=segment_harm,
                    now="2026-01-05T12:00:00Z")
    assert stale.returncode in (1, 3)  # a harm may already show; stale data never passes
    assert json.loads(stale.stdout)["window"]["until"] == "2026-01-05T09:00:00+00:00"


def test_evaluate_passes_with_exit_0(tmp_path: Path) -> None:
    write_plan(tmp_path, guards=[{"metric": "error_rate", "max": "0.5%"}])
    assert rollout("simulate", "plan.yaml", "--out", "logs", "--units", "20000", cwd=tmp_path).returncode == 0
    done = rollout("evaluate", "plan.yaml", "--stage", "canary", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["verdict"] == "pass"


def test_bad_input_exits_2_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    write_plan(tmp_path)
    assert rollout("simulate", "plan.yaml", "--out", "logs", "--units", "500", cwd=tmp_path).returncode == 0
    write_plan(tmp_path, columns="{unit_id: customer_id}")  # the logs have user_id
    done = rollout("evaluate", "plan.yaml", "--stage", "canary", "--json", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error: column 'customer_id' (role unit_id) is missing from predictions" in done.stderr
    assert "Traceback" not in done.stderr
    unknown = rollout("evaluate", "plan.yaml", "--stage", "nope", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "has no stage 'nope' (stages: shadow, canary, full)" in unknown.stderr
    when = rollout("evaluate", "plan.yaml", "--since", "yesterday", cwd=tmp_path)
    assert when.returncode == 2
    assert "--since: 'yesterday' is neither a time (2026-01-05T10:00:00Z) nor a duration (2h)" in when.stderr


def test_simulate_json_and_unknown_scenario(tmp_path: Path) -> None:
    write_plan(tmp_path)
    done = rollout("simulate", "plan.yaml", "--out", "logs", "--units", "1000", "--scenario", "stale",
                   "--part", "-a", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["predictions"] == "logs/predictions-a.parquet" and (tmp_path / doc["predictions"]).is_file()
    assert doc["scenario"] == "stale" and doc["units"]["baseline"] + doc["units"]["candidate"] == 1000
    bad = rollout("simulate", "plan.yaml", "--out", "logs", "--scenario", "chaos", cwd=tmp_path)
    assert bad.returncode == 2
    assert "unknown scenario 'chaos' (known: healthy, harm, segment-harm, srm, slow, shadow-disagree, stale, " \
           "drift, crossover)" in bad.stderr


def test_evaluate_judges_the_running_stage_from_its_start(tmp_path: Path) -> None:
    write_plan(tmp_path)
    assert rollout("simulate", "plan.yaml", "--out", "logs", "--units", "2000", "--shadow", "100", "--candidate", "0",
                   cwd=tmp_path).returncode == 0
    started = rollout("start", "plan.yaml", "--as", "alice", cwd=tmp_path, now="2026-01-05T03:00:00Z")
    assert started.returncode == 0, started.stderr
    done = rollout("evaluate", "plan.yaml", "--json", cwd=tmp_path)
    doc = strict_json(done.stdout)
    # from the stage clock plus decision.settling_time (default 1m)
    assert (doc["stage"], doc["window"]["since"]) == ("shadow", "2026-01-05T03:01:00+00:00")
    assert doc["split"] == {"candidate_traffic": 0.0, "shadow": 100.0}
    assert done.returncode in (0, 3)


def test_evaluate_for_people_stays_readable_in_a_narrow_terminal(segment_harm: Path) -> None:
    done = rollout("evaluate", "plan.yaml", "--stage", "canary", cwd=segment_harm, columns=80)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    # a squeezed table would cut these to a few letters; one block per check keeps every word
    ios = lines.index("fail conversion platform=ios · max_drop 2%")
    assert lines[ios + 1].startswith("  baseline 0.0") and ", interval [-" in lines[ios + 1]
    assert lines[ios + 2].startswith("  conversion is ") and lines[ios + 2].endswith("below baseline (allowed: 2%)")
    assert "pass error_rate all · max 0.5%" in lines


def test_an_until_after_now_ends_the_window_now_with_a_note(tmp_path: Path) -> None:
    """20 minutes of logs for a canary of min_duration 1h: --until 2030 neither passes nor waits for 2030."""
    plan = write_plan(tmp_path, guards=[{"metric": "error_rate", "max": "0.5%"}],
                      canary="{name: canary, traffic: 50%, min_duration: 1h}")
    simulate(plan, tmp_path, units=20_000, candidate_pct=50, duration_s=20 * 60)
    now = "2026-01-05T00:20:00Z"
    done = rollout("evaluate", "plan.yaml", "--stage", "canary", "--until", "2030-01-01", cwd=tmp_path, now=now)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "note: --until 2030-01-01 is after now (2026-01-05T00:20:00Z): the window ends now" in done.stderr
    assert "the window covers 20m of the stage's min_duration 1h" in done.stdout
    doc = strict_json(rollout("evaluate", "plan.yaml", "--stage", "canary", "--until", "2030-01-01", "--json",
                              cwd=tmp_path, now=now).stdout)
    assert doc["window"]["until"] == "2026-01-05T00:20:00+00:00" and doc["duration_s"] <= 20 * 60


def test_no_outcome_data_is_inconclusive_with_exit_3(tmp_path: Path) -> None:
    """A conversion guard over outcomes 30 days old: not "conversion is 0%", a pass."""
    plan = write_plan(tmp_path, guards=[{"metric": "conversion", "max": "50%"}])
    logs = simulate(plan, tmp_path, units=2_000, candidate_pct=50)
    rewrite(logs.outcomes, "SELECT * REPLACE (ts - INTERVAL 30 DAY AS ts) FROM logs")
    done = rollout("evaluate", "plan.yaml", "--stage", "canary", "--json", cwd=tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr
    check = strict_json(done.stdout)["checks"][0]
    assert check["outcome"] == "inconclusive"
    assert check["reason"].startswith("conversion: not judged: no outcome events 'purchase' in the window (outcomes ")


@pytest.mark.parametrize("guard", [{"metric": "conversion", "max": "50%"}, {"metric": "error_rate", "max": "0.5%"}],
                         ids=["a guard on outcomes", "no guard on outcomes"])
def test_outcomes_without_the_unit_column_exit_2_named(tmp_path: Path, guard: dict[str, str]) -> None:
    plan = write_plan(tmp_path, guards=[guard])
    logs = simulate(plan, tmp_path, units=2_000, candidate_pct=50)
    rewrite(logs.outcomes, "SELECT * EXCLUDE (user_id) FROM logs")
    done = rollout("evaluate", "plan.yaml", "--stage", "canary", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: column 'user_id' (role unit_id) is missing from outcomes (" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
