"""Small mistakes a person makes on the command line or in the environment: each is a message and
exit 2 — never `internal error: …` — and nothing is recorded or written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rollout_support import write_plan

from rollout_cli.cli.main import main


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROLLOUT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("ROLLOUT_STATE_URL", raising=False)
    monkeypatch.delenv("ROLLOUT_NOW", raising=False)
    return write_plan(tmp_path)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    assert "internal error" not in captured.err and "Traceback" not in captured.err
    return code, captured.out, captured.err


@pytest.mark.parametrize("value", ["garbage", "2026-13-01", ""])
def test_a_rollout_now_that_is_not_a_time_is_named(plan: Path, capsys, monkeypatch: pytest.MonkeyPatch,
                                                    value: str) -> None:
    monkeypatch.setenv("ROLLOUT_NOW", value)
    for command in (["status", str(plan)], ["evaluate", str(plan)], ["start", str(plan), "--as", "alice"]):
        code, _, err = _run(capsys, *command)
        if value == "":  # unset in effect: the real clock
            assert code != 2 or "ROLLOUT_NOW" not in err
            continue
        assert code == 2, err
        assert err.splitlines() == [
            f"error: ROLLOUT_NOW={value!r} is not a time",
            "what to do: write an ISO-8601 time such as 2026-01-05T10:00:00Z (no zone: UTC), or unset ROLLOUT_NOW"]


def test_demo_checks_its_folder_before_the_story_starts(tmp_path: Path, capsys) -> None:
    (tmp_path / "a-file").write_text("")
    code, out, err = _run(capsys, "demo", "--dir", str(tmp_path / "a-file" / "demo"))
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == f"error: --dir {tmp_path / 'a-file' / 'demo'}: cannot create the folder: Not a " \
                                  "directory"
    if Path("/proc/self").is_dir():  # a folder nobody can create anything in
        code, out, err = _run(capsys, "demo", "--dir", "/proc/demo")
        assert (code, out) == (2, "")
        assert err.startswith("error: --dir /proc/demo: cannot create the folder: ")


def test_history_of_an_unknown_action_lists_the_actions(plan: Path, capsys) -> None:
    assert main(["start", str(plan), "--as", "alice"]) == 0
    code, _, err = _run(capsys, "history", str(plan), "--action", "bogus")
    assert code == 2
    assert err.splitlines()[0].startswith("error: --action bogus: no such action (actions: advance, approve, ")
    code, out, _ = _run(capsys, "history", str(plan), "--action", "start", "--json")
    assert code == 0 and [e["action"] for e in json.loads(out)["events"]] == ["start"]
    code, out, _ = _run(capsys, "history", str(plan), "--action", "pause", "--json")
    assert code == 0 and json.loads(out)["events"] == []  # a real action, none on record


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_rollback_must_say_why(plan: Path, tmp_path: Path, capsys, reason: str) -> None:
    code, _, err = _run(capsys, "rollback", str(plan), "--reason", reason, "--as", "carol")
    assert code == 2
    assert err.splitlines()[0] == "error: --reason is empty: a rollback must say why, in the audit trail"
    assert not (tmp_path / "state").exists() and not (tmp_path / "router.json").exists()


def test_a_share_guard_above_100_percent_suggests_a_share(plan: Path, capsys) -> None:
    text = plan.read_text()
    plan.write_text(text.replace("{metric: agreement, min: 90%}", "{metric: agreement, max: 500%}"))
    code, out, err = _run(capsys, "plan", "validate", str(plan))
    assert code == 2
    assert "'agreement' is a share between 0% and 100%; '500%' is not (write a share such as 5% or 0.05)" in out + err
    assert "%%" not in out + err
