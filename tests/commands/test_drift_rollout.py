"""Drift during and after a rollout, through the real CLI: hold, monitoring, episodes, the trigger."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from rollout_support import T0

from rollout_cli.cli.main import main
from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml, yaml_value
from rollout_cli.sim.logs import Scenario, simulate_stage, with_window


def plan_document(router: Path, on_drift: str) -> dict[str, object]:
    return {
        "version": 1, "name": "drifty", "models": {"baseline": "v1", "candidate": "v2"},
        "router": {"adapter": "file", "options": {"path": str(router)}},
        "data": {"predictions": "logs/predictions*.parquet", "outcomes": "logs/outcomes*.parquet",
                 "training": "logs/training.parquet"},
        "metrics": {"agreement": {"kind": "agreement", "tolerance": 0.05},
                    "error_rate": {"kind": "proportion", "column": "error"}},
        "guards": [{"metric": "error_rate", "max": "5%"}],
        "stages": [{"name": "shadow", "shadow": "100%", "min_duration": "1h",
                    "guards": [{"metric": "agreement", "min": "90%"}]},
                   {"name": "full", "traffic": "100%"}],
        "drift": {"features": ["price", "query_length"], "window": "1h", "on_drift": yaml_value(on_drift),
                  "monitor_for": "1d"},
        "rollback": {"authority": ["alice"], "max_duration": "5m", "steps": [{"route": "baseline"}]},
    }


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROLLOUT_STATE_DIR", str(tmp_path / ".rollout"))
    monkeypatch.delenv("ROLLOUT_ACTOR", raising=False)
    return tmp_path


def write(here: Path, on_drift: str) -> Path:
    path = here / "drifty.yaml"
    path.write_text(plan_yaml(plan_document(here / "router.json", on_drift)))
    return path


def logs(path: Path, hour: int, *, candidate: float, shadow: float, drift: float) -> None:
    start = T0 + timedelta(hours=hour)
    scenario = with_window(Scenario(units=4000, drift=drift), start, start + timedelta(hours=1), candidate, shadow)
    simulate_stage(load_plan(path), path.parent / "logs", scenario=scenario, seed=hour + 1, part=str(hour),
                   first_unit=hour * 4000)


def run(capsys, monkeypatch, hours: float, *args: str) -> tuple[int, dict]:
    monkeypatch.setenv("ROLLOUT_NOW", (T0 + timedelta(hours=hours)).isoformat())
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    assert captured.out, captured.err
    return code, json.loads(captured.out)


def test_on_drift_hold_keeps_the_stage_and_says_why(here: Path, capsys, monkeypatch) -> None:
    path = write(here, "hold")
    assert run(capsys, monkeypatch, 0, "start", str(path), "--as", "alice")[0] == 0
    logs(path, 0, candidate=0, shadow=100, drift=1.0)
    code, doc = run(capsys, monkeypatch, 1.1, "tick", str(path))
    assert (code, doc["decision"], doc["status"]) == (3, "hold", "running")
    assert doc["reason"].startswith("stage shadow may not advance on shifted traffic (on_drift: hold): drift confirmed: "
                                    "price: drifted (PSI ")
    assert doc["evaluation"]["drift"]["drifted"] == ["price", "query_length"]
    assert doc["drift"]["window"] == {"since": T0.isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()}
    code, doc = run(capsys, monkeypatch, 1.2, "evaluate", str(path))
    assert doc["drift"]["drifted"] == ["price", "query_length"]
    code, doc = run(capsys, monkeypatch, 1.2, "status", str(path))
    assert doc["drift"]["episode_open"] is True and doc["drift"]["last_event"].startswith("drift confirmed: price")


def test_monitoring_after_full_traffic_fires_the_trigger_once_per_episode(here: Path, capsys, monkeypatch) -> None:
    marker = here / "retrain.log"
    trigger = json.dumps(["python3", "-c", f"open({str(marker)!r}, 'a').write('retrain\\n')"])
    path = write(here, f"{{run: {trigger}}}")
    assert run(capsys, monkeypatch, 0, "start", str(path), "--as", "alice")[0] == 0
    logs(path, 0, candidate=0, shadow=100, drift=0.0)
    code, doc = run(capsys, monkeypatch, 1.1, "tick", str(path))
    assert (code, doc["decision"], doc["to_stage"]) == (0, "advance", "full")
    assert doc["drift"]["drifted"] == []
    logs(path, 1, candidate=100, shadow=0, drift=1.0)
    code, doc = run(capsys, monkeypatch, 2.1, "tick", str(path))
    assert (doc["decision"], doc["status"]) == ("monitor", "monitoring")
    assert doc["reason"] == "final stage full passes: monitoring drift for 1d before the rollout is complete"
    assert marker.read_text() == "retrain\n"  # the drift of hour 1 started an episode: the trigger ran
    code, doc = run(capsys, monkeypatch, 2.5, "tick", str(path))  # the same window again: same episode
    assert (code, doc["decision"], doc["status"]) == (1, "none", "monitoring")
    assert doc["reason"].startswith("monitoring (23h36m left): drift confirmed: price: drifted")
    assert marker.read_text() == "retrain\n"
    logs(path, 2, candidate=100, shadow=0, drift=0.0)
    code, doc = run(capsys, monkeypatch, 3.1, "tick", str(path))
    assert (code, doc["status"]) == (0, "monitoring")
    code, doc = run(capsys, monkeypatch, 3.2, "status", str(path))
    assert doc["status"] == "monitoring" and doc["drift"]["episode_open"] is False
    assert doc["next"].startswith("monitoring drift at 100%")
    code, doc = run(capsys, monkeypatch, 26.5, "tick", str(path))
    assert (code, doc["decision"], doc["status"]) == (0, "complete", "completed")
    assert doc["reason"] == "monitored drift for 1d: the rollout is complete"
    events = run(capsys, monkeypatch, 27, "history", str(path))[1]["events"]
    assert [e["action"] for e in events] == ["start", "advance", "drift", "monitor", "drift_cleared", "complete"]
    drift_event = events[2]
    assert drift_event["evidence"]["run"]["outcome"] == "pass"
    assert "(on_drift: run; ran run python3 -c" in drift_event["reason"]


def test_a_confirmed_drift_is_notified_once_per_episode(here: Path, capsys, monkeypatch) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("HOOK", f"http://127.0.0.1:{server.server_address[1]}/drift")
        path = write(here, "hold")
        path.write_text(path.read_text() + 'notify:\n  - {url: "${env:HOOK}", events: [drift_confirmed]}\n')
        assert run(capsys, monkeypatch, 0, "start", str(path), "--as", "alice")[0] == 0
        logs(path, 0, candidate=0, shadow=100, drift=1.0)
        assert run(capsys, monkeypatch, 1.1, "tick", str(path))[0] == 3
        assert run(capsys, monkeypatch, 1.2, "tick", str(path))[0] == 3  # the same episode: no second notice
    finally:
        server.shutdown()
        server.server_close()
    assert [doc["kind"] for doc in received] == ["drift_confirmed"]
    assert "price: drifted" in received[0]["summary"] and received[0]["command"].startswith("rollout drift ")
