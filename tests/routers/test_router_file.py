from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from rollout_cli.errors import PlanError, RouterError
from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit
from rollout_cli.routers.file import FileRouter
from rollout_cli.routers.registry import router_for


def test_the_file_holds_the_spec_format_and_keeps_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    path.write_text(json.dumps({"candidate_traffic": 0.0, "shadow": 0.0, "owner": "ranking", "notes": [1, 2]}))
    FileRouter(path).apply(RouterSplit(5, 100))
    assert json.loads(path.read_text()) == {"candidate_traffic": 5.0, "shadow": 100.0, "owner": "ranking", "notes": [1, 2]}
    assert isinstance(json.loads(path.read_text())["candidate_traffic"], float)


def test_prepare_creates_the_file_and_its_folder_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "routing" / "router.json"
    router = FileRouter(path)
    router.prepare()
    assert json.loads(path.read_text()) == {"candidate_traffic": 0.0, "shadow": 0.0}
    router.apply(RouterSplit(1, 0))
    assert json.loads(path.read_text()) == {"candidate_traffic": 1.0, "shadow": 0.0}
    assert os.listdir(path.parent) == ["router.json"]
    router.prepare()  # an existing file is left as it is
    assert router.read() == RouterSplit(1, 0)


def test_apply_never_creates_a_missing_file(tmp_path: Path) -> None:
    """A rollback run from the wrong folder must not write, then "verify", a file nobody reads."""
    path = tmp_path / "router.json"
    with pytest.raises(RouterError) as caught:
        FileRouter(path).apply(BASELINE_ONLY)
    assert "does not exist: no serving system reads it, so it is not created" in caught.value.message
    assert "run from the folder the rollout was started in" in (caught.value.hint or "")
    assert not path.exists()


def test_applying_the_current_split_does_not_touch_the_file(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    router = FileRouter(path)
    router.prepare()
    router.apply(RouterSplit(5, 0))
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    router.apply(RouterSplit(5, 0))
    assert path.stat().st_mtime_ns == 1_000_000_000


def test_a_missing_file_is_an_error_on_read_not_baseline_only(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    with pytest.raises(RouterError) as caught:
        FileRouter(path).read()
    assert caught.value.message == f"router file {path} does not exist"
    assert caught.value.hint == (
        f'`rollout start` creates it; or write {{"candidate_traffic": 0.0, "shadow": 0.0}} into {path}'
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (Expecting property name enclosed in double quotes at line 1)"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('{"shadow": 0}', "has no numeric 'candidate_traffic' (found None)"),
        ('{"candidate_traffic": true, "shadow": 0}', "has no numeric 'candidate_traffic' (found True)"),
        ('{"candidate_traffic": 150, "shadow": 0}', "candidate_traffic 150 is outside 0..100 percent"),
    ],
)
def test_a_bad_file_is_a_router_error_naming_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "router.json"
    path.write_text(content)
    with pytest.raises(RouterError) as caught:
        FileRouter(path).read()
    assert message in caught.value.message
    assert str(path) in caught.value.message


def test_a_rollback_wins_over_a_corrupted_file(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    path.write_text("{half a fi")
    FileRouter(path).apply(BASELINE_ONLY)
    assert json.loads(path.read_text()) == {"candidate_traffic": 0.0, "shadow": 0.0}


def test_the_manual_commands_do_what_apply_does(tmp_path: Path) -> None:
    path = tmp_path / "my router.json"  # a space, to prove the quoting
    path.write_text(json.dumps({"candidate_traffic": 25.0, "shadow": 0.0, "owner": "ranking"}))
    router = FileRouter(path)
    for command in router.explain(BASELINE_ONLY):
        subprocess.run(["bash", "-c", command], check=True, capture_output=True)
    assert router.read() == BASELINE_ONLY
    assert json.loads(path.read_text())["owner"] == "ranking"


def test_options_are_checked_with_a_clear_message() -> None:
    with pytest.raises(PlanError) as caught:
        router_for("file", {})
    assert caught.value.message == "file router: option path is required (e.g. options: {path: router.json})"
    with pytest.raises(PlanError) as caught:
        router_for("file", {"path": "r.json", "pth": "x"})
    assert caught.value.message == "file router: unknown option pth (did you mean path?)"
