"""Notifications against a real HTTP server on 127.0.0.1 that answers, fails, and times out."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rollout_support import T0, router_split, simulate, write_plan
from rollout_support import run_in_process as run

from rollout_cli.cli.main import main
from rollout_cli.notify import Event, notify
from rollout_cli.notify.deliver import ATTEMPTS
from rollout_cli.plan import load_plan
from rollout_cli.routers.base import BASELINE_ONLY
from rollout_cli.state.store import StateStore


@dataclass
class Hook:
    """Per path: "ok", "fail" (HTTP 500), "flaky" (500 then 200), "slow" (answers after 3 s)."""

    port: int = 0
    received: list[tuple[str, dict, dict]] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"


@pytest.fixture()
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            mode = self.path.strip("/").split("/")[0]
            state.hits[mode] = state.hits.get(mode, 0) + 1
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if mode == "slow":
                time.sleep(3)
            code = 500 if mode == "fail" or (mode == "flaky" and state.hits[mode] == 1) else 200
            if code == 200:
                state.received.append((mode, body, dict(self.headers)))
            try:
                self.send_response(code)
                self.end_headers()
            except OSError:
                pass  # the client gave up (the slow case)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


NOTIFY = """notify:
  - {{url: "${{env:HOOK_OK}}", token: "${{env:HOOK_TOKEN}}"}}
  - {{url: "${{env:HOOK_SLACK}}", format: slack, events: [rollback_finished, rollback_failed, stage_advanced]}}
  - {{url: "${{env:HOOK_{bad}}}"}}
"""


def _plan(directory: Path, bad: str = "FAIL") -> Path:
    path = write_plan(directory)
    path.write_text(path.read_text() + NOTIFY.format(bad=bad))
    return path


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hook: Hook) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROLLOUT_STATE_DIR", str(tmp_path / ".rollout"))
    monkeypatch.delenv("ROLLOUT_STATE_URL", raising=False)
    monkeypatch.setenv("ROLLOUT_NOW", T0.isoformat())
    monkeypatch.setenv("HOOK_OK", hook.url("ok/s3cr3t-path"))
    monkeypatch.setenv("HOOK_SLACK", hook.url("flaky"))
    monkeypatch.setenv("HOOK_FAIL", hook.url("fail/s3cr3t-path"))
    monkeypatch.setenv("HOOK_SLOW", hook.url("slow/s3cr3t-path"))
    monkeypatch.setenv("HOOK_TOKEN", "tok-123456")
    return tmp_path


@pytest.mark.slow
def test_a_controller_rollback_notifies_with_evidence_and_audits_the_failed_delivery(
        here: Path, hook: Hook, capsys, monkeypatch) -> None:
    path = _plan(here)
    plan = load_plan(path)
    assert run(capsys, "start", str(path), "--as", "alice")[0] == 0
    simulate(plan, here, T0, 1, candidate_pct=0, shadow_pct=100, part=1)
    monkeypatch.setenv("ROLLOUT_NOW", (T0 + timedelta(hours=1)).isoformat())
    assert run(capsys, "tick", str(path))[0] == 0  # shadow -> canary: stage_advanced
    simulate(plan, here, T0 + timedelta(hours=1), 1, candidate_pct=5, shadow_pct=0, part=2, units=60_000,
             segment_effect=("platform", "ios", -0.6))
    monkeypatch.setenv("ROLLOUT_NOW", (T0 + timedelta(hours=2)).isoformat())
    code, out, _ = run(capsys, "tick", str(path), "--json")
    assert (code, json.loads(out)["status"]) == (1, "rolled_back") and router_split(here) == BASELINE_ONLY
    kinds = [(mode, body.get("kind") or body["text"].split("\n")[0]) for mode, body, _ in hook.received]
    assert ("ok", "stage_advanced") in kinds and ("ok", "rollback_started") in kinds
    assert ("ok", "rollback_finished") in kinds
    finished = next(b for m, b, _ in hook.received if m == "ok" and b["kind"] == "rollback_finished")
    assert "platform=ios" in finished["check"] and finished["runbook"] == "runbooks/ranker.md"
    assert finished["command"] == f"rollout status {path}" and finished["actor"] == "controller"
    headers = next(h for m, b, h in hook.received if m == "ok")
    assert headers["Authorization"] == "Bearer tok-123456"
    slack = [b for m, b, _ in hook.received if m == "flaky"]  # retried after its first HTTP 500
    assert [b["text"].split("\n")[0] for b in slack] == ["ranker: advanced", "ranker: rolled back"]
    assert "*Runbook:* runbooks/ranker.md" in slack[1]["text"]
    assert hook.hits["fail"] == ATTEMPTS * 3  # three events, each tried ATTEMPTS times, then given up
    store = StateStore.open(here / ".rollout")
    failures = store.events("ranker", "notify")
    assert len(failures) == 3 and all("HTTP 500" in e.reason for e in failures)
    assert all("s3cr3t" not in e.reason and "***" in e.reason for e in failures)  # the URL is redacted


def test_a_webhook_that_times_out_never_blocks_a_rollback(here: Path, hook: Hook, capsys) -> None:
    path = _plan(here, bad="SLOW")
    assert run(capsys, "start", str(path), "--as", "alice")[0] == 0
    code, out, _ = run(capsys, "rollback", str(path), "--as", "bob", "--reason", "stop", "--json")
    doc = json.loads(out)
    assert (code, doc["outcome"]) == (0, "rolled_back")
    assert doc["duration_s"] < 3.0  # the steps did not wait for the webhook, which answers after 3 s
    failures = StateStore.open(here / ".rollout").events("ranker", "notify")
    assert failures and all("ReadTimeoutError" in e.reason or "budget" in e.reason for e in failures)


def test_the_notify_api_and_secrets_only_by_reference(tmp_path: Path, hook: Hook, monkeypatch) -> None:
    path = write_plan(tmp_path)
    path.write_text(path.read_text() + "notify:\n  - {url: \"https://hooks.example/T0/s3cr3t\"}\n")
    code = main(["plan", "validate", str(path)])
    assert code == 2  # a URL written out is refused: webhooks only by ${env:…}
    path.write_text(path.read_text().replace('"https://hooks.example/T0/s3cr3t"', '"${env:HOOK_X}"'))
    monkeypatch.setenv("HOOK_X", hook.url("ok"))
    plan = load_plan(path)
    (delivery,) = notify(plan, Event("drift_confirmed", "feature f drifted (PSI 0.31 > 0.2)", T0, stage="canary",
                                     check="feature f: PSI 0.31 > 0.2", command="rollout status x"))
    assert delivery.ok and hook.received[-1][1]["summary"].startswith("feature f drifted")
    monkeypatch.delenv("HOOK_X")
    (delivery,) = notify(plan, Event("drift_confirmed", "x", T0))
    assert not delivery.ok and "HOOK_X is not set" in delivery.detail


def test_a_webhook_body_never_carries_a_secret_from_a_reason_or_an_error(tmp_path: Path, hook: Hook, monkeypatch) -> None:
    path = write_plan(tmp_path)
    path.write_text(path.read_text() + 'notify:\n  - {url: "${env:HOOK_X}", token: "${env:HOOK_TOKEN}"}\n')
    monkeypatch.setenv("HOOK_X", hook.url("ok"))
    monkeypatch.setenv("HOOK_TOKEN", "tok-9f8e7d6c5b")
    plan = load_plan(path)  # opening the plan remembers its secrets' values
    (delivery,) = notify(plan, Event("stage_advanced", "ranker advanced", T0, stage="canary",
                                     check="forced by carol: paged with tok-9f8e7d6c5b",
                                     details={"error": "header value: 'Bearer tok-9f8e7d6c5b\\n'"}))
    assert delivery.ok
    sent = json.dumps(hook.received[-1][1])
    assert "tok-9f8e7d6c5b" not in sent and "forced by carol: paged with ***" in sent
