"""Headless Chromium driven over the DevTools protocol on a pipe (no port, no extra package):
load a page, collect every console message, exception and network request, take a screenshot."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--remote-debugging-pipe"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageVisit:
    console: list[str] = field(default_factory=list)  # errors and warnings, exceptions, log entries
    requests: list[str] = field(default_factory=list)  # every URL other than the page itself
    screenshot: bytes = b""
    overflow_px: int = 0  # how far the page is wider than the viewport
    sections: dict[str, tuple[float, int]] = field(default_factory=dict)  # id -> (rendered height, charts)


class Chromium:
    def __init__(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="rollout-chromium-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()

        def wire() -> None:  # the browser reads commands on fd 3 and writes answers on fd 4
            # copies first: a pipe end may already be fd 3 or 4, and dup2 onto itself keeps close-on-exec
            reading, writing = os.dup(to_child), os.dup(from_child)
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        self.process = subprocess.Popen([chromium_path() or "chromium", *FLAGS, f"--user-data-dir={self.profile}",
                                         "about:blank"], preexec_fn=wire, close_fds=False,  # noqa: PLW1509
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError("chromium did not answer")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise OSError("chromium closed the pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, session: str | None = None, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._message(deadline))

    def visit(self, page: Path, *, width: int, height: int, mobile: bool) -> PageVisit:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Network", "Runtime", "Log", "Page"):
            self.send(f"{domain}.enable", session)
        self.send("Emulation.setDeviceMetricsOverride", session, width=width, height=height, deviceScaleFactor=1,
                  mobile=mobile)
        self.events.clear()
        url = page.resolve().as_uri()
        self.send("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired")
        overflow = self.send("Runtime.evaluate", session, returnByValue=True,
                             expression="document.documentElement.scrollWidth - window.innerWidth")
        laid_out = self.send("Runtime.evaluate", session, returnByValue=True, expression=(
            "JSON.stringify([...document.querySelectorAll('section[id]')].map(s => [s.id, "
            "s.getBoundingClientRect().height, [...s.querySelectorAll('svg')].filter("
            "g => g.getBoundingClientRect().height > 0).length]))"))
        shot = self.send("Page.captureScreenshot", session, format="png")
        visit = PageVisit(screenshot=base64.b64decode(shot["data"]),
                          overflow_px=int(overflow["result"].get("value", 0)),
                          sections={k: (h, n) for k, h, n in json.loads(laid_out["result"].get("value", "[]"))})
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent" and params["request"]["url"] != url:
                visit.requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                visit.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                visit.console.append(str(params["exceptionDetails"].get("text")))
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                visit.console.append(params["entry"]["text"])
        self.send("Target.closeTarget", targetId=target)
        return visit
