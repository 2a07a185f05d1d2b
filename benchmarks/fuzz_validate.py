"""The long fuzz run of `plan validate` (the suite runs a short one: tests/plan/test_plan_fuzz.py).

Generates N hostile plans with the suite's strategy (tests/plan/hostile_yaml.py: mutations of the
example plans with aliases, tags, deep nesting, huge scalars, control characters, invalid UTF-8),
validates each beside a good plan through the real entry point, and counts broken promises:
an exit other than 0 or 2, stdout that is not the JSON report, not one entry per file, an error
without line and column, an internal error; plus the slowest run and the peak memory
(tracemalloc, every 50th input). Target: 0 internal errors in 100,000 inputs.

Usage: python benchmarks/fuzz_validate.py [--inputs N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "plan")]

from hostile_yaml import check_outcome, hostile_plan, validate_in_process
from hypothesis import HealthCheck, given, seed, settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    counts: Counter[str] = Counter()
    slowest = 0.0
    slowest_cpu, slowest_input = 0.0, b""
    peak = 0
    examples: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        plan = Path(folder) / "fuzzed.yaml"
        paths = [str(plan), str(ROOT / "plans" / "ranker-v42.yaml")]

        @seed(args.seed)
        @settings(max_examples=args.inputs, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(hostile_plan())
        def one(raw: bytes) -> None:
            nonlocal slowest, peak, slowest_cpu, slowest_input
            plan.write_bytes(raw)
            cpu_start = time.process_time()
            measure = counts["inputs"] % 50 == 0
            if measure:
                tracemalloc.start()
            code, stdout, seconds = validate_in_process(paths)
            if measure:
                peak = max(peak, tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            counts["inputs"] += 1
            counts[f"exit {code}"] += 1
            slowest = max(slowest, seconds)
            cpu = time.process_time() - cpu_start
            if cpu > slowest_cpu:
                slowest_cpu, slowest_input = cpu, raw
            wrong = check_outcome(paths, code, stdout)
            if wrong:
                counts["broken"] += 1
                counts["internal errors"] += sum(w.startswith("internal error") for w in wrong)
                if len(examples) < 5:
                    examples.append(f"{wrong[:2]} for {raw[:200]!r}")
            if counts["inputs"] % 5000 == 0:
                print(f"... {counts['inputs']} inputs, {counts['broken']} broken", file=sys.stderr, flush=True)

        start = time.perf_counter()
        one()
        elapsed = time.perf_counter() - start
    print(f"inputs: {counts['inputs']} (seed {args.seed}) in {elapsed:.0f} s")
    print(f"exit codes: 0 x{counts['exit 0']}, 2 x{counts['exit 2']}, other x{counts['inputs'] - counts['exit 0'] - counts['exit 2']}")
    print(f"broken promises: {counts['broken']} (internal errors: {counts['internal errors']})")
    print(f"slowest input: {slowest:.2f} s wall, {slowest_cpu:.2f} s CPU (a busy machine stretches wall time); "
          f"peak traced memory: {peak / 1e6:.1f} MB")
    print(f"the input that took the most CPU starts {slowest_input[:120]!r}")
    for example in examples:
        print("  " + example)
    sys.exit(1 if counts["broken"] else 0)


if __name__ == "__main__":
    main()
