"""The one error handler: messages and exit codes, never a traceback without --debug."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rollout_cli.cli.main import main


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command 'no-such-command'" in capsys.readouterr().err


def test_version() -> None:
    result = subprocess.run([sys.executable, "-m", "rollout_cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("rollout ")


def test_missing_plan_file_is_clear_not_a_traceback(tmp_path) -> None:
    missing = tmp_path / "nope.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "rollout_cli", "plan", "show", str(missing)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
