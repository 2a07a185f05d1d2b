"""kill -9 at random times: advance, rollback and tick against the file router and HAProxy, some
of them running as PID 1 of their own PID namespace (`unshare --pid --fork`), then count the
states that are not consistent. Reproducible with --seed; prints one line per configuration.

A trial: a fresh state store and rollout (started, at shadow or canary; for `tick`, with an
unverified rollback to retry), the command launched, SIGKILL after a random delay drawn from
0 to the command's own measured duration (so kills land everywhere in it, before and after its
end). For a namespaced command the namespace's PID 1 is killed (which ends the namespace).
Then reconciliation runs (what every next command does first) and the trial is INCONSISTENT
when any of these holds:
  - reconciliation fails, or a transition is still open;
  - a rollback was begun but the state is not `rolled_back` (verified), or the router is not at
    the baseline (a rollback always wins);
  - otherwise, the router does not serve the split the state records.
Usage: python benchmarks/kill_campaign.py [--trials N] [--seed S] [--routers file,haproxy]
Needs haproxy on PATH for the HAProxy trials (scripts/test installs it) and `unshare --pid`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from rollout_support import T0, write_plan
from servers import HAProxyStack

from rollout_cli.plan import load_plan
from rollout_cli.routers.base import BASELINE_ONLY, splits_match
from rollout_cli.state import journal
from rollout_cli.state.store import StateStore
from rollout_cli.transitions import moves
from rollout_cli.transitions.context import Rollout
from rollout_cli.transitions.reconcile import reconcile

COMMANDS = ("advance", "rollback", "tick")


def _env(directory: Path) -> dict[str, str]:
    env = {**os.environ, "ROLLOUT_STATE_DIR": str(directory / ".rollout"), "ROLLOUT_NOW": T0.isoformat(),
           "PYTHONPATH": str(ROOT)}
    env.pop("ROLLOUT_KILL_AT", None)
    return env


def _prepare(directory: Path, router: str, stack: HAProxyStack | None, command: str, rng: random.Random) -> list[str]:
    if router == "haproxy":
        assert stack is not None
        # HAProxy mirrors nothing itself: the shadow share lives in a file a mirror reads
        options = stack.options(shadow_file=str(directory / "shadow.json"))
        stack.router(**options).apply(BASELINE_ONLY)
        path = write_plan(directory, adapter="haproxy", router_options=json.dumps(options))
    else:
        path = write_plan(directory)
    store = StateStore.open(directory / ".rollout")
    rollout = Rollout.open(load_plan(path), store)
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    if rng.random() < 0.5:
        moves.advance(rollout, rollout.plan.stages[0].name, rollout.plan.stages[1], actor="alice", reason="setup",
                      now=T0, evidence=None)
    if command == "tick":  # an unverified rollback for the controller to retry: no logs needed
        with store.write() as conn:
            conn.execute("UPDATE rollouts SET rollback_incomplete = 1")
    store.close()
    if command == "advance":
        return ["advance", str(path), "--force", "--reason", "campaign", "--as", "carol"]
    if command == "rollback":
        return ["rollback", str(path), "--reason", "campaign", "--as", "bob"]
    return ["tick", str(path)]


def _namespace_pid1(unshare_pid: int) -> int | None:
    """The child `unshare --fork` started (PID 1 inside the namespace), as the host sees it."""
    for task in Path(f"/proc/{unshare_pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        if children:
            return int(children[0])
    return None


def _run_and_kill(argv: list[str], directory: Path, delay: float, pidns: bool) -> None:
    prefix = ["unshare", "--pid", "--fork"] if pidns else []
    process = subprocess.Popen([*prefix, sys.executable, "-m", "rollout_cli", *argv], cwd=directory,
                               env=_env(directory), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    target = process.pid
    if pidns:
        child = _namespace_pid1(process.pid)
        target = child if child is not None else process.pid
    try:
        os.kill(target, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it had finished: a kill after the end is a trial too
    process.wait(timeout=60)


def _consistent(directory: Path) -> str | None:
    """Why the trial's end state is inconsistent, or None. The next command's first act,
    reconciliation, runs first (in this process, as `status` would run it)."""
    store = StateStore.open(directory / ".rollout")
    try:
        rollout = Rollout.open(load_plan(directory / "ranker.yaml"), store)
        try:
            reconcile(rollout, actor="campaign", now=T0)
        except Exception as exc:  # noqa: BLE001 - any failure to reconcile is a finding
            return f"reconcile failed: {type(exc).__name__}: {exc}"
        transitions = journal.all_transitions(store, "ranker")
        state = rollout.state()
        if [t for t in transitions if t.is_open]:
            return "a transition is still open"
        router = rollout.router.read()
        if any(t.kind == "rollback" for t in transitions):
            if state.status != "rolled_back" or state.rollback_incomplete or not splits_match(router, BASELINE_ONLY):
                return f"a rollback began but the state is {state.status} and the router {router}"
        elif not splits_match(router, state.split):
            return f"the router serves {router}, the state records {state.split}"
    finally:
        store.close()
    return None


def _duration(argv: list[str], directory: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rollout_cli", *argv], cwd=directory, env=_env(directory),
                   capture_output=True, timeout=120, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200,
                        help="trials per router and process kind (plain, PID 1 of a PID namespace)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--routers", default="file,haproxy")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    routers = args.routers.split(",")
    pidns_ok = shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "--pid", "--fork", "true"], capture_output=True, check=False).returncode == 0
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        stack = HAProxyStack(root / "haproxy") if "haproxy" in routers and (root / "haproxy").mkdir() is None else None
        try:
            # each command's own duration, measured once per router: the kill delays span it
            durations = {}
            for router in routers:
                for command in COMMANDS:
                    probe = root / f"probe-{router}-{command}"
                    probe.mkdir()
                    durations[(router, command)] = _duration(_prepare(probe, router, stack, command, rng), probe)
            print(f"seed {args.seed}; measured durations: " +
                  ", ".join(f"{r}/{c} {d:.2f}s" for (r, c), d in durations.items()))
            total = Counter()
            for router in routers:
                for pidns in ([False, True] if pidns_ok else [False]):
                    results: Counter[str] = Counter()
                    examples: list[str] = []
                    for trial in range(args.trials):
                        command = COMMANDS[trial % len(COMMANDS)]  # each command a third of the trials
                        directory = root / f"{router}-{int(pidns)}-{trial}"
                        directory.mkdir()
                        argv = _prepare(directory, router, stack, command, rng)
                        delay = rng.uniform(0.0, durations[(router, command)] * 1.1)
                        _run_and_kill(argv, directory, delay, pidns)
                        problem = _consistent(directory)
                        results["inconsistent" if problem else "consistent"] += 1
                        if problem and len(examples) < 5:
                            examples.append(f"{command} killed after {delay:.3f}s: {problem}")
                        shutil.rmtree(directory, ignore_errors=True)
                    where = "PID 1 in its own PID namespace" if pidns else "plain process"
                    print(f"{router:8s} {where:32s} trials {args.trials:4d}  inconsistent {results['inconsistent']}")
                    for example in examples:
                        print("    " + example)
                    total.update(results)
            print(f"total: {sum(total.values())} trials, {total['inconsistent']} inconsistent")
        finally:
            if stack is not None:
                stack.stop()
    sys.exit(1 if total["inconsistent"] else 0)


if __name__ == "__main__":
    main()
