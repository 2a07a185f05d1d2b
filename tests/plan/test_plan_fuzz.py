"""`plan validate` under fuzzing: a short fixed-seed run of hostile YAML (the long run with its
figures is benchmarks/fuzz_validate.py). Every input: exit 0 or 2, one JSON entry per file, a
line and column on every error, no internal error, bounded time and memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from hostile_yaml import check_outcome, hostile_plan, validate_in_process
from hypothesis import HealthCheck, given, seed, settings
from plan_paths import ROOT

TIME_LIMIT_S = 5.0
MEMORY_LIMIT_B = 200_000_000
RANKER = str(ROOT / "plans" / "ranker-v42.yaml")


def test_fuzzed_plans_keep_every_promise(tmp_path: Path) -> None:
    plan = tmp_path / "fuzzed.yaml"
    paths = [str(plan), RANKER]

    @seed(20261128)
    @settings(max_examples=120, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(hostile_plan())
    def one(raw: bytes) -> None:
        plan.write_bytes(raw)
        tracemalloc.start()
        try:
            code, stdout, seconds = validate_in_process(paths)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert check_outcome(paths, code, stdout) == []
        assert seconds < TIME_LIMIT_S
        assert peak < MEMORY_LIMIT_B

    one()
