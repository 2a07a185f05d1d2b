"""Problem: under steady traffic through a real nginx, a forced advance followed by a tick rolled a
healthy candidate back for a sample-ratio mismatch — the new stage was judged on requests served
under the old split, because its clock started when the command began, before the router changed.

Now the stage clock starts when the new split is verified at the router, and the stage is judged
on requests from a settling time later (decision.settling_time): no SRM and no guard fails
without a harm. The backends write the prediction log as a serving system would.
"""

from __future__ import annotations

import csv
import http.client
import json
import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from servers import NginxStack

from rollout_cli.cli.main import main
from rollout_cli.plan.document import plan_yaml


def plan_document(options: dict[str, object], logs: Path) -> dict[str, object]:
    guards = [{"metric": "error_rate", "max": "5%"}]
    return {
        "version": 1, "name": "churn", "models": {"baseline": "v1", "candidate": "v2"},
        "router": {"adapter": "nginx", "options": options},
        "data": {"predictions": f"{logs}/*.csv"},
        "metrics": {"error_rate": {"kind": "proportion", "column": "error"}},
        "guards": guards,
        "stages": [{"name": "shadow", "shadow": "100%", "guards": guards}, {"name": "ramp-5", "traffic": "5%"},
                   {"name": "ramp-25", "traffic": "25%"}, {"name": "full", "traffic": "100%"}],
        "decision": {"settling_time": "1s", "min_units_per_check": 50, "auto_advance": False},
        "rollback": {"authority": ["alice"], "approvers": ["alice"], "max_duration": "5m",
                     "steps": [{"route": "baseline"}, {"verify": "router"}]},
    }


class Traffic:
    """Steady requests through nginx from a pool of users, each keeping its X-User-ID."""

    def __init__(self, port: int, users: int = 4000, threads: int = 6) -> None:
        self.port, self.users, self.stop = port, users, threading.Event()
        self.sent = 0
        self._threads = [threading.Thread(target=self._loop, args=(seed,), daemon=True) for seed in range(threads)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _loop(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/predict", headers={"X-User-ID": f"u{rng.randrange(self.users)}",
                                                         "Connection": "close"})
                conn.getresponse().read()
                self.sent += 1
            except OSError:
                pass
            finally:
                conn.close()


def write_log(stack: NginxStack, logs: Path) -> int:
    """The prediction log both backends served so far (one CSV, rewritten whole); its row count."""
    rows = [(hit, arm) for arm, backend in (("baseline", stack.baseline), ("candidate", stack.candidate))
            for hit in backend.hits()]
    tmp = logs / "predictions.csv.tmp"
    with tmp.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["request_id", "ts", "unit_id", "arm", "served", "prediction", "latency_ms", "error"])
        for hit, arm in rows:
            at = datetime.fromtimestamp(hit.at, UTC).replace(tzinfo=None).isoformat(sep=" ")
            out.writerow([hit.request_id, at, hit.unit, arm, str(not hit.shadow).lower(), 0.5, 1.0, "false"])
    tmp.rename(logs / "predictions.csv")
    return len(rows)


@pytest.mark.servers
@pytest.mark.slow
def test_an_advance_under_steady_traffic_is_judged_only_on_the_new_split(
        nginx_stack: NginxStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    plan = tmp_path / "churn.yaml"
    plan.write_text(plan_yaml(plan_document(nginx_stack.options(split_key="${http_x_user_id}"), logs)))
    monkeypatch.setenv("ROLLOUT_STATE_DIR", str(tmp_path / ".rollout"))
    monkeypatch.delenv("ROLLOUT_NOW", raising=False)

    def rollout(*args: str) -> tuple[int, str]:
        code = main([*args])
        return code, capsys.readouterr().out

    assert rollout("start", str(plan), "--as", "alice")[0] == 0
    with Traffic(nginx_stack.port) as traffic:
        time.sleep(1.0)
        write_log(nginx_stack, logs)
        assert rollout("advance", str(plan), "--force", "--reason", "to 5%", "--as", "alice")[0] == 0
        time.sleep(2.0)
        write_log(nginx_stack, logs)
        code, out = rollout("advance", str(plan), "--force", "--reason", "to 25%", "--as", "alice", "--json")
        assert (code, json.loads(out)["to_stage"]) == (0, "ramp-25")
        time.sleep(2.5)  # settling_time 1s, then ~1.5 s of requests under 25%
        rows = write_log(nginx_stack, logs)
        code, out = rollout("tick", str(plan), "--json")
    tick = json.loads(out)
    evaluation = tick["evaluation"]
    assert traffic.sent > 300 and rows > 300, f"too little traffic to judge ({traffic.sent} requests)"
    assert evaluation["stage"] == "ramp-25" and tick["action"] != "rollback", tick["reason"]
    assert evaluation["verdict"] != "fail", evaluation
    assert evaluation["srm"]["outcome"] == "pass" and evaluation["srm"]["p_value"] > 0.001, evaluation["srm"]
    assert not [c for c in evaluation["checks"] if c["outcome"] == "fail"]
    # the window starts a settling time after the stage clock, which starts at the verified split
    status = json.loads((main(["status", str(plan), "--json"]), capsys.readouterr().out)[1])
    started = datetime.fromisoformat(status["stage_started_at"])
    assert (datetime.fromisoformat(evaluation["window"]["since"]) - started).total_seconds() == pytest.approx(1.0)
    units = evaluation["units"]
    assert units["candidate"] / (units["baseline"] + units["candidate"]) == pytest.approx(0.25, abs=0.08)
