"""Guard metrics counted in a real Prometheus (`source: prometheus`, docs/data.md): backfilled
with promtool, queried at the end of the judged window with `time=`, judged like the logs' counts;
no data or no server holds the stage, never passes it; `plan validate` never contacts the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_server import PrometheusServer, binaries, counter_lines, histogram_lines
from rollout_support import T0, cli, plan_document, simulate

from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.plan import load_plan
from rollout_cli.plan.document import plan_yaml
from rollout_cli.plan.model import Plan
from rollout_cli.stats.outcome import Outcome

HOURS = 2
# requests per second and the share that errs: baseline 19/s at 1%; candidates 1/s at 1% (v2) and 8% (v3)
ARMS = {"v1": (19.0, 0.01), "v2": (1.0, 0.01), "v3": (1.0, 0.08)}
SLOW = {"v1": 0.05, "v2": 0.05, "v3": 0.30}  # the share of each model's requests slower than 250 ms
TOKEN = "s3cret-prometheus-token"


@pytest.fixture(scope="module")
def prometheus() -> Iterator[PrometheusServer]:
    if binaries() is None:
        pytest.skip("prometheus is not installed (scripts/test installs it)")
    series = [("http_requests_total", [line for model, (rate, _) in ARMS.items()
                                       for line in counter_lines("http_requests_total", f'model="{model}"', T0,
                                                                 HOURS * 3600, rate)]),
              ("http_errors_total", [line for model, (rate, share) in ARMS.items()
                                     for line in counter_lines("http_errors_total", f'model="{model}"', T0,
                                                               HOURS * 3600, rate * share)]),
              ("request_latency_seconds", [line for model, (rate, _) in ARMS.items()
                                           for line in histogram_lines("request_latency_seconds", f'model="{model}"',
                                                                       T0, HOURS * 3600, rate, SLOW[model], "0.25")])]
    server = PrometheusServer(series, histograms={"request_latency_seconds"}).start()
    try:
        yield server
    finally:
        server.destroy()


def queries(candidate: str, baseline: str = "v1") -> dict[str, Any]:
    def q(name: str, model: str) -> str:
        return f'sum(increase({name}{{model="{model}"}}[$window]))'

    return {"url": "${env:PROM_URL}", "token": "${env:PROM_TOKEN}",
            "count": {"baseline": q("http_errors_total", baseline), "candidate": q("http_errors_total", candidate)},
            "total": {"baseline": q("http_requests_total", baseline), "candidate": q("http_requests_total", candidate)}}


def write(directory: Path, source: dict[str, Any], *, guard: dict[str, Any] | None = None) -> Path:
    doc = plan_document(directory=directory)
    doc["metrics"]["http_errors"] = {"kind": "proportion", "source": "prometheus", "prometheus": source}
    doc["stages"] = [{"name": "shadow", "shadow": "100%", "min_duration": "1h",
                      "guards": [{"metric": "agreement", "min": "90%"}]},
                     {"name": "canary", "traffic": "5%", "min_duration": "1h",
                      "guards": [guard or {"metric": "http_errors", "max": "3%"}]},
                     {"name": "full", "traffic": "100%"}]
    path = directory / "plan.yaml"
    path.write_text(plan_yaml(doc))
    return path


@pytest.fixture()
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prometheus: PrometheusServer) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROM_URL", prometheus.url)
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    return tmp_path


def judged(path: Path) -> tuple[Plan, Any]:
    plan = load_plan(path)
    if not (path.parent / "logs").exists():
        simulate(plan, path.parent, T0, 1, candidate_pct=5, shadow_pct=0, part=1, units=2000)
    until = T0 + timedelta(hours=1)
    return plan, evaluate_stage(plan, plan.stage("canary"), since=T0, until=until, now=until)


def the_check(evaluation: Any) -> Any:
    return next(c for c in evaluation.checks if c.metric == "http_errors")


def test_a_healthy_candidate_passes_on_prometheus_counts(here: Path) -> None:
    _, evaluation = judged(write(here, queries("v2")))
    check = the_check(evaluation)
    assert check.outcome is Outcome.PASS and evaluation.verdict is Outcome.PASS, evaluation.reasons
    # increase() over a linear counter sampled every 15 s is exact: 36 errors among 3600 requests
    assert check.candidate == pytest.approx(0.01, rel=1e-9) and check.baseline == pytest.approx(0.01, rel=1e-9)
    low, high = check.interval
    assert low < 0.01 < high < 0.03


def test_a_harmful_candidate_fails_and_a_relative_guard_sees_it_too(here: Path) -> None:
    _, evaluation = judged(write(here, queries("v3")))
    check = the_check(evaluation)
    assert (check.outcome, evaluation.verdict) == (Outcome.FAIL, Outcome.FAIL)
    assert check.candidate == pytest.approx(0.08, rel=1e-9) and check.interval[0] > 0.03
    _, relative = judged(write(here, queries("v3"), guard={"metric": "http_errors", "max_increase": "50%"}))
    assert the_check(relative).outcome is Outcome.FAIL and the_check(relative).effect == pytest.approx(7.0)


def test_the_share_of_slow_requests_is_read_from_a_latency_histogram(here: Path) -> None:
    def slow(model: str) -> str:  # requests above the 250 ms bucket: all of them minus those within it
        return (f'sum(increase(request_latency_seconds_count{{model="{model}"}}[$window])) - '
                f'sum(increase(request_latency_seconds_bucket{{model="{model}",le="0.25"}}[$window]))')

    def total(model: str) -> str:
        return f'sum(increase(request_latency_seconds_count{{model="{model}"}}[$window]))'

    def source(candidate: str) -> dict[str, Any]:
        return {**queries(candidate), "count": {"baseline": slow("v1"), "candidate": slow(candidate)},
                "total": {"baseline": total("v1"), "candidate": total(candidate)}}

    _, fast = judged(write(here, source("v2"), guard={"metric": "http_errors", "max": "10%"}))
    assert the_check(fast).outcome is Outcome.PASS and the_check(fast).candidate == pytest.approx(0.05, rel=1e-9)
    _, slowed = judged(write(here, source("v3"), guard={"metric": "http_errors", "max": "10%"}))
    assert the_check(slowed).outcome is Outcome.FAIL and the_check(slowed).candidate == pytest.approx(0.30, rel=1e-9)


@pytest.mark.parametrize("source, words", [
    (queries("nope"), "no data: `sum(increase(http_errors_total{model=\"nope\"}[3600s]))` returned an empty vector"),
    ({**queries("v2"), "count": {"baseline": "http_errors_total", "candidate": "http_errors_total"}},
     "returned 3 series"),
    ({**queries("v2"), "count": {"baseline": "sum(rate(", "candidate": "1"}}, "refused the query"),
    ({**queries("v2"), "url": "${env:PROM_NOWHERE}"}, "environment variable PROM_NOWHERE is not set"),
])
def test_no_data_or_a_bad_answer_holds_the_stage(here: Path, source: dict[str, Any], words: str) -> None:
    _, evaluation = judged(write(here, source))
    assert evaluation.verdict is Outcome.INCONCLUSIVE
    assert the_check(evaluation).outcome is Outcome.INCONCLUSIVE
    assert any(r.startswith("http_errors (Prometheus): ") and words in r for r in evaluation.reasons), evaluation.reasons


def test_a_server_that_does_not_answer_holds_the_stage(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROM_URL", "http://127.0.0.1:9")  # discard: nothing listens
    _, evaluation = judged(write(here, queries("v2")))
    assert evaluation.verdict is Outcome.INCONCLUSIVE
    assert any("Prometheus at http://127.0.0.1:9 did not answer: Connection refused" in r for r in evaluation.reasons), \
        evaluation.reasons


def test_evaluate_from_the_command_line_redacts_the_token(here: Path, prometheus: PrometheusServer) -> None:
    path = write(here, queries("v3"))
    simulate(load_plan(path), here, T0, 1, candidate_pct=5, shadow_pct=0, part=1, units=2000)
    env = {"ROLLOUT_NOW": (T0 + timedelta(hours=1)).isoformat(), "PROM_URL": prometheus.url, "PROM_TOKEN": TOKEN}
    done = cli(["evaluate", str(path), "--stage", "canary", "--since", T0.isoformat(), "--json"], cwd=here, env=env)
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert [c["outcome"] for c in doc["checks"] if c["metric"] == "http_errors"] == ["fail"]
    # the token never shows, even in a reason that quotes the server
    env["PROM_URL"] = f"http://user:{TOKEN}@127.0.0.1:9"
    held = cli(["evaluate", str(path), "--stage", "canary", "--since", T0.isoformat(), "--json"], cwd=here, env=env)
    assert held.returncode == 3 and TOKEN not in held.stdout + held.stderr
    assert any("did not answer" in r for r in json.loads(held.stdout)["reasons"])


def test_plan_validate_checks_the_form_and_never_contacts_prometheus(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = write(tmp_path, queries("v2"))
        env = {"PROM_URL": f"http://127.0.0.1:{server.server_address[1]}"}
        assert cli(["plan", "validate", str(path)], cwd=tmp_path, env=env).returncode == 0
        shown = cli(["plan", "show", str(path)], cwd=tmp_path, env=env)
        assert shown.returncode == 0 and "http_errors (share of requests counted in Prometheus" in shown.stdout
        assert asked == []  # the server saw no request: validation is form only
    finally:
        server.shutdown()
        server.server_close()
    bad = queries("v2")
    bad["token"] = TOKEN
    write(tmp_path, bad, guard={"metric": "http_errors", "max": "3%", "per_segment": True})
    done = cli(["plan", "validate", str(path)], cwd=tmp_path, env={})
    assert done.returncode == 2 and TOKEN not in done.stdout + done.stderr
    assert "counted in Prometheus, per arm only" in done.stdout + done.stderr
    assert "token" in done.stdout + done.stderr
    inline = queries("v2")
    inline["url"] = "http://reader:hunter2@127.0.0.1:9090"  # a password written into the URL
    write(tmp_path, inline)
    done = cli(["plan", "validate", str(path)], cwd=tmp_path, env={})
    assert done.returncode == 2 and "looks like a secret written inline" in done.stdout + done.stderr


def test_prometheus_counts_get_the_same_interval_as_the_same_counts_in_the_logs(here: Path) -> None:
    """One request per unit in the logs with an `error` column, and the same totals in Prometheus:
    the two checks carry the same estimate and interval — the statistics are the logs' own."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    requests, errors = {"baseline": 68_400, "candidate": 3_600}, {"baseline": 684, "candidate": 36}
    rows: dict[str, list[Any]] = {"ts": [], "unit_id": [], "arm": [], "served": [], "error": []}
    for arm, n in requests.items():
        for i in range(n):
            rows["ts"].append(T0 + timedelta(seconds=1 + (i * 3598) // n))
            rows["unit_id"].append(f"{arm}-{i}")
            rows["arm"].append(arm)
            rows["served"].append(True)
            rows["error"].append(i < errors[arm])
    (here / "logs").mkdir()
    pq.write_table(pa.table(rows), here / "logs" / "predictions.parquet")
    doc = plan_document(directory=here)
    del doc["data"]["outcomes"], doc["metrics"]["conversion"]
    doc["metrics"]["errors_in_logs"] = {"kind": "proportion", "column": "error"}
    doc["metrics"]["http_errors"] = {"kind": "proportion", "source": "prometheus", "prometheus": queries("v2")}
    doc["guards"] = [{"metric": "errors_in_logs", "max": "3%"}, {"metric": "http_errors", "max": "3%"}]
    doc["stages"] = [{"name": "shadow", "shadow": "100%", "min_duration": "1h",
                      "guards": [{"metric": "agreement", "min": "90%"}]},
                     {"name": "canary", "traffic": "5%", "min_duration": "1h"}, {"name": "full", "traffic": "100%"}]
    (here / "plan.yaml").write_text(plan_yaml(doc))
    _, evaluation = judged(here / "plan.yaml")
    logs = next(c for c in evaluation.checks if c.metric == "errors_in_logs")
    prom = the_check(evaluation)
    assert evaluation.verdict is Outcome.PASS, evaluation.reasons
    assert (prom.outcome, prom.candidate, prom.baseline) == (logs.outcome, pytest.approx(logs.candidate),
                                                              pytest.approx(logs.baseline))
    assert prom.interval == pytest.approx(logs.interval, rel=1e-9)
