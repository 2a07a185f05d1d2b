"""Hostile plan files found by fuzzing: each one is a located problem, never an internal error,
and one file's trouble never costs the others their reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plan_paths import ROOT

from rollout_cli.cli.main import main
from rollout_cli.plan import validate_files

RANKER = str(ROOT / "plans" / "ranker-v42.yaml")

CASES = [
    # (file bytes, line, column, message)
    (b"a: &a [*a]\n", 1, 4, "a recursive alias: this value contains itself"),
    (b"a: &a {b: *a}\n", 1, 4, "a recursive alias: this value contains itself"),
    (b"version: " + b"9" * 5000 + b"\n", 1, 10, "integer of 5000 characters; a plan's numbers have at most 100"),
    (b"version: 0x" + b"f" * 20000 + b"\n", 1, 10, "integer of 20002 characters; a plan's numbers have at most 100"),
    (b'version: !!int ""\n', 1, 10, "'' is not a valid integer"),
    (b"version: !!int abc\n", 1, 10, "'abc' is not a valid integer"),
    (b"x: 1\nversion: !!bool maybe\n", 2, 10, "'maybe' is not a valid boolean"),
    (b"version: !!float x\n", 1, 10, "'x' is not a valid number"),
    (b"{!!int abc: 1}\n", 1, 2, "'abc' is not a valid integer"),
    (b'name: "ok"\ndescription: "a\x01b"\n', 2, 16, "YAML error: character #x0001 is not allowed (control characters are not allowed)"),
    (b"name: ok\nx: caf\xc3\xa9 \xff\n", 2, 9, "file is not UTF-8 text (invalid start byte: byte 0xff)"),
]


def _chained_anchors(levels: int) -> bytes:
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


def _validate(capsys: pytest.CaptureFixture[str], *paths: str) -> tuple[int, list[dict[str, object]]]:
    code = main(["plan", "validate", "-f", "json", *paths])
    return code, json.loads(capsys.readouterr().out)["files"]


@pytest.mark.parametrize(("raw", "line", "column", "message"), CASES)
def test_hostile_values_are_located_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes, line: int, column: int, message: str
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(raw)
    code, files = _validate(capsys, str(plan))
    assert code == 2
    first = files[0]["errors"][0]  # type: ignore[index]
    assert (first["line"], first["column"], first["message"]) == (line, column, message)


def test_chained_anchors_cannot_nest_past_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_bytes(_chained_anchors(200))
    code, files = _validate(capsys, str(plan))
    assert code == 2
    assert "nests deeper than 64 levels (through aliases)" in files[0]["errors"][0]["message"]  # type: ignore[index]


def test_an_invalid_date_is_kept_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Plans hold no timestamps, so a date-looking value is never converted (and never crashes)."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(Path(RANKER).read_text(encoding="utf-8").replace("name: ranker-v42", "name: 2001-02-30"))
    code, files = _validate(capsys, str(plan))
    assert (code, files[0]["valid"]) == (0, True)


def test_self_referencing_links_are_reported_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "self.yaml").symlink_to("self.yaml")
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    code, files = _validate(capsys, str(folder), str(tmp_path / "loop.yaml"), RANKER)
    assert code == 2
    assert [(f["path"], f["valid"]) for f in files] == [
        (str(folder / "self.yaml"), False),
        (str(tmp_path / "loop.yaml"), False),
        (RANKER, True),
    ]
    assert all("leads nowhere" in f["errors"][0]["message"] for f in files[:2])  # type: ignore[index]


def test_a_fault_on_one_file_keeps_every_other_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(RANKER).read_text(encoding="utf-8"))
    real = validate_files.validate_document

    def faulty(doc):  # type: ignore[no-untyped-def]
        if doc.file == str(bad):
            raise RecursionError("maximum recursion depth exceeded")
        return real(doc)

    monkeypatch.setattr(validate_files, "validate_document", faulty)
    code, files = _validate(capsys, RANKER, str(bad), RANKER)
    assert code == 2
    assert [(f["path"], f["valid"]) for f in files] == [(RANKER, True), (str(bad), False), (RANKER, True)]
    assert files[1]["errors"] == [  # type: ignore[index]
        {
            "line": 1,
            "column": 1,
            "path": "$",
            "message": "internal error while checking this file: RecursionError: maximum recursion depth exceeded",
        }
    ]


def _many_unknown_references(count: int) -> str:
    metrics = "\n".join(f"  m{i:05d}: {{kind: proportion, column: error}}" for i in range(count))
    guards = "\n".join(f"  - {{metric: u{i:05d}, max: 1%}}" for i in range(count))
    teams = "\n".join(f"    - team:u{i:05d}" for i in range(count))
    return (
        "version: 1\nname: big\nmodels: {baseline: m1, candidate: m2}\n"
        "router: {adapter: file, options: {path: router.json}}\ndata: {predictions: p.parquet}\n"
        f"teams: {{t1: [alice]}}\nmetrics:\n{metrics}\nguards:\n{guards}\n"
        "stages:\n  - {name: full, traffic: 100%}\n"
        f"rollback:\n  max_duration: 5m\n  steps: [{{route: baseline}}]\n  authority:\n{teams}\n"
    )


def test_suggestions_stay_linear(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 unknown metric names took ~20 s when every one was compared with every metric; the
    work is now bounded per vocabulary: counted here as close-match searches, not timed. The
    benchmark (benchmarks/bench_validate.py) measures 10,000."""
    import difflib

    from rollout_cli.plan.suggest import MAX_SEARCHES

    searches = []
    real = difflib.get_close_matches
    monkeypatch.setattr(difflib, "get_close_matches", lambda *a, **k: searches.append(a[0]) or real(*a, **k))
    plan = tmp_path / "big.yaml"
    plan.write_text(_many_unknown_references(2000))
    code, files = _validate(capsys, str(plan))
    assert 0 < len(searches) <= 4 * MAX_SEARCHES  # a few vocabularies (metrics, teams, …), each bounded
    assert code == 2
    messages = [e["message"] for e in files[0]["errors"]]  # type: ignore[index]
    assert messages[0] == "unknown metric 'u00000' (did you mean 'm00000'?)"
    assert messages[1999].startswith("unknown metric 'u01999' (known: m00000, m00001,")
    assert messages[1999].endswith(", … 1988 more)")
