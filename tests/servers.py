"""Real routers on loopback for tests and benchmarks: two small model backends behind nginx or
HAProxy, each started on free ports in a temporary folder and torn down afterwards.

Plain classes (no pytest) so benchmarks can use them; tests/fixtures_servers.py wraps them as
fixtures. Every request is a fresh connection (no keep-alive), so a reload takes effect for the
next request and no request waits on another.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rollout_cli.routers.base import BASELINE_ONLY
from rollout_cli.routers.haproxy import HAProxyRouter
from rollout_cli.routers.nginx import NginxRouter
from rollout_cli.routers.nginx_config import render_include, server_snippet


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Any, timeout_s: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.005)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class Hit:
    """One request a model backend answered."""

    request_id: str
    shadow: bool
    path: str
    unit: str = ""  # the client's X-User-ID header, when it sends one
    at: float = 0.0  # time.time() when answered


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default backlog of 5 drops connections under a burst

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A proxy closing an idle upstream connection (reload, shutdown) is not a test failure.
        pass


class ModelBackend:
    """A tiny model server that answers its name and remembers every request it saw."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else ~40 ms per proxied request (delayed ACK)

            def do_GET(self) -> None:
                hit = Hit(self.headers.get("X-Request-ID", ""), self.headers.get("X-Rollout-Shadow") == "1", self.path,
                          self.headers.get("X-User-ID", ""), time.time())
                with backend._lock:
                    backend._hits.append(hit)
                body = backend.name.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Model", backend.name)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Answer:
    status: int
    model: str
    request_id: str


def get(port: int, path: str = "/predict", timeout_s: float = 5.0) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        return Answer(response.status, response.getheader("X-Model") or "", response.getheader("X-Request-ID") or "")
    finally:
        conn.close()


def send_requests(port: int, count: int, threads: int = 8) -> list[Answer]:
    """`count` requests on fresh connections from a small thread pool."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda _: get(port), range(count)))


def _terminate(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class NginxStack:
    """nginx on a free port with the router's include, in front of a baseline and a candidate."""

    def __init__(self, root: Path, nginx_bin: str = "nginx") -> None:
        self.root = root
        self.nginx_bin = shutil.which(nginx_bin) or nginx_bin
        self.baseline, self.candidate = ModelBackend("baseline"), ModelBackend("candidate")
        self.port = free_port()
        self.include = root / "rollout" / "split.conf"
        self.conf = root / "nginx.conf"
        self.error_log = root / "error.log"
        self.include.parent.mkdir(parents=True, exist_ok=True)
        (root / "tmp").mkdir(exist_ok=True)
        self.include.write_text(render_include("rollout", BASELINE_ONLY, self.baseline.address,
                                               self.candidate.address, "${request_id}"))
        snippet = "\n".join("        " + line for line in server_snippet().splitlines())
        temp_paths = "\n".join(f"    {kind}_temp_path {root}/tmp/{kind};" for kind in
                               ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        self.conf.write_text(f"""daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {self.error_log} warn;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 512; }}
http {{
    access_log off;
{temp_paths}
    include {self.include};
    server {{
        listen 127.0.0.1:{self.port};
{snippet}
    }}
}}
""")
        self.process = subprocess.Popen(
            [self.nginx_bin, "-p", str(root), "-c", str(self.conf), "-e", str(self.error_log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            wait_until(lambda: port_open(self.port) or self.process.poll() is not None, what="nginx to listen")
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode() if self.process.stderr else ''}")
        except BaseException:
            self.stop()
            raise

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/_rollout/split"

    def options(self, **overrides: Any) -> dict[str, Any]:
        """The plan's router options for this nginx."""
        options: dict[str, Any] = {
            "config_path": str(self.include), "nginx_conf": str(self.conf), "prefix": str(self.root),
            "error_log": str(self.error_log), "nginx_bin": self.nginx_bin,
            "baseline": self.baseline.address, "candidate": self.candidate.address, "status_url": self.status_url,
        }
        options.update(overrides)
        return options

    def router(self, **overrides: Any) -> NginxRouter:
        return NginxRouter.from_options(self.options(**overrides))

    def stop(self) -> None:
        _terminate(self.process)
        for backend in (self.baseline, self.candidate):
            backend.stop()


class HAProxyStack:
    """HAProxy (master-worker) on a free port with an admin socket and a server-state file."""

    BACKEND = "models"

    def __init__(self, root: Path, haproxy_bin: str = "haproxy") -> None:
        self.root = root
        self.haproxy_bin = shutil.which(haproxy_bin) or haproxy_bin
        self.baseline, self.candidate = ModelBackend("baseline"), ModelBackend("candidate")
        self.port = free_port()
        self.admin_socket = root / "admin.sock"
        self.master_socket = root / "master.sock"
        self.state_file = root / "server-state"
        self.cfg = root / "haproxy.cfg"
        self.cfg.write_text(f"""global
    stats socket {self.admin_socket} mode 600 level admin
    server-state-file {self.state_file}

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    option http-server-close
    load-server-state-from-file global

frontend web
    bind 127.0.0.1:{self.port}
    unique-id-format %[uuid()]
    unique-id-header X-Request-ID
    http-response set-header X-Request-ID %[unique-id]
    default_backend {self.BACKEND}

backend {self.BACKEND}
    balance roundrobin
    server baseline {self.baseline.address} weight 1
    server candidate {self.candidate.address} weight 0
""")
        self.process = subprocess.Popen(
            [self.haproxy_bin, "-W", "-db", "-f", str(self.cfg), "-S", str(self.master_socket)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: (port_open(self.port) and self.admin_socket.exists()) or self.process.poll() is not None,
                       what="haproxy to listen")
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited with {self.process.returncode}")
            wait_until(self._worker_pids, what="the haproxy master socket")
        except BaseException:
            self.stop()
            raise

    def options(self, **overrides: Any) -> dict[str, Any]:
        options: dict[str, Any] = {
            "socket": str(self.admin_socket), "backend": self.BACKEND, "baseline_server": "baseline",
            "candidate_server": "candidate", "state_file": str(self.state_file),
        }
        options.update(overrides)
        return options

    def router(self, **overrides: Any) -> HAProxyRouter:
        return HAProxyRouter.from_options(self.options(**overrides))

    def master(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(5)
            conn.connect(str(self.master_socket))
            conn.sendall(command.encode() + b"\n")
            conn.shutdown(socket.SHUT_WR)  # the master CLI answers once the request is complete
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def reload(self) -> None:
        """Reload the configuration (new worker) and wait until the new worker answers."""
        before = self._worker_pids()
        self.process.send_signal(signal.SIGUSR2)
        wait_until(lambda: bool(set(self._worker_pids()) - set(before)), what="the reloaded haproxy worker")
        wait_until(lambda: port_open(self.port), what="haproxy to listen after reload")

    def _worker_pids(self) -> list[str]:
        try:
            lines = self.master("show proc").splitlines()
        except OSError:
            return []
        return [line.split()[0] for line in lines if " worker " in f" {line} " and line[:1].isdigit()]

    def stop(self) -> None:
        _terminate(self.process)
        for backend in (self.baseline, self.candidate):
            backend.stop()


class SplitService:
    """A small REST router for the `http` adapter: GET/PUT a JSON split at /split, with knobs to
    fail (answer 500 for the next N calls), hang (answer after a delay), lie (accept a PUT and
    keep the old split) and require a bearer token."""

    def __init__(self, token: str | None = None) -> None:
        self.split: dict[str, Any] = {"candidate_traffic": 0.0, "shadow": 0.0, "owner": "router-team"}
        self.token = token
        self.fail_next = 0
        self.fail_status = 500
        self.delay_s = 0.0
        self.lie = False
        self.calls: list[tuple[str, str]] = []  # (method, Authorization header)
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _answer(self, status: int, document: Any) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length) if length else b""
                with service._lock:
                    service.calls.append((method, self.headers.get("Authorization", "")))
                    delay, failing = service.delay_s, service.fail_next > 0
                    if failing:
                        service.fail_next -= 1
                if delay:
                    time.sleep(delay)
                if failing:
                    return self._answer(service.fail_status, {"error": "router unavailable"})
                if service.token and self.headers.get("Authorization") != f"Bearer {service.token}":
                    return self._answer(401, {"error": "bad token"})
                if self.path.split("?")[0] != "/split":  # a query may carry a key
                    return self._answer(404, {"error": "no such path"})
                if method == "PUT":
                    document = json.loads(payload)
                    with service._lock:
                        if not service.lie:
                            service.split.update(document)
                    return self._answer(200, {"ok": True})
                with service._lock:
                    return self._answer(200, dict(service.split))

            def do_GET(self) -> None:
                self._handle("GET")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/split"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
