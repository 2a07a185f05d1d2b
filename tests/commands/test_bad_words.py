"""Small mistakes a person makes on the command line or in the environment: each is a message and
exit 2 — never `internal error: …` — and nothing is recorded or written."""

from __future__ import annotations

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
