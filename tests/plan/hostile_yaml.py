"""Hostile plan files for fuzzing `plan validate`: a hypothesis strategy shared by the short run
in the suite (tests/plan/test_plan_fuzz.py) and the long run (benchmarks/fuzz_validate.py).

Inputs are random mutations of the example plans, each mutation one of the shapes earlier fuzz
campaigns found crashes with: aliases (recursive, chained, bombs), tags, deep nesting, huge
scalars, control characters and invalid UTF-8.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [p.read_bytes() for p in sorted((ROOT / "plans").glob("*.yaml")) + sorted((ROOT / "tests/plans/good").glob("*.yaml"))]

TAGS = ["!!int", "!!bool", "!!float", "!!str", "!!null", "!!timestamp", "!!binary", "!!set", "!!omap",
        "!!map", "!!seq", "!!python/object:os.system", "!custom", "!!merge", "!<tag:yaml.org,2002:int>"]
SCALARS = ["", "abc", "maybe", "x", "2001-02-30", "1e999", "-.inf", ".nan", "0x", "0o9", "0b2", "1_000",
           "9" * 5000, "0x" + "f" * 6000, "1." + "5" * 400, "~", "null", "yes", "on", "'", '"', "- ", ": "]


def _snippets() -> st.SearchStrategy[bytes]:
    tag = st.builds(lambda t, v: f"{t} {v}".encode(), st.sampled_from(TAGS), st.sampled_from(SCALARS))
    recursive = st.sampled_from([b"&a [*a]", b"&a {k: *a}", b"&a [[*a]]", b"*undefined", b"&a x", b"<<: *a"])
    chained = st.integers(2, 120).map(lambda n: "\n".join(
        ["c0: &c0 [x]"] + [f"c{i}: &c{i} [*c{i - 1}, *c{i - 1}]" for i in range(1, n)]).encode())
    nesting = st.integers(1, 400).map(lambda n: b"[" * n + b"]" * n)
    braces = st.integers(1, 400).map(lambda n: b"{a: " * n + b"1" + b"}" * n)
    huge = st.sampled_from(SCALARS).map(str.encode)
    control = st.binary(min_size=1, max_size=4).map(lambda b: bytes(c % 32 for c in b))
    invalid_utf8 = st.sampled_from([b"\x80", b"\xff\xfe", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
    # Tags and aliases first: they reach the constructor, where the crashes were.
    return st.one_of(tag, recursive, tag, chained, huge, tag, nesting, braces, control, invalid_utf8, st.binary(max_size=20))


@st.composite
def hostile_plan(draw: st.DrawFn) -> bytes:
    """An example plan with 1–4 random mutations."""
    data = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        # Most random byte edits only break the syntax; replacing a value or adding a key keeps
        # the document parseable, so the constructor and the rules see the hostile value.
        action = draw(st.sampled_from(["replace_value"] * 4 + ["new_line"] * 3 + ["insert", "delete", "truncate"]))
        snippet = draw(_snippets())
        if action == "insert":
            data = data[:at] + snippet + data[at:]
        elif action == "replace_value":
            colon = data.find(b": ", at)
            end = data.find(b"\n", colon + 2) if colon >= 0 else -1
            if colon >= 0 and end >= 0:
                data = data[: colon + 2] + snippet + data[end:]
        elif action == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 200)):]
        elif action == "truncate":
            data = data[:at]
        else:
            line_start = data.rfind(b"\n", 0, at) + 1
            data = data[:line_start] + b"k: " + snippet + b"\n" + data[line_start:]
    return data


def validate_in_process(paths: list[str]) -> tuple[int, str, float]:
    """`rollout plan validate -f json PATHS` through the real entry point: (exit code, stdout, CPU
    seconds: this process's own, which other work on a shared machine does not inflate)."""
    from rollout_cli.cli.main import main

    out = io.StringIO()
    start = time.process_time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["plan", "validate", "-f", "json", *paths])
    return code, out.getvalue(), time.process_time() - start


def check_outcome(paths: list[str], code: int, stdout: str) -> list[str]:
    """What is wrong with one run's outcome (empty when it keeps every promise)."""
    wrong: list[str] = []
    if code not in (0, 2):
        wrong.append(f"exit {code}")
    try:
        files = json.loads(stdout)["files"]
    except (ValueError, KeyError, TypeError):
        return [*wrong, "stdout is not the JSON report"]
    if [f["path"] for f in files] != paths:
        wrong.append("not one entry per file")
    for entry in files:
        for error in entry["errors"]:
            if not (isinstance(error["line"], int) and error["line"] >= 1 and error["column"] >= 1):
                wrong.append(f"no line and column: {error}")
            if error["message"].startswith("internal error"):
                wrong.append(error["message"])
        if not entry["valid"] and not entry["errors"]:
            wrong.append("invalid without an error")
    return wrong
