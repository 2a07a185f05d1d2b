"""A real Prometheus on loopback with deterministic data, started by the tests themselves.

The samples are written as OpenMetrics and backfilled with `promtool tsdb create-blocks-from
openmetrics` into a temporary data folder; `prometheus` then serves that folder on 127.0.0.1 and
a free port (retention far beyond the samples' dates, so old blocks are kept). scripts/test
installs Debian's `prometheus` when missing; without it the tests that need it are skipped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import requests


def binaries() -> tuple[str, str] | None:
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    return (prometheus, promtool) if prometheus and promtool else None


def counter_lines(name: str, labels: str, start: datetime, seconds: int, per_second: float,
                  step_s: int = 15) -> list[str]:
    """A counter rising `per_second` from 0 at `start`, one sample every `step_s` seconds."""
    t0 = int(start.timestamp())
    return [f"{name}{{{labels}}} {per_second * s:g} {t0 + s}" for s in range(0, seconds + 1, step_s)]


def histogram_lines(name: str, labels: str, start: datetime, seconds: int, per_second: float, above: float,
                    le: str, step_s: int = 15) -> list[str]:
    """A latency histogram with one finite bucket `le`: `per_second` requests, a share `above` of them slower."""
    t0 = int(start.timestamp())
    lines = []
    for s in range(0, seconds + 1, step_s):
        n = per_second * s
        lines += [f'{name}_bucket{{{labels},le="{le}"}} {n * (1 - above):g} {t0 + s}',
                  f'{name}_bucket{{{labels},le="+Inf"}} {n:g} {t0 + s}',
                  f"{name}_count{{{labels}}} {n:g} {t0 + s}", f"{name}_sum{{{labels}}} {n * 0.1:g} {t0 + s}"]
    return lines


class PrometheusServer:
    def __init__(self, series: Iterable[tuple[str, list[str]]], histograms: Iterable[str] = ()) -> None:
        """`series`: (metric family, OpenMetrics sample lines); families named in `histograms` are histograms,
        the others counters."""
        found = binaries()
        if found is None:
            raise FileNotFoundError("prometheus/promtool are not installed (scripts/test installs them)")
        self.prometheus, self.promtool = found
        self.root = Path(tempfile.mkdtemp(prefix="rollout-prom-"))
        self.process: subprocess.Popen[bytes] | None = None
        text = []
        for name, lines in series:  # one # TYPE line per metric family, then its samples
            text.append(f"# TYPE {name} {'histogram' if name in histograms else 'counter'}")
            text.extend(lines)
        (self.root / "data.om").write_text("\n".join(text) + "\n# EOF\n")
        subprocess.run([self.promtool, "tsdb", "create-blocks-from", "openmetrics", str(self.root / "data.om"),
                        str(self.root / "tsdb")], check=True, capture_output=True, timeout=60)
        (self.root / "prometheus.yml").write_text("global: {}\nscrape_configs: []\n")

    def start(self) -> PrometheusServer:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.process = subprocess.Popen(
            [self.prometheus, f"--config.file={self.root / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.root / 'tsdb'}", "--storage.tsdb.retention.time=100y",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=open(self.root / "log", "wb"))  # noqa: SIM115 - closed with the process
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"prometheus did not start: {(self.root / 'log').read_text()[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
