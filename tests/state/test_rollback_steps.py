"""Rollback steps: route, verify, run (timeout, no shell), notify (webhook, redacted), each timed."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
from rollout_support import plan_in, router_split

from rollout_cli.routers.base import BASELINE_ONLY, RouterSplit
from rollout_cli.routers.file import FileRouter
from rollout_cli.routers.registry import router_for
from rollout_cli.transitions.steps import run_rollback_steps, verify_baseline


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append({"path": self.path, "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def webhook():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_all_steps_pass_and_the_webhook_url_is_redacted(tmp_path: Path, webhook: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLL_HOOK", f"{webhook}/hooks/t0ken-abcdef")
    plan = plan_in(tmp_path, extra_steps='    - run: [sh, -c, "echo scaled"]\n      timeout: 5s\n'
                                         "    - notify: ${env:ROLL_HOOK}\n")
    router = router_for("file", {"path": str(tmp_path / "router.json")})
    router.prepare()
    router.apply(RouterSplit(5, 0))
    run = run_rollback_steps(plan, router, context={"actor": "bob", "reason": "test"})
    assert [(s.kind, s.outcome) for s in run.steps] == [("route", "pass"), ("verify", "pass"), ("run", "pass"),
                                                        ("notify", "pass")]
    assert run.ok and router_split(tmp_path) == BASELINE_ONLY
    assert run.steps[3].detail == "webhook *** answered HTTP 204"
    assert "t0ken-abcdef" not in json.dumps(run.to_json())
    (call,) = _Hook.received
    assert call["path"] == "/hooks/t0ken-abcdef"
    assert call["body"]["reason"] == "test" and [s["kind"] for s in call["body"]["steps"]] == ["route", "verify", "run"]


def test_run_step_timeout_and_failure_are_reported(tmp_path: Path) -> None:
    plan = plan_in(tmp_path, extra_steps="    - run: [sleep, '5']\n      timeout: 0.3s\n"
                                         "    - run: [sh, -c, 'echo boom >&2; exit 3']\n")
    router = router_for("file", {"path": str(tmp_path / "router.json")})
    router.prepare()
    run = run_rollback_steps(plan, router)
    assert run.router_verified and not run.ok
    assert [(s.outcome, s.detail) for s in run.steps[2:]] == [("fail", "timed out after 0.3s"),
                                                              ("fail", "exited 3: boom")]
    assert run.steps[2].duration_s < 5  # killed: `sleep 5` did not run to its end


def test_router_failure_skips_run_steps_but_still_notifies(tmp_path: Path, webhook: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLL_HOOK", webhook)
    plan = plan_in(tmp_path, extra_steps="    - run: ['true']\n    - notify: ${env:ROLL_HOOK}\n")
    (tmp_path / "router.json").mkdir()  # the router cannot be read or written
    router = router_for("file", {"path": str(tmp_path / "router.json")})
    router.prepare()
    run = run_rollback_steps(plan, router)
    assert [(s.kind, s.outcome) for s in run.steps] == [("route", "fail"), ("verify", "fail"), ("run", "skipped"),
                                                        ("notify", "pass")]
    assert not run.router_verified
    assert run.manual_commands and run.manual_commands[0].startswith("python3 -c")


def test_a_timed_out_run_step_is_killed_with_its_children(tmp_path: Path) -> None:
    # the shell starts a child and waits for it; at the timeout both must die, not just the shell
    pid_file = tmp_path / "child.pid"
    plan = plan_in(tmp_path, extra_steps=f"    - run: [sh, -c, 'sleep 30 & echo $! > {pid_file}; wait']\n"
                                         "      timeout: 0.5s\n")
    router = router_for("file", {"path": str(tmp_path / "router.json")})
    router.prepare()
    run = run_rollback_steps(plan, router)
    assert (run.steps[2].outcome, run.steps[2].detail) == ("fail", "timed out after 0.5s")
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child), "the timed-out step's child still runs"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child of an exited shell is reaped by init; until then it shows as a zombie
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def _waits(monkeypatch: pytest.MonkeyPatch, during: Callable[[int], None] = lambda n: None) -> list[float]:
    """The waits between reads, as asked of time.sleep (not measured: a loaded machine sleeps longer);
    `during(n)` runs in the n-th wait, like a router settling then."""
    asked: list[float] = []

    def sleep(seconds: float) -> None:
        asked.append(seconds)
        during(len(asked))

    monkeypatch.setattr(time, "sleep", sleep)
    return asked


def test_verify_waits_for_a_router_that_settles_late(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    router = FileRouter(tmp_path / "router.json")
    router.prepare()
    router.apply(RouterSplit(5.0, 0.0))
    waits = _waits(monkeypatch, lambda n: router.apply(BASELINE_ONLY) if n == 2 else None)  # between reads 2 and 3
    assert verify_baseline(router, attempts=5, backoff_s=0.05) == ""
    assert waits == pytest.approx([0.05, 0.1])  # read at 0, 0.05 and 0.15 s, then no more


def test_verify_gives_up_after_its_reads_with_backoff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    router = FileRouter(tmp_path / "router.json")
    router.prepare()
    router.apply(RouterSplit(5.0, 0.0))
    waits = _waits(monkeypatch)
    problem = verify_baseline(router, attempts=3, backoff_s=0.05)
    assert problem == "the router reports candidate 5% served, 0% mirrored, not the baseline alone (after 3 reads)"
    assert waits == pytest.approx([0.05, 0.1])
