"""`rollout simulate` and `rollout plan simulate` on options a person mistypes: a message naming the
option and what it takes (exit 2), never an internal error, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_support import write_plan

from rollout_cli.cli.main import main


@pytest.fixture
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROLLOUT_NOW", raising=False)
    return write_plan(tmp_path)


def _refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The error line of a command that must exit 2: ours (`error: …`), or a range typer checks
    (`Error: Invalid value for '--OPTION': …`, after the usage line)."""
    capsys.readouterr()
    code = main(list(args))
    err = capsys.readouterr().err
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err
    return next(line for line in err.splitlines() if line.lower().startswith("error:"))


@pytest.mark.parametrize("part", ["../../evil", "a/b", "..", "-canary/..", "x y", "/abs"])
def test_a_part_that_is_not_a_plain_name_fragment_is_refused_before_writing(plan: Path, tmp_path: Path, capsys,
                                                                             part: str) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    for where in ([], ["--out", str(tmp_path / "out" / "logs")]):
        line = _refused(capsys, "simulate", str(plan), "--units", "200", "--part", part, *where)
        assert line == (f"error: --part {part!r}: a file name suffix takes letters, digits, '-', '_' and '.' "
                        "(not '..')")
    assert sorted(p.name for p in tmp_path.parent.iterdir() if p.name.endswith("parquet")) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no logs/, no out/


def test_a_plain_part_still_names_the_files(plan: Path, tmp_path: Path, capsys) -> None:
    assert main(["simulate", str(plan), "--units", "200", "--part", "-canary.2", "--out", "out"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["outcomes-canary.2.parquet",
                                                                    "predictions-canary.2.parquet"]


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--candidate", "150", "--candidate"), ("--candidate", "-1", "--candidate"), ("--candidate", "nan", "--candidate"),
    ("--shadow", "500", "--shadow"), ("--shadow", "-1", "--shadow"), ("--srm", "1.5", "--srm"),
    ("--shadow-disagreement", "2", "--shadow-disagreement"), ("--effect", "nan", "--effect"),
    ("--seed", "-1", "--seed"), ("--duration", "1000000d", "--duration"), ("--units", "-5", "--units"),
])
def test_an_out_of_range_knob_is_a_message_naming_it(plan: Path, tmp_path: Path, capsys, option: str, value: str,
                                                     words: str) -> None:
    line = _refused(capsys, "simulate", str(plan), "--units", "200", "--out", "out", option, value)
    assert words in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("option", "value", "line"), [
    ("--candidate", "150", "Error: Invalid value for '--candidate': Input should be less than or equal to 100"),
    ("--candidate", "-1", "Error: Invalid value for '--candidate': Input should be greater than or equal to 0"),
    ("--shadow", "500", "Error: Invalid value for '--shadow': Input should be less than or equal to 100"),
    ("--srm", "1.5", "Error: Invalid value for '--srm': Input should be less than or equal to 1"),
    ("--shadow-disagreement", "2",
     "Error: Invalid value for '--shadow-disagreement': Input should be less than or equal to 1"),
    ("--effect", "nan", "error: --effect nan: give a number"),
    ("--duration", "1000000d", "error: --duration 1000000d: at most 100 years"),
    ("--seed", "-1", "Error: Invalid value for '--seed': Input should be greater than or equal to 0"),
])
def test_the_message_says_the_range(plan: Path, capsys, option: str, value: str, line: str) -> None:
    assert _refused(capsys, "simulate", str(plan), "--out", "out", option, value) == line


def test_plan_simulate_and_demo_refuse_a_negative_seed(plan: Path, tmp_path: Path, capsys) -> None:
    line = _refused(capsys, "plan", "simulate", str(plan), "--traffic", "2000/h", "--runs", "2", "--seed", "-1")
    assert line == "Error: Invalid value for '--seed': Input should be greater than or equal to 0"
    line = _refused(capsys, "demo", "--dir", str(tmp_path / "demo"), "--seed", "-1")
    assert line == "Error: Invalid value for '--seed': Input should be greater than or equal to 0"
    assert not (tmp_path / "demo").exists()
