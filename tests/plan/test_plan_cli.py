"""`rollout plan validate | show | schema | init`, run in-process through the real entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from plan_paths import BAD, ROOT
from rollout_support import cli
from rollout_support import run_in_process as run

from rollout_cli.cli.commands_plan import fast_path
from rollout_cli.plan.schema_check import SCHEMA_PATH

RANKER = str(ROOT / "plans" / "ranker-v42.yaml")
NO_TRAINING = str(BAD / "no-training.yaml")
DECISION = str(BAD / "decision.yaml")


def test_validate_text_names_file_line_column_path_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "validate", NO_TRAINING, RANKER)
    assert code == 2
    assert out.splitlines() == [
        f"invalid  {NO_TRAINING} (1 problem)",
        f"  {NO_TRAINING}:13:19: $.drift.features: drift.features needs data.training, "
        "the reference the features are compared with",
        f"valid    {RANKER}",
        "1 valid, 1 invalid (1 problem)",
    ]


def test_validate_json_is_exactly_the_spec_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "validate", "--format", "json", NO_TRAINING, RANKER)
    assert (code, err) == (2, "")
    assert json.loads(out) == {
        "files": [
            {
                "path": NO_TRAINING,
                "valid": False,
                "errors": [
                    {
                        "line": 13,
                        "column": 19,
                        "path": "$.drift.features",
                        "message": "drift.features needs data.training, the reference the features are compared with",
                    }
                ],
            },
            {"path": RANKER, "valid": True, "errors": []},
        ]
    }


def test_validate_github_prints_one_escaped_annotation_per_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "validate", "--format=github", DECISION)
    assert code == 2
    assert out.splitlines() == [
        f"::error file={DECISION},line=11,col=48::$.stages[0].min_duration: min_duration 2d is longer than "
        "decision.max_duration 1d, so the stage would time out before it could pass",
        f"::error file={DECISION},line=14,col=15::$.decision.confidence: confidence '40%25' must be at least "
        "50%25 and below 100%25 (e.g. 95%25)",
        f"::error file={DECISION},line=16,col=20::$.decision.on_inconclusive: 'hodl' is not one of: hold, "
        "rollback (did you mean 'hold'?)",
        f"::error file={DECISION},line=17,col=24::$.decision.min_units_per_check: 0 is out of range: must be at least 1",
        f"::error file={DECISION},line=18,col=18::$.decision.max_crossover: '120%25' is above 100%25",
    ]


def test_github_escapes_commas_and_colons_in_file_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    odd = tmp_path / "a,b:c.yaml"
    odd.write_text("version: 1\n")
    code, out, _ = run(capsys, "plan", "validate", "-f", "github", str(odd))
    assert code == 2
    assert out.splitlines()[0].startswith(
        f"::error file={str(tmp_path).replace(':', '%3A')}/a%2Cb%3Ac.yaml,line=1,col=1::"
    )


def test_validate_all_valid_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "validate", str(ROOT / "plans"))
    assert code == 0
    assert out.splitlines()[-1] == "3 valid, 0 invalid"


def test_folders_are_searched_recursively_skipping_hidden_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "team" / "nested").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    shutil.copy(RANKER, tmp_path / "team" / "a.yaml")
    shutil.copy(RANKER, tmp_path / "team" / "nested" / "b.yml")
    (tmp_path / ".git" / "c.yaml").write_text("not: a plan\n")
    (tmp_path / "notes.txt").write_text("ignored\n")
    code, out, _ = run(capsys, "plan", "validate", "-f", "json", str(tmp_path))
    assert code == 0
    assert [f["path"] for f in json.loads(out)["files"]] == [
        str(tmp_path / "team" / "a.yaml"),
        str(tmp_path / "team" / "nested" / "b.yml"),
    ]


def test_missing_paths_and_empty_folders_are_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope.yaml")
    code, out, _ = run(capsys, "plan", "validate", "-f", "json", missing, str(tmp_path))
    assert code == 2
    assert json.loads(out)["files"] == [
        {
            "path": missing,
            "valid": False,
            "errors": [{"line": 1, "column": 1, "path": "$", "message": "no such file or folder"}],
        },
        {
            "path": str(tmp_path),
            "valid": False,
            "errors": [
                {"line": 1, "column": 1, "path": "$", "message": "no plan files (*.yaml, *.yml) in this folder"}
            ],
        },
    ]


def test_unsafe_files_are_problems_not_crashes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: caf\xe9\n".encode("latin-1"))
    huge = tmp_path / "huge.yaml"
    huge.write_text("# padding\n" * 110_000)
    laughs = BAD / "billion-laughs.yaml"
    code, out, _ = run(capsys, "plan", "validate", "-f", "json", str(latin1), str(huge), str(laughs))
    assert code == 2
    errors = [f["errors"][0] for f in json.loads(out)["files"]]
    assert [e["message"] for e in errors] == [
        "file is not UTF-8 text (invalid continuation byte: byte 0xe9)",
        "file is 1100000 bytes; a plan may be at most 1000000",
        "the document expands to more than 100000 values (alias bomb?)",
    ]
    assert (errors[0]["line"], errors[0]["column"]) == (1, 10)  # the byte after "name: caf"


def test_fast_path_and_typer_give_the_same_answer(capsys: pytest.CaptureFixture[str]) -> None:
    fast = run(capsys, "plan", "validate", "-f", "json", DECISION)
    # --debug first is still the fast path; an explicit `--` is left to typer.
    slow = run(capsys, "plan", "validate", "-f", "json", "--", DECISION)
    assert fast == slow
    assert fast_path(["plan", "validate", "--", DECISION]) is None
    assert fast_path(["plan", "validate", "--help"]) is None
    assert fast_path(["plan", "validate", "-f", "yaml", DECISION]) is None
    assert fast_path(["plan", "validate"]) is None
    assert fast_path(["plan", "show", RANKER]) is None


def test_bad_format_and_missing_paths_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", "validate", "-f", "yaml", RANKER)
    assert code == 2 and "'yaml' is not one of 'text', 'json', 'github'" in err
    code, _, err = run(capsys, "plan", "validate")
    assert code == 2 and "Missing argument" in err


def test_validate_never_reads_secrets_network_or_runs_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "https://hooks.internal/T0KEN-never-print-me"
    monkeypatch.setenv("ROLLOUT_WEBHOOK", secret)
    monkeypatch.setenv("SUPPORT_ROUTER_TOKEN", "router-secret-value")

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("plan validate must not do this")

    import os
    import socket

    import rollout_cli.secrets

    monkeypatch.setattr(socket, "socket", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(os, "system", forbidden)
    monkeypatch.setattr(rollout_cli.secrets, "resolve", forbidden)
    plans = [str(p) for p in sorted((ROOT / "plans").glob("*.yaml"))]
    plans += [str(BAD / "secrets.yaml"), str(BAD / "inline-secrets.yaml")]
    for output in ("text", "json", "github"):
        code, out, err = run(capsys, "plan", "validate", "-f", output, *plans)
        assert code == 2
        assert secret not in out + err and "router-secret-value" not in out + err
        assert "s3cr3t-t0ken-value" not in out + err  # an inline secret is reported, never echoed
        assert "hunter2" not in out + err  # nor one in a URL, a run step's arguments, or a notify


def test_show_prints_the_ramp_gates_guards_and_fastest_time(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "show", RANKER)
    assert code == 0
    lines = [line.strip() for line in out.splitlines()]
    assert "ranker-v42: ranker-v41 -> ranker-v42 (router: nginx)" in lines
    assert (
        "Fastest possible time from start to 100%: 2d 18h (units, approvals and verdicts can only add to it)" in lines
    )
    assert (
        "- conversion (share of units with a purchase event within 1h of being served) must stay at most 2% "
        "below the baseline, overall and in every segment" in lines
    )
    assert any(line.startswith("t+1d 18h  ramp-50") and line.endswith("serve 50%") for line in lines)
    assert (
        "Rollback by alice, bob, carol within 20m (4 steps); a passing drill within 14d before leaving shadow" in lines
    )


def test_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "show", "--json", RANKER)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["plan"], doc["fastest_to_full_s"], doc["fastest_to_full"]) == ("ranker-v42", 237600.0, "2d 18h")
    assert [(s["name"], s["mode"], s["earliest_start_s"]) for s in doc["stages"]] == [
        ("shadow", "shadow", 0.0),
        ("canary", "traffic", 86400.0),
        ("ramp-5", "traffic", 93600.0),
        ("ramp-25", "traffic", 108000.0),
        ("ramp-50", "traffic", 151200.0),
        ("full", "traffic", 237600.0),
    ]
    assert doc["stages"][0]["gates"] == ["a passing rollback drill within 14d"]
    assert doc["stages"][1]["gates"] == ["at least 2000 units"]
    assert doc["stages"][2]["gates"] == ["approval by carol to enter ramp-25"]  # ramp-25 is gated on entry
    assert doc["stages"][3]["gates"] == []


def test_show_refuses_an_invalid_plan_with_located_problems(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plan", "show", NO_TRAINING)
    assert (code, out) == (2, "")
    assert f"{NO_TRAINING}:13:19: $.drift.features: drift.features needs data.training" in err


def test_schema_prints_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "schema")
    assert code == 0
    assert out == SCHEMA_PATH.read_text(encoding="utf-8")
    assert json.loads(out)["title"] == "rollout plan"


def test_init_writes_a_valid_commented_plan_and_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "plan", "init", "fraud-v7")
    written = tmp_path / "plans" / "fraud-v7.yaml"
    assert code == 0 and out.splitlines()[0] == "wrote plans/fraud-v7.yaml"
    text = written.read_text()
    assert "name: fraud-v7" in text and text.count("\n#") >= 8
    assert text.startswith("# yaml-language-server: $schema=plan.schema.json\n")
    assert (tmp_path / "plans" / "plan.schema.json").read_text() == SCHEMA_PATH.read_text(encoding="utf-8")
    assert run(capsys, "plan", "validate", "plans")[0] == 0
    written.write_text("edited\n")
    code, _, err = run(capsys, "plan", "init", "fraud-v7")
    assert code == 2 and "plans/fraud-v7.yaml already exists" in err and "--force" in err
    assert written.read_text() == "edited\n"
    assert run(capsys, "plan", "init", "fraud-v7", "--force")[0] == 0
    assert written.read_text() == text


def test_init_with_output_path_and_default_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "elsewhere" / "p.yaml"
    assert run(capsys, "plan", "init", "-o", str(target))[0] == 0
    assert "name: my-model" in target.read_text()
    assert run(capsys, "plan", "validate", str(target))[0] == 0


def test_init_refuses_a_name_that_cannot_name_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "plan", "init", "../escape")
    assert code == 2 and "'../escape' cannot name a plan" in err
    assert not (tmp_path.parent / "escape.yaml").exists()


def test_commands_have_examples_in_help(tmp_path: Path) -> None:
    for command in ("validate", "show", "schema", "init"):
        result = cli(["plan", command, "--help"], cwd=tmp_path)
        assert result.returncode == 0
        assert "Example: rollout plan " + command in result.stdout


def test_init_help_shows_where_it_writes(tmp_path: Path) -> None:
    """Square brackets in help text are rich markup unless escaped: the default vanished."""
    result = cli(["plan", "init", "--help"], cwd=tmp_path)
    assert "Where to write [default: plans/NAME.yaml]." in result.stdout


def test_pipes_devices_and_folders_are_problems_not_hangs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A FIFO would block validate for ever and /dev/zero would fill the memory; both are refused
    before reading, by validate and by every command that loads a plan."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    code, out, _ = run(capsys, "plan", "validate", "-f", "json", str(fifo), "/dev/zero")
    assert code == 2
    not_regular = "is not a regular file (a pipe or a device?); a plan is a YAML file"
    assert [f["errors"] for f in json.loads(out)["files"]] == [
        [{"line": 1, "column": 1, "path": "$", "message": not_regular}],
        [{"line": 1, "column": 1, "path": "$", "message": not_regular}],
    ]
    code, _, err = run(capsys, "plan", "show", str(tmp_path))
    assert code == 2
    assert f"{tmp_path}:1:1: $: is a folder, not a plan file" in err
    assert "internal error" not in err


def test_a_link_out_of_a_searched_folder_is_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pull request may add plans/x.yaml -> ~/.aws/credentials; validate must not read it (its
    messages quote what they read), while links inside the folder still work."""
    secret = tmp_path / "credentials.yaml"
    secret.write_text("aws_secret_access_key: hunter2\n")
    plans = tmp_path / "plans"
    plans.mkdir()
    shutil.copy(RANKER, plans / "ranker.yaml")
    (plans / "leak.yaml").symlink_to(secret)
    (plans / "alias.yaml").symlink_to(plans / "ranker.yaml")
    code, out, _ = run(capsys, "plan", "validate", "-f", "json", str(plans))
    assert code == 2
    assert "hunter2" not in out
    files = {Path(f["path"]).name: f for f in json.loads(out)["files"]}
    assert files["alias.yaml"]["valid"] and files["ranker.yaml"]["valid"]
    assert files["leak.yaml"]["errors"] == [
        {
            "line": 1,
            "column": 1,
            "path": "$",
            "message": f"is a symbolic link to a file outside {plans}; plans found in a folder must live in it",
        }
    ]


def test_non_finite_numbers_are_problems_for_validate_and_never_crash_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`.nan` passed every range check, so validate said "valid" and show then crashed."""
    plan = tmp_path / "p.yaml"
    plan.write_text(Path(RANKER).read_text().replace("min_duration: 2h", "min_duration: .inf", 1))
    code, out, _ = run(capsys, "plan", "validate", str(plan))
    assert code == 2
    assert ": $.stages[1].min_duration: .inf is too large; write a finite number" in out
    code, _, err = run(capsys, "plan", "show", str(plan))
    assert code == 2
    assert "internal error" not in err and ".inf is too large" in err


def test_init_reports_a_path_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(capsys, "plan", "init", "x", "-o", str(blocker / "plans" / "x.yaml"))
    assert code == 2
    assert f"error: cannot write {blocker / 'plans' / 'x.yaml'}: Not a directory" in err
    assert "internal error" not in err
