"""Run a plan's rollback steps, in order, each timed (`rollback.steps`, docs/plan.md and docs/operations.md#rollback-steps).

route baseline  router.apply(BASELINE_ONLY)
verify router   read the router back until it reports the baseline alone (bounded retries)
run [argv]      the command, no shell, with its timeout (default 60 s)
notify URL      a webhook POST; the URL comes from a ${env:…} reference resolved at call time

After the router fails (route or verify), later `run` steps are skipped — scaling the candidate
down while it still takes traffic would turn a degraded service into an outage — but `notify`
steps still run, so people hear about a rollback that needs their hands. Every detail is
redacted with the plan's ${env:…} templates before it leaves this module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from rollout_cli.errors import RolloutError
from rollout_cli.plan.model import Plan, RollbackStep
from rollout_cli.routers.base import BASELINE_ONLY, Router
from rollout_cli.secrets import redact, remember_references, resolve, scrub_then_cut, scrub_value
from rollout_cli.state.store import secret_templates

DEFAULT_RUN_TIMEOUT_S = 60.0
NOTIFY_TIMEOUT_S = 10.0
VERIFY_ATTEMPTS = 5
VERIFY_BACKOFF_S = 0.1  # doubled after each attempt: 0.1 + 0.2 + 0.4 + 0.8 s at most

StepOutcome = Literal["pass", "fail", "skipped"]


@dataclass(frozen=True)
class StepResult:
    name: str  # e.g. "route baseline", "run kubectl scale …"
    kind: str
    duration_s: float
    outcome: StepOutcome
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "duration_s": round(self.duration_s, 4),
                "outcome": self.outcome, "detail": self.detail}


@dataclass(frozen=True)
class RollbackRun:
    steps: tuple[StepResult, ...]
    duration_s: float
    router_verified: bool  # the router was read back at baseline only
    manual_commands: tuple[str, ...] = field(default=())  # the router's explain(), for a person

    @property
    def ok(self) -> bool:
        return self.router_verified and all(s.outcome == "pass" for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {"duration_s": round(self.duration_s, 4), "router_verified": self.router_verified,
                "steps": [s.to_json() for s in self.steps], "manual_commands": list(self.manual_commands)}


def verify_baseline(router: Router, attempts: int = VERIFY_ATTEMPTS, backoff_s: float = VERIFY_BACKOFF_S) -> str:
    """Read the router back until it reports baseline only; '' on success, else why not.

    Up to `attempts` reads, waiting `backoff_s` after the first and doubling each time.
    """
    problem = _baseline_problem(router)
    if not problem or attempts <= 1:
        return f"{problem} (after {attempts} reads)" if problem else ""
    # Only a router still settling waits: tenacity is imported here, off the path of the usual
    # rollback, whose first read succeeds (its import would cost every rollback ~10 ms).
    from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, wait_exponential

    def last_problem(state: RetryCallState) -> str:
        return f"{state.outcome.result() if state.outcome else problem} (after {attempts} reads)"

    time.sleep(backoff_s)  # then 2x, 4x, … between the remaining reads
    retrying = Retrying(stop=stop_after_attempt(attempts - 1), wait=wait_exponential(multiplier=2 * backoff_s),
                        retry=retry_if_result(bool), retry_error_callback=last_problem, sleep=time.sleep)
    return str(retrying(_baseline_problem, router))


def _baseline_problem(router: Router) -> str:
    """'' when the router reports the baseline alone, else what it reports instead."""
    try:
        if router.verify(BASELINE_ONLY):
            return ""
        return f"the router reports {router.read()}, not the baseline alone"
    except RolloutError as exc:
        return exc.message
    except Exception as exc:  # noqa: BLE001 - an adapter's bug: not verified, and said so
        return f"internal error: {type(exc).__name__}: {exc}"


def _route(router: Router) -> str:
    router.apply(BASELINE_ONLY)
    return "router set to the baseline alone"


def _run(step: RollbackStep) -> str:
    argv = [resolve(str(arg)) for arg in step.value]
    timeout = step.timeout_s or DEFAULT_RUN_TIMEOUT_S
    try:
        # A session of its own: a Ctrl-C at the terminal stops the controller between ticks; it must
        # not kill a rollback step half way. It is also a process group of its own, so a step that
        # overruns its timeout is killed whole — a `sh -c "…"` step's children too — and nothing it
        # started keeps acting after the step was reported as failed.
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, shell=False,
                                   start_new_session=True)
    except OSError as exc:
        raise _StepFailed(f"could not run: {exc.strerror or exc}") from None
    with process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise _StepFailed(f"timed out after {timeout:g}s") from None
        except BaseException:  # Ctrl-C while waiting, in `rollout rollback` itself: leave nothing behind
            _kill_group(process)
            raise
    if process.returncode != 0:
        tail = scrub_then_cut((stderr or stdout).strip(), 300)  # scrubbed first: a cut secret is still found
        raise _StepFailed(f"exited {process.returncode}" + (f": {tail}" if tail else ""))
    return "exited 0"


def _kill_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the step's whole process group and reap the step."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone, children and all
    process.wait()


def _notify(step: RollbackStep, payload: dict[str, Any]) -> str:
    import requests  # lazily: most rollbacks never notify, and a rollback's process start should stay short

    url = resolve(str(step.value))
    try:
        # The body carries the --reason and step details a person typed: scrubbed like every output.
        response = requests.post(url, json=scrub_value(payload), timeout=NOTIFY_TIMEOUT_S)
    except requests.RequestException as exc:
        # Only the error's kind: its text quotes the URL's path, which may carry the secret token.
        raise _StepFailed(f"webhook {url} did not answer ({type(exc).__name__})") from None
    if response.status_code >= 300:
        raise _StepFailed(f"webhook {url} answered HTTP {response.status_code}")
    return f"webhook {url} answered HTTP {response.status_code}"


class _StepFailed(Exception):
    """A step that ran and failed; its message says how, in words for the on-call engineer."""


def run_rollback_steps(plan: Plan, router: Router, *, context: dict[str, Any] | None = None,
                       on_step: Callable[[StepResult], None] | None = None,
                       after_step: Callable[[RollbackStep], None] | None = None) -> RollbackRun:
    """Execute every step of plan.rollback.steps; never raises for a failing step.

    context: what the webhook payload says about the rollback (actor, reason, stage...).
    on_step: called with each result as it completes (progress output).
    after_step: called after each step with the step itself (the journal's kill points).
    """
    run = _StepRun(plan, router, context or {}, on_step)
    started = time.monotonic()
    for step in plan.rollback.steps:
        run.report(run.step(step))
        if after_step:
            after_step(step)
    if run.router_ok and not run.verified:
        # A plan always routes to baseline; when it lists no verify step the router is still read back,
        # because a rollback is never reported done on the strength of a write.
        run.report(run.implicit_verify())
    return RollbackRun(tuple(run.results), time.monotonic() - started, run.verified, run.manual_commands())


class _StepRun:
    """One run of the steps: the results so far, and what is known about the router."""

    def __init__(self, plan: Plan, router: Router, context: dict[str, Any],
                 on_step: Callable[[StepResult], None] | None) -> None:
        self.plan, self.router, self.context, self.on_step = plan, router, context, on_step
        self.templates = secret_templates(plan)
        remember_references(self.templates)
        self.results: list[StepResult] = []
        self.router_ok = True  # no route or verify step failed
        self.verified = False  # read back at the baseline alone

    def report(self, result: StepResult) -> None:
        self.results.append(result)
        if self.on_step:
            self.on_step(result)

    def step(self, step: RollbackStep) -> StepResult:
        """One step, timed; a failure is the result's outcome, never an exception."""
        t0 = time.monotonic()
        outcome: StepOutcome = "pass"
        try:
            if step.kind == "run" and not self.router_ok:
                outcome, detail = "skipped", "skipped: the router is not verified at the baseline"
            else:
                detail = self._perform(step)
        except Exception as exc:  # noqa: BLE001 - a router's own bug is a failed step, never an unfinished rollback
            outcome = "fail"
            detail = exc.message if isinstance(exc, RolloutError) else str(exc)
            if not isinstance(exc, (_StepFailed, RolloutError, OSError)):
                detail = f"internal error: {type(exc).__name__}: {exc}"
            if step.kind in ("route", "verify"):
                self.router_ok = False
        return StepResult(redact(step.describe(), self.templates), step.kind, time.monotonic() - t0, outcome,
                          redact(detail, self.templates))

    def _perform(self, step: RollbackStep) -> str:
        if step.kind == "route":
            return _route(self.router)
        if step.kind == "verify":
            problem = verify_baseline(self.router)
            if problem:
                raise _StepFailed(problem)
            self.verified = self.router_ok = True  # a route that errored may still have taken effect
            return "the router reports the baseline alone"
        if step.kind == "run":
            return _run(step)
        payload = {"plan": self.plan.name, "event": "rollback", **self.context,
                   "steps": [r.to_json() for r in self.results]}
        return _notify(step, payload)

    def implicit_verify(self) -> StepResult:
        t0 = time.monotonic()
        problem = verify_baseline(self.router)
        self.verified = not problem
        return StepResult("verify router (implicit)", "verify", time.monotonic() - t0,
                          "pass" if self.verified else "fail",
                          redact(problem or "the router reports the baseline alone", self.templates))

    def manual_commands(self) -> tuple[str, ...]:
        """The router's own commands for a person, when the rollback is not verified."""
        if self.verified:
            return ()
        try:
            return tuple(redact(c, self.templates) for c in self.router.explain(BASELINE_ONLY))
        except Exception as exc:  # noqa: BLE001 - explaining must never hide the failure it explains
            return (f"(the router could not explain its manual commands: {exc})",)


def run_command(plan: Plan, argv: tuple[str, ...], timeout_s: float | None = None) -> StepResult:
    """One command outside a rollback (drift's `on_drift: run`), run and reported like a `run` step."""
    templates = secret_templates(plan)
    step = RollbackStep(kind="run", value=argv, timeout_s=timeout_s)
    t0 = time.monotonic()
    outcome: StepOutcome = "pass"
    try:
        detail = _run(step)
    except (_StepFailed, RolloutError, OSError) as exc:
        outcome, detail = "fail", exc.message if isinstance(exc, RolloutError) else str(exc)
    return StepResult(redact(step.describe(), templates), "run", time.monotonic() - t0, outcome,
                      redact(detail, templates))
