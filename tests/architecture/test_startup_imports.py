"""The commands an on-call engineer runs on the state (status, rollback's help, history) start without
DuckDB and the numeric libraries: those load with the first evaluation (docs/architecture.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rollout_support import write_plan

HEAVY = ("duckdb", "numpy", "scipy", "polars", "pyarrow")
PROBE = """
import json, sys
from rollout_cli.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as done:
    code = done.code
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}), file=sys.stderr)
""" % (HEAVY,)


@pytest.mark.parametrize("words", [["status", "{plan}", "--json"], ["history", "{plan}", "--json"],
                                   ["rollback", "--help"], ["status", "--help"]])
def test_reading_the_state_loads_no_duckdb(tmp_path: Path, words: list[str]) -> None:
    plan = write_plan(tmp_path)
    env = {**os.environ, "ROLLOUT_STATE_DIR": str(tmp_path / "state")}
    env.pop("ROLLOUT_STATE_URL", None)
    done = subprocess.run([sys.executable, "-c", PROBE, *(w.format(plan=plan) for w in words)], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["loaded"] == [], (words, report, done.stdout[-500:])
    assert report["code"] in (0, 2, None), report  # 2: no rollout started in this folder, said plainly


def test_the_shadow_comparison_loads_none_of_evaluates_query_modules() -> None:
    """`rollout shadow` reads its own statements (shadow/): evaluate's stage statement and roll-up
    (data/queries.py and what it imports) cost its start-up for nothing."""
    code = "import sys, rollout_cli.shadow.compare; print([m for m in sys.modules if m == 'rollout_cli.data.queries'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout
