"""The router down or timing out during a rollback: exit 4, state says incomplete, never rolled back."""

from __future__ import annotations

import http.server
import json
import threading
import time
from pathlib import Path

import pytest
from rollout_support import T0, cli, write_plan

from rollout_cli.plan import load_plan
from rollout_cli.state.store import StateStore
from rollout_cli.transitions import moves
from rollout_cli.transitions.context import Rollout


class SplitServer(http.server.ThreadingHTTPServer):
    """A minimal REST router: GET/PUT a JSON split; `delay_s` makes every answer late."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.split = {"candidate_traffic": 0.0, "shadow": 0.0}
        self.delay_s = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/split"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: SplitServer

    def _answer(self, code: int, body: dict | None = None) -> None:
        time.sleep(self.server.delay_s)
        data = json.dumps(body or {}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(200, self.server.split)

    def do_PUT(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.split = {"candidate_traffic": body["candidate_traffic"], "shadow": body["shadow"]}
        self._answer(200, self.server.split)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def split_server():
    server = SplitServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _running_on_http(directory: Path, server: SplitServer) -> Path:
    options = json.dumps({"url": server.url, "timeout": "0.2s", "retries": 0})
    path = write_plan(directory, adapter="http", router_options=options)
    rollout = Rollout.open(load_plan(path), StateStore.open(directory / ".rollout"))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    moves.advance(rollout, "shadow", rollout.plan.stage("canary"), actor="alice", reason="setup", now=T0,
                  evidence=None)
    assert server.split == {"candidate_traffic": 5.0, "shadow": 0.0}
    return path


def _assert_incomplete(directory: Path, plan: Path, result) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 4, result.stderr
    assert "ROLLBACK INCOMPLETE" in result.stdout
    status = json.loads(cli(["status", str(plan), "--json"], cwd=directory).stdout)
    assert (status["status"], status["rollback_incomplete"], status["stage"]) == ("running", True, "canary")
    events = StateStore.open(directory / ".rollout").events("ranker", "rollback")
    assert events[-1].evidence is not None and events[-1].evidence["result"] == "incomplete"
    assert "rollback INCOMPLETE" in events[-1].reason


def test_router_down_during_rollback(tmp_path: Path, split_server: SplitServer) -> None:
    plan = _running_on_http(tmp_path, split_server)
    split_server.shutdown()
    split_server.server_close()  # the port now refuses connections
    result = cli(["rollback", str(plan), "--reason", "harm", "--as", "bob"], cwd=tmp_path)
    _assert_incomplete(tmp_path, plan, result)
    assert "curl" in result.stdout  # the http router's manual commands


def test_router_timing_out_during_rollback(tmp_path: Path, split_server: SplitServer) -> None:
    plan = _running_on_http(tmp_path, split_server)
    split_server.delay_s = 1.0  # every answer arrives after the 0.2 s timeout
    result = cli(["rollback", str(plan), "--reason", "harm", "--as", "bob", "--json"], cwd=tmp_path)
    assert result.returncode == 4
    doc = json.loads(result.stdout)
    assert (doc["outcome"], doc["router_verified"], doc["rollback_incomplete"]) == ("incomplete", False, True)
    assert [s["outcome"] for s in doc["steps"]] == ["fail", "fail"]
    split_server.delay_s = 0.0  # the router recovers: the next rollback finishes the job
    again = cli(["rollback", str(plan), "--reason", "retry", "--as", "bob", "--json"], cwd=tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["outcome"] == "rolled_back"
    assert split_server.split == {"candidate_traffic": 0.0, "shadow": 0.0}


def test_file_router_folder_removed_during_rollback(tmp_path: Path) -> None:
    directory = tmp_path / "rollout"
    directory.mkdir()
    plan = write_plan(directory)
    rollout = Rollout.open(load_plan(plan), StateStore.open(directory / ".rollout"))
    moves.start(rollout, actor="alice", reason="setup", now=T0)
    moves.advance(rollout, "shadow", rollout.plan.stage("canary"), actor="alice", reason="setup", now=T0,
                  evidence=None)
    (directory / "router.json").unlink()
    (directory / "router.json").mkdir()  # where the router file was, something unwritable now stands
    result = cli(["rollback", str(plan), "--reason", "harm", "--as", "bob"], cwd=directory)
    _assert_incomplete(directory, plan, result)
