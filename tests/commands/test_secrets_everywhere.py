"""Secrets planted in every input a user can give — the plan's ${env:…} references (a router URL
and token, a webhook URL, a `run` argument), the environment, --reason — never reach any output:
stdout, stderr, --json, the runbook, the state store (audit, journal, drill records), webhook
bodies. One scrubbing path (rollout_cli/secrets.py) serves them all."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rollout_support import T0, cli, write_plan
from servers import SplitService

ROUTER_TOKEN = "rt-7f3e9a1b55"
ROUTER_KEY = "rk-c0ffee4242"
HOOK_SECRET = "hk-deadbeef99"
STEP_TOKEN = "st-0123456789abcdef"  # printed first by the failing step: the 300-character cut falls inside it
SECRETS = (ROUTER_TOKEN, ROUTER_KEY, HOOK_SECRET, STEP_TOKEN)


class Webhook:
    """Records every body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/{HOOK_SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def services() -> Any:
    router, hook = SplitService(token=ROUTER_TOKEN), Webhook()
    yield router, hook
    router.stop()
    hook.server.shutdown()


def _leaks(text: str | bytes) -> list[str]:
    raw = text.encode() if isinstance(text, str) else text
    found = []
    for secret in SECRETS:
        for fragment in (secret, secret[-8:], secret[:8]):  # a cut secret leaks its head or tail
            if fragment.encode() in raw:
                found.append(fragment)
    return found


def test_no_output_and_no_record_holds_a_secret(tmp_path: Path, services: Any) -> None:
    router, hook = services
    options = json.dumps({"url": router.url + "?key=${env:ROUTER_KEY}", "token": "${env:ROUTER_TOKEN}"})
    steps = ("    - run: [sh, -c, 'printf %s ${env:STEP_TOKEN} >&2; printf \"%0290d\" 0 >&2; exit 3']\n"
             "    - notify: ${env:HOOK_URL}\n")
    plan = write_plan(tmp_path, adapter="http", router_options=options, extra_steps=steps)
    env = {"ROUTER_TOKEN": ROUTER_TOKEN, "ROUTER_KEY": ROUTER_KEY, "HOOK_URL": hook.url, "STEP_TOKEN": STEP_TOKEN,
           "ROLLOUT_NOW": T0.isoformat()}
    reason = f"paged: token {ROUTER_TOKEN} key {ROUTER_KEY} hook {hook.url} step {STEP_TOKEN}"
    outputs: dict[str, str] = {}
    commands = {
        "start": ["start", str(plan), "--as", "alice", "--reason", reason],
        "status": ["status", str(plan)],
        "status --json": ["status", str(plan), "--json"],
        "rollback": ["rollback", str(plan), "--reason", reason, "--as", "bob"],
        "refused": ["rollback", str(plan), "--reason", reason, "--as", "mallory"],
        "rollback --json": ["rollback", str(plan), "--reason", reason, "--as", "bob", "--json"],
        "drill --json": ["drill", str(plan), "--as", "bob", "--json"],
        "history": ["history", str(plan)],
        "history --json": ["history", str(plan), "--json"],
        "runbook": ["runbook", "generate", str(plan)],
    }
    for name, args in commands.items():
        result = cli(args, cwd=tmp_path, env=env)
        outputs[name] = result.stdout + result.stderr
        assert "internal error" not in result.stderr, (name, result.stderr)
    assert "exited 3: ***" in outputs["rollback"]  # the failing step's output is shown, scrubbed then cut
    assert hook.bodies, "the webhook was called"
    stored = {path.name: path.read_bytes() for path in (tmp_path / ".rollout").iterdir() if path.is_file()}
    runbooks = {str(path): path.read_text() for path in tmp_path.rglob("*.md")}
    assert runbooks
    leaks = {name: _leaks(text) for name, text in {**outputs, **runbooks}.items()}
    leaks.update({f"webhook body {i}": _leaks(body) for i, body in enumerate(hook.bodies)})
    leaks.update({f"state file {name}": _leaks(data) for name, data in stored.items()})
    assert {name: found for name, found in leaks.items() if found} == {}
