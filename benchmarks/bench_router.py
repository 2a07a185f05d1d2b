"""How long router operations take, bare and through the adapters, against real HAProxy and nginx.

    python benchmarks/bench_router.py [--repeats 50] [--out benchmarks/results/router.md]

Starts HAProxy and nginx on free loopback ports in a temporary folder, in front of two small
model backends (tests/servers.py), then times, in one run:

- the bare router operation: HAProxy's `set server … weight` + `get weight` on the admin socket
  (from Python, and as a person would with socat); nginx: write the include, `nginx -s reload`,
  and wait until the status page serves the new split (reload to effect);
- the same through the adapter: `apply(split)` then `verify(split)`, in this process and in a
  fresh Python process (interpreter start + imports + apply + verify: the floor of any
  `rollout` command that moves the router).

- `rollout rollback` end to end: the console script from process start until the router is
  verified at the baseline and the audit entry written, from a rollout at its canary stage.

Each measurement is one function `(stack, repeats) -> Measurement`, listed in MEASUREMENTS per
router; to time another command next to these, add a function with the same signature and
append it to the lists. Every measurement flips the
router between two splits so that each repeat really changes something.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from rollout_support import write_plan
from servers import HAProxyStack, NginxStack, get

from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit
from rollout_cli.routers.file import write_atomically
from rollout_cli.routers.nginx_config import parse_status, render_include

CANARY = RouterSplit(10.0, 0.0)
ROLLOUT = shutil.which("rollout") or "rollout"
LOAD_AT_START = " ".join(f"{x:.2f}" for x in os.getloadavg())  # other work on the machine skews the tails


@dataclass(frozen=True)
class Measurement:
    router: str
    name: str
    detail: str
    samples_s: list[float]

    def row(self) -> str:
        ms = sorted(s * 1000 for s in self.samples_s)
        p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
        return (f"| {self.router} | {self.name} | {len(ms)} | {statistics.median(ms):.2f} | {p90:.2f} | "
                f"{ms[-1]:.2f} | {self.detail} |")


def timed(step: Callable[[int], Any], repeats: int) -> list[float]:
    """Wall time of `step(i)` for i in range(repeats)."""
    samples = []
    for i in range(repeats):
        started = time.perf_counter()
        step(i)
        samples.append(time.perf_counter() - started)
    return samples


def flip(i: int) -> RouterSplit:
    return CANARY if i % 2 == 0 else BASELINE_ONLY


# -- HAProxy ---------------------------------------------------------------------------------
def haproxy_socket_bare(stack: HAProxyStack, repeats: int) -> Measurement:
    router = stack.router(state_file=None)

    def step(i: int) -> None:
        candidate, baseline = (1, 9) if i % 2 == 0 else (0, 1)
        router.command(router.set_weights_line(candidate, baseline))
        assert router.weights() == (candidate, baseline)

    return Measurement("haproxy", "bare: set server weight + get weight (socket, in process)",
                       "two UNIX-socket round trips", timed(step, repeats))


def haproxy_socat(stack: HAProxyStack, repeats: int) -> Measurement:
    sock = f"unix-connect:{stack.admin_socket}"

    def step(i: int) -> None:
        weight = 1 if i % 2 == 0 else 0
        line = f"set server {stack.BACKEND}/candidate weight {weight}; get weight {stack.BACKEND}/candidate"
        out = subprocess.run(["socat", "stdio", sock], input=line + "\n", capture_output=True, text=True, check=True)
        assert out.stdout.split()[0] == str(weight)

    return Measurement("haproxy", "bare: the same with socat (the manual fallback)", "one socat process",
                       timed(step, repeats))


def haproxy_adapter(stack: HAProxyStack, repeats: int) -> Measurement:
    router = stack.router()

    def step(i: int) -> None:
        router.apply(flip(i))
        assert router.verify(flip(i))

    return Measurement("haproxy", "adapter: apply + verify (in process)",
                       "get, set, dump server state to file, get", timed(step, repeats))


def haproxy_adapter_without_state_file(stack: HAProxyStack, repeats: int) -> Measurement:
    router = stack.router(state_file=None)

    def step(i: int) -> None:
        router.apply(flip(i))
        assert router.verify(flip(i))

    return Measurement("haproxy", "adapter: apply + verify, no state file (in process)",
                       "the same without the fsynced dump", timed(step, repeats))


def haproxy_first_request_on_new_weight(stack: HAProxyStack, repeats: int) -> Measurement:
    router = stack.router(state_file=None)

    def step(i: int) -> None:
        router.apply(RouterSplit(100.0, 0.0) if i % 2 == 0 else BASELINE_ONLY)
        want = "candidate" if i % 2 == 0 else "baseline"
        while get(stack.port).model != want:
            pass

    return Measurement("haproxy", "adapter apply until the next request lands on the new weight",
                       "0% <-> 100%, fresh connections", timed(step, repeats))


# -- nginx -----------------------------------------------------------------------------------
def nginx_bare_reload(stack: NginxStack, repeats: int) -> Measurement:
    argv = [stack.nginx_bin, "-p", str(stack.root), "-c", str(stack.conf), "-e", str(stack.error_log)]

    def step(i: int) -> None:
        split = flip(i)
        write_atomically(stack.include, render_include("rollout", split, stack.baseline.address,
                                                       stack.candidate.address, "${request_id}"))
        subprocess.run([*argv, "-s", "reload"], check=True, capture_output=True)
        while parse_status(_status(stack)) != split:
            time.sleep(0.001)

    return Measurement("nginx", "bare: write include + nginx -s reload until the status page serves it",
                       "no nginx -t", timed(step, repeats))


def nginx_test_config(stack: NginxStack, repeats: int) -> Measurement:
    argv = [stack.nginx_bin, "-p", str(stack.root), "-c", str(stack.conf), "-e", str(stack.error_log), "-t"]
    return Measurement("nginx", "bare: nginx -t", "config check alone",
                       timed(lambda i: subprocess.run(argv, check=True, capture_output=True), repeats))


def nginx_adapter(stack: NginxStack, repeats: int) -> Measurement:
    router = stack.router()

    def step(i: int) -> None:
        router.apply(flip(i))
        assert router.verify(flip(i))

    return Measurement("nginx", "adapter: apply + verify (in process)",
                       "write, nginx -t, reload, wait until old workers stop accepting", timed(step, repeats))


def _status(stack: NginxStack) -> str:
    import urllib.request

    with urllib.request.urlopen(stack.status_url, timeout=2) as response:
        return response.read().decode()


# -- both: a fresh process, as a command would run ------------------------------------------
FRESH_PROCESS = """
import json, sys
from rollout_cli.routers.base import RouterSplit
from rollout_cli.routers.registry import router_for
adapter, options, traffic = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
router = router_for(adapter, options)
router.apply(RouterSplit(traffic, 0.0))
sys.exit(0 if router.verify(RouterSplit(traffic, 0.0)) else 4)
"""


def fresh_process(adapter: str) -> Callable[[Any, int], Measurement]:
    def measure(stack: Any, repeats: int) -> Measurement:
        options = json.dumps(stack.options())

        def step(i: int) -> None:
            traffic = str(flip(i).candidate_traffic)
            subprocess.run([sys.executable, "-c", FRESH_PROCESS, adapter, options, traffic], check=True)

        return Measurement(adapter, "adapter: apply + verify in a fresh python process",
                           "interpreter start + imports + apply + verify", timed(step, repeats))

    return measure


# -- both: `rollout rollback` end to end, as on-call would type it ----------------------------
ROLLBACK = "rollout rollback: process start -> router verified at the baseline"


def rollback_end_to_end(adapter: str) -> Callable[[Any, int], Measurement]:
    """Each repeat starts a rollout and forces it to the canary stage (not timed), then times the
    whole `rollout rollback` process: CLI start, plan, state store, authority, router steps,
    verification, audit entry."""

    def measure(stack: Any, repeats: int) -> Measurement:
        work = Path(tempfile.mkdtemp(prefix=f"bench-rollback-{adapter}-"))
        options = stack.options()
        if adapter == "haproxy":  # HAProxy mirrors nothing; the shadow stage keeps its share in a file
            options["shadow_file"] = str(work / "shadow.json")
            (work / "shadow.json").write_text('{"shadow": 0.0}')
        plan = str(write_plan(work, adapter=adapter, router_options=json.dumps(options)))
        samples = []
        try:
            for i in range(repeats):
                env = {**os.environ, "ROLLOUT_STATE_DIR": str(work / f"state-{i}")}

                def rollout(*args: str, env: dict[str, str] = env) -> None:
                    subprocess.run([ROLLOUT, *args], cwd=work, env=env, check=True, capture_output=True)

                rollout("start", plan, "--as", "alice")
                rollout("advance", plan, "--force", "--reason", "bench", "--as", "carol")
                assert stack.router().read().candidate_traffic == 5.0
                started = time.perf_counter()
                rollout("rollback", plan, "--reason", "bench", "--as", "bob")
                samples.append(time.perf_counter() - started)
                assert stack.router().read() == BASELINE_ONLY
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return Measurement(adapter, ROLLBACK, "the `rollout` console script; the rollout was at canary 5%", samples)

    return measure


MEASUREMENTS: dict[str, list[Callable[[Any, int], Measurement]]] = {
    "haproxy": [haproxy_socket_bare, haproxy_socat, haproxy_adapter, haproxy_adapter_without_state_file,
                haproxy_first_request_on_new_weight,
                fresh_process("haproxy"), rollback_end_to_end("haproxy")],
    "nginx": [nginx_test_config, nginx_bare_reload, nginx_adapter, fresh_process("nginx"),
              rollback_end_to_end("nginx")],
}
STACKS: dict[str, Callable[[Path], Any]] = {"haproxy": HAProxyStack, "nginx": NginxStack}


def run(repeats: int) -> list[Measurement]:
    results = []
    for name, measurements in MEASUREMENTS.items():
        root = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        stack = STACKS[name](root)
        try:
            for measure in measurements:
                results.append(measure(stack, repeats))
                print(results[-1].row(), flush=True)
        finally:
            stack.stop()
            shutil.rmtree(root, ignore_errors=True)
    return results


def report(results: list[Measurement], repeats: int) -> str:
    versions = {
        "nginx": subprocess.run(["nginx", "-v"], check=False, capture_output=True, text=True).stderr.strip(),
        "haproxy": subprocess.run(["haproxy", "-v"], check=False, capture_output=True, text=True).stdout.splitlines()[0],
    }
    lines = [
        "# Router operations: bare and through the adapters",
        "",
        (f"Run: `python benchmarks/bench_router.py --repeats {repeats}` on {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {versions['nginx']}, {versions['haproxy']}."),
        ("Servers on loopback started by the script, in front of two Python model backends. Times in ms. "
        f"Load average when the run started: {LOAD_AT_START}."),
        "",
        "| router | operation | n | median | p90 | max | what it includes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[m.row() for m in results],
        "",
        *notes(results),
    ]
    return "\n".join(lines)


def notes(results: list[Measurement]) -> list[str]:
    """What the figures mean for a rollback, computed from this run."""
    median = {(m.router, m.name): statistics.median(m.samples_s) * 1000 for m in results}
    fresh = median.get(("haproxy", "adapter: apply + verify in a fresh python process"))
    bare_reload = median.get(("nginx", "bare: write include + nginx -s reload until the status page serves it"))
    nginx_adapter = median.get(("nginx", "adapter: apply + verify (in process)"))
    lines = ["## Reading", ""]
    if fresh is not None:
        lines.append(
            f"- HAProxy: the router operation itself is well under a millisecond; a whole fresh process "
            f"that imports the adapter, applies and verifies takes {fresh:.0f} ms (median), most of it "
            "interpreter start and imports."
        )
        adapter = median.get(("haproxy", "adapter: apply + verify (in process)"))
        no_state = median.get(("haproxy", "adapter: apply + verify, no state file (in process)"))
        if adapter is not None and no_state is not None:
            lines.append(
                f"- The adapter's apply + verify takes {adapter:.1f} ms (median), {no_state:.1f} ms without the "
                "state file: the difference is the fsynced dump of `show servers state` that makes the weights "
                "survive a reload, and it grows with other disk traffic on the machine."
            )
    if bare_reload is not None and nginx_adapter is not None:
        lines.append(
            f"- nginx: a reload takes effect for new connections in {bare_reload:.0f} ms (median), but the "
            f"adapter's apply + verify takes {nginx_adapter:.0f} ms because verify also waits until every "
            "worker from before the reload has stopped accepting: nginx's master starts the new workers, "
            "sleeps 100 ms, then retires the old ones, so for ~0.1 s both configurations serve."
        )
    bare = {"haproxy": median.get(("haproxy", "bare: set server weight + get weight (socket, in process)")),
            "nginx": bare_reload}
    for router in ("haproxy", "nginx"):
        whole = median.get((router, ROLLBACK))
        if whole is None:
            continue
        verdict = "within" if whole < 500 else "over"
        bare_text = f"; the bare router operation alone takes {bare[router]:.1f} ms" if bare[router] is not None else ""
        lines.append(f"- `rollout rollback` against {router}, end to end: {whole:.0f} ms (median), {verdict} "
                     f"the 0.5 s goal{bare_text}.")
    lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "router.md")
    args = parser.parse_args()
    results = run(args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(results, args.repeats))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
