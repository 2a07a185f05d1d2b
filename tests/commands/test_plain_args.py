"""The plain parser (cli/plain_args.py) passes exactly what typer passes, or leaves the line to typer."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_cli.cli import commands_evaluate, commands_plan, commands_rollout, commands_shadow
from rollout_cli.cli.main import main, register_commands
from rollout_cli.cli.plain_args import _option_names, _spec, parse_plain

COMMANDS: dict[str, Callable[..., Any]] = {"evaluate": commands_evaluate.evaluate, "shadow": commands_shadow.shadow,
                                          "plan validate": commands_plan.validate_command,
                                          **{c.__name__: c for c in commands_rollout.COMMANDS}}
VALUES = ["plan.yaml", "v", "2h", "5", "-5", "0", "2.5", "1e3", "nan", "", "a=b", "100000", "--", "-", "-x", "-h",
          "--help", "json", "github", "JSON", "-f", "-fjson"]


def typer_params(name: str, words: list[str]) -> dict[str, Any] | None:
    """What typer would call the command with, or None when it refuses the line (or prints help)."""
    command = typer.main.get_command(register_commands())
    for part in name.split():  # "plan validate": a command of the plan group
        command = command.commands[part]  # type: ignore[attr-defined]
    try:
        return dict(command.make_context(name.split()[-1], list(words)).params)
    except (Exception, SystemExit):  # noqa: BLE001 - every refusal (usage error, help's exit) is a None
        return None


def words_for(name: str) -> st.SearchStrategy[list[str]]:
    spec = _spec(COMMANDS[name])
    assert spec is not None, f"{name} is no longer plain: its fast path always defers to typer"
    flags = [n for p, _, info, _ in spec if hasattr(info, "prompt") for n in _option_names(p, info)]
    tokens = [*VALUES, *flags, *(f"{f}=v" for f in flags), *(f"{f}=5" for f in flags),
              *(f"--no-{f[2:]}" for f in flags)]
    required = [_option_names(p, info)[0] for p, _, info, default in spec if hasattr(info, "prompt") and default is ...]
    lines = st.lists(st.sampled_from(tokens), max_size=7)
    # half the lines start with the plan and the required options, so that many are plain
    return st.one_of(lines, lines.map(lambda w: ["plan.yaml", *(x for o in required for x in (o, "v")), *w]))


@pytest.mark.parametrize("state_env", [None, "from-env"])
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_plain_line_gets_what_typer_would_pass(name: str, state_env: str | None) -> None:
    before = {k: os.environ.pop(k, None) for k in ("ROLLOUT_STATE_URL", "ROLLOUT_STATE_DIR")}
    if state_env:
        os.environ["ROLLOUT_STATE_DIR"] = state_env
    taken = []
    try:
        @settings(max_examples=150, deadline=None, database=None)
        @given(words=words_for(name))
        def agree(words: list[str]) -> None:
            plain = parse_plain(COMMANDS[name], words)
            if plain is not None:  # when the plain parser takes a line, typer takes it the same way
                assert plain == typer_params(name, words), words
                taken.append(words)

        agree()
        assert taken, "no generated line was plain: the property compared nothing"
    finally:
        for key, value in before.items():
            os.environ.pop(key, None)
            if value is not None:
                os.environ[key] = value


def test_the_common_lines_are_plain() -> None:
    assert parse_plain(commands_evaluate.evaluate, ["p.yaml", "--stage", "ramp-50", "--json"]) == {
        "plan": Path("p.yaml"), "stage": "ramp-50", "since": None, "until": None, "state_dir": None, "full": False,
        "json_out": True}
    assert parse_plain(commands_rollout.tick, ["p.yaml", "--state-dir=/srv/state", "--json"]) is not None
    assert parse_plain(commands_shadow.shadow, ["p.yaml", "--examples", "5", "--timeout", "2.5"]) is not None
    assert parse_plain(commands_plan.validate_command, ["a.yaml", "-f", "github", "plans/"]) == {
        "paths": [Path("a.yaml"), Path("plans/")], "output_format": commands_plan.ValidateFormat.github}
    for odd in ([], ["a.yaml", "--format", "JSON"], ["a.yaml", "-f"], ["a.yaml", "-fjson"]):
        assert parse_plain(commands_plan.validate_command, odd) is None, odd
    for odd in (["p.yaml", "--help"], ["p.yaml", "--json", "--json"], ["p.yaml", "--no-json"], ["--json"],
                ["p.yaml", "--stage"], ["p.yaml", "--stage", "--json"], ["p.yaml", "--", "x"]):
        assert parse_plain(commands_evaluate.evaluate, odd) is None, odd


def test_the_plain_path_runs_the_command_with_its_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "no-such-plan.yaml", "--json"]) == 2
    plain_err = capsys.readouterr().err
    assert main(["evaluate", "--json", "--", "no-such-plan.yaml"]) == 2  # `--`: typer's path
    assert capsys.readouterr().err == plain_err
    assert main(["plan", "validate", "no-such-plan.yaml", "--format", "json"]) == 2
    plain = capsys.readouterr().out
    assert main(["plan", "validate", "--format", "json", "--", "no-such-plan.yaml"]) == 2
    assert capsys.readouterr().out == plain and "no-such-plan.yaml" in plain
