"""The one error handler: messages and exit codes, never a traceback without --debug."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_support import cli

from rollout_cli.cli.main import main


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command 'no-such-command'" in capsys.readouterr().err


def test_version(tmp_path: Path) -> None:
    result = cli(["--version"], cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("rollout ")


def test_missing_plan_file_is_clear_not_a_traceback(tmp_path) -> None:
    missing = tmp_path / "nope.yaml"
    result = cli(["plan", "show", str(missing)], cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
