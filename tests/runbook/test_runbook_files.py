"""`runbook generate | check` on what a pull request (or a tired person) can put where a runbook
or a plan should be: links, folders, pipes, bytes that are not UTF-8. A message and an exit
code, never a traceback, a hang, or a file from elsewhere printed or overwritten."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from rollout_support import cli
from runbook_helpers import plan_text

SECRET = "-----BEGIN PRIVATE KEY-----\nhunter2\n"


def test_check_refuses_a_runbook_linked_to_a_file_elsewhere(workspace, rollout, tmp_path_factory) -> None:
    """check prints the lines that differ: following the link would print the key."""
    key = tmp_path_factory.mktemp("home") / "id_ed25519"
    key.write_text(SECRET)
    (workspace.root / "runbooks").mkdir()
    (workspace.root / "runbooks" / "ranker-v7.md").symlink_to(key)
    for command in ("check", "generate"):
        result = rollout("runbook", command, "plan.yaml")
        assert result.code == 2
        assert "hunter2" not in result.out + result.err
        assert result.err.splitlines() == [
            "error: runbooks/ranker-v7.md is a symbolic link; a runbook is a plain file, and links are not followed",
            "what to do: remove runbooks/ranker-v7.md and run `rollout runbook generate` again",
        ]
    assert key.read_text() == SECRET  # generate did not write through the link


def test_a_folder_or_a_pipe_where_the_runbook_goes_is_a_message(workspace, rollout) -> None:
    (workspace.root / "book.md").mkdir()
    result = rollout("runbook", "generate", "plan.yaml", "-o", "book.md")
    assert (result.code, result.err.splitlines()[0]) == (2, "error: book.md is a folder, not a runbook file")
    os.mkfifo(workspace.root / "pipe.md")
    result = rollout("runbook", "check", "plan.yaml", "-o", "pipe.md")  # would block for ever if opened
    assert (result.code, result.err.splitlines()[0]) == (2, "error: pipe.md is not a plain file (a pipe or a device?)")


def test_a_runbook_that_is_not_utf8_is_stale_and_regenerated(workspace, rollout) -> None:
    (workspace.root / "book.md").write_bytes(b"\xff\xfe garbage\n")
    result = rollout("runbook", "check", "plan.yaml", "-o", "book.md")
    assert result.code == 1
    assert result.out.startswith("book.md is stale: -1 +")
    assert rollout("runbook", "generate", "plan.yaml", "-o", "book.md").code == 0
    assert rollout("runbook", "check", "plan.yaml", "-o", "book.md").code == 0


def test_generate_reports_a_place_it_cannot_write(workspace, rollout) -> None:
    (workspace.root / "blocker").write_text("")
    result = rollout("runbook", "generate", "plan.yaml", "-o", "blocker/book.md")
    assert (result.code, result.err) == (2, "error: cannot write blocker/book.md: blocker is a file, not a folder\n")


def test_a_plan_linked_from_outside_a_searched_folder_is_refused(workspace, rollout, tmp_path_factory) -> None:
    key = tmp_path_factory.mktemp("home") / "credentials.yaml"
    key.write_text("aws_secret_access_key: hunter2\n")
    (workspace.root / "plans").mkdir()
    (workspace.root / "plans" / "leak.yaml").symlink_to(key)
    result = rollout("runbook", "check", "plans")
    assert result.code == 2
    assert "hunter2" not in result.out + result.err
    assert result.err == (
        "error: plans/leak.yaml is a symbolic link to a file outside plans; plans found in a folder must live in it\n"
    )


def test_fallback_run_lines_are_exact_shell_words(workspace, rollout) -> None:
    """The runbook's "by hand" lines are pasted into a shell at 3am: an argument with a space
    stays one word, and a reference is the shell variable, never its value."""
    argv = ["kubectl", "--context", "${env:KUBE_CONTEXT}", "annotate", "deploy/ranker-v7", "note=rolled back!"]
    workspace.write_plan(plan_text([(argv, "30s")]))
    assert rollout("runbook", "generate", "plan.yaml", "-o", "book.md").code == 0
    text = (workspace.root / "book.md").read_text()
    line = "kubectl --context \"${KUBE_CONTEXT}\" annotate deploy/ranker-v7 'note=rolled back!'"
    assert f"```sh\n{line}\n```" in text
    words = subprocess.run(
        ["bash", "-c", f'printf "%s\\n" {line}'],
        check=False,
        capture_output=True,
        text=True,
        env={"KUBE_CONTEXT": "staging"},
    ).stdout.splitlines()
    assert words == ["kubectl", "--context", "staging", "annotate", "deploy/ranker-v7", "note=rolled back!"]


@pytest.mark.parametrize("name", ["my plan.yaml"])
def test_a_plan_path_with_a_space_stays_one_word_in_the_commands(name: str, workspace, rollout) -> None:
    (workspace.root / name).write_text(plan_text())
    assert rollout("runbook", "generate", name, "-o", "book.md").code == 0
    text = (workspace.root / "book.md").read_text()
    assert "rollout rollback \"${ROLLOUT_REPO:-.}\"/'my plan.yaml' --reason" in text
    assert "Plan: `my plan.yaml`." in text


@pytest.mark.parametrize(
    ("command", "example"),
    [
        (["runbook", "generate"], "Example: rollout runbook generate plans/ranker-v42.yaml"),
        (["runbook", "check"], "Example: rollout runbook check plans/"),
        (["drill"], "Example: rollout drill plans/ranker-v42.yaml --router file:path=staging/router.json"),
    ],
)
def test_help_has_an_example_and_shows_defaults(command: list[str], example: str, tmp_path: Path) -> None:
    result = cli([*command, "--help"], cwd=tmp_path)
    assert result.returncode == 0
    assert example in result.stdout
    if command[0] == "runbook":  # square brackets are rich markup unless escaped: the default vanished
        assert "Where the runbook lives [default: runbooks/NAME.md]." in result.stdout
