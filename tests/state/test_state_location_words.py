"""`--state` as a person types it, wrong: a folder with a typo, a URL of a database rollout does not
speak, an empty value. Each is a message and exit 2, and no store, folder or file is left behind
(`state check` and the source of `state copy` are reads; docs/team.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_support import write_plan

from rollout_cli.cli.main import main


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_STATE_URL", raising=False)
    monkeypatch.delenv("ROLLOUT_STATE_DIR", raising=False)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_of_a_folder_without_a_store_says_so_and_creates_nothing(tmp_path: Path, capsys) -> None:
    code, out, _ = _run(capsys, "state", "check", "--state", str(tmp_path / "typo"))
    assert code == 2
    assert out.splitlines()[0] == (f"{tmp_path / 'typo'} (sqlite): no state store here ({tmp_path / 'typo'}/state.db "
                                   "is missing); `rollout state init` creates one")
    assert list(tmp_path.iterdir()) == []
    assert _run(capsys, "state", "init", "--state", str(tmp_path / "store"))[0] == 0
    code, out, _ = _run(capsys, "state", "check", "--state", str(tmp_path / "store"))
    assert (code, out.splitlines()[0]) == (0, f"{tmp_path / 'store'} (sqlite): sound")


def test_copy_needs_a_source_store_and_creates_neither(tmp_path: Path, capsys) -> None:
    code, _, err = _run(capsys, "state", "copy", "--state", str(tmp_path / "typo"), "--to", str(tmp_path / "copy"))
    assert code == 2
    assert err.splitlines()[0] == f"error: no state store to copy at {tmp_path / 'typo'} (no state.db there)"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["state", "check"], ["state", "init"], ["state", "copy", "--to", "elsewhere"],
                                     ["status", "PLAN"], ["history", "PLAN"], ["start", "PLAN", "--as", "alice"]])
def test_an_unknown_url_or_an_empty_value_is_a_usage_error(tmp_path: Path, capsys, command: list[str]) -> None:
    plan = write_plan(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [str(plan) if word == "PLAN" else word for word in command]
    code, _, err = _run(capsys, *argv, "--state", "mysql://rollout@db/rollout")
    assert code == 2
    assert err.splitlines()[0] == ("error: --state mysql://…: rollout keeps state in a folder "
                                   "(SQLite) or a postgresql:// URL, not mysql://")
    for empty in ("", "  "):
        code, _, err = _run(capsys, *argv, "--state", empty)
        assert (code, err.splitlines()[0]) == (2, "error: --state is empty: give a folder or a postgresql:// URL")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no ./mysql: folder, no store


def test_copy_to_an_unknown_url_or_nothing_is_refused(tmp_path: Path, capsys) -> None:
    assert _run(capsys, "state", "init", "--state", str(tmp_path / "store"))[0] == 0
    code, _, err = _run(capsys, "state", "copy", "--state", str(tmp_path / "store"), "--to", "mysql://db/rollout")
    assert (code, err.splitlines()[0]) == (2, "error: --to mysql://…: rollout keeps state in a folder "
                                              "(SQLite) or a postgresql:// URL, not mysql://")
    code, _, err = _run(capsys, "state", "copy", "--state", str(tmp_path / "store"), "--to", "")
    assert (code, err.splitlines()[0]) == (2, "error: --to is empty: give a folder or a postgresql:// URL")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
