"""`rollout shadow` on Spark: the simulator's shadow scenarios give the same comparison on both
engines (findings, verdicts, check outcomes, the same disagreeing examples and every figure: counts
exactly, order statistics to the last bit of their interpolation, sums, intervals and p-values to
1e-9 — the random groups of units are the same on both, data/stable_hash.py; spark_helpers.differences),
the shadow stage's paired guards are judged alike
inside `evaluate`, and the logs that would be compared on the wrong pairs are refused with the
same words."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from shadow.shadow_helpers import write_shadow_plan
from spark_helpers import differences, on_spark

from rollout_cli.errors import DataError
from rollout_cli.evaluation.stage import evaluate_stage
from rollout_cli.shadow import ShadowResult, compare_shadow
from rollout_cli.sim.shadow_logs import SHADOW_SCENARIOS, shadow_scenario, simulate_shadow
from rollout_cli.stats.outcome import Outcome

UNITS = 600
NOW = datetime(2026, 1, 5, 6)
OPTIONS: dict[str, dict[str, Any]] = {  # a window and a single segment, as the DuckDB golden cases read them
    "shadow-load": {"since": datetime(2026, 1, 5, 0, 40), "until": datetime(2026, 1, 5, 5, 10)},
    "shadow-missing": {"segment": "platform", "timeout_ms": 80.0},
}
SHOWN = 4  # disagreeing examples asked for


def _order_statistics(result: ShadowResult) -> list[tuple[str, float | None]]:
    out: list[tuple[str, float | None]] = []
    if result.scores is not None:
        for name in ("abs_difference_quantiles", "baseline_quantiles", "candidate_quantiles"):
            out += [(f"{name}.{k}", v) for k, v in getattr(result.scores, name).items()]
    if result.latency is not None:
        for arm in (result.latency.baseline, result.latency.candidate):
            out += [(f"{arm.arm}.p50", arm.p50), (f"{arm.arm}.p99", arm.p99)]
        for b in result.latency.buckets:
            out += [(f"bucket{b.bucket}.{k}", getattr(b, k)) for k in
                    ("baseline_p50", "baseline_p99", "candidate_p50", "candidate_p99")]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SHADOW_SCENARIOS))
def test_each_shadow_scenario_gives_the_same_comparison_on_both_engines(name: str, tmp_path: Path,
                                                                          spark: Any) -> None:
    plan = write_shadow_plan(tmp_path)
    simulate_shadow(plan, tmp_path, scenario=shadow_scenario(plan, name, units=UNITS), seed=7)
    options = OPTIONS.get(name, {})
    duck = compare_shadow(plan, examples=SHOWN, now=NOW, **options)
    on = compare_shadow(on_spark(plan), examples=SHOWN, now=NOW, **options)
    assert on.findings == duck.findings and on.verdict is duck.verdict
    if name not in ("shadow-healthy", "shadow-labels"):
        assert duck.findings, "each knob is a known truth the comparison finds"
    # Order statistics: the same ranks; between two, each engine's interpolation (docs/spark.md)
    for (where, a), (_, b) in zip(_order_statistics(duck), _order_statistics(on), strict=True):
        assert a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-15)), f"{where}: {a} {b}"
    # Examples: both engines pick them by DuckDB's hash of the request id (data/stable_hash.py): the same ones
    assert on.examples == duck.examples
    agreeing = name in ("shadow-healthy", "shadow-load", "shadow-missing")  # the candidate's answers agree
    assert len(duck.examples) == (0 if agreeing else SHOWN), "disagreeing requests to pick from"
    assert [c.outcome for c in on.checks] == [c.outcome for c in duck.checks]
    assert differences(_doc(duck), _doc(on), name) == []


@pytest.mark.slow
def test_the_paired_guards_are_judged_on_spark_inside_evaluate(tmp_path: Path, spark: Any) -> None:
    """A pass needs every guard judged, the paired ones (coverage, score shift) on Spark too."""
    plan = write_shadow_plan(tmp_path)
    logs = simulate_shadow(plan, tmp_path, scenario=shadow_scenario(plan, "shadow-healthy", units=UNITS), seed=7)
    stage = plan.stages[0]
    duck = evaluate_stage(plan, stage, until=logs.end, now=logs.end)
    on = evaluate_stage(on_spark(plan), stage, until=logs.end, now=logs.end)
    paired = {c.metric: c.outcome for c in on.checks if c.metric in ("coverage", "shift")}
    assert paired and Outcome.INCONCLUSIVE not in paired.values(), [c.reason for c in on.checks]
    assert on.verdict is duck.verdict is Outcome.PASS, [c.reason for c in on.checks if c.outcome is not Outcome.PASS]
    assert [c.outcome for c in on.checks] == [c.outcome for c in duck.checks]
    assert differences(_doc(duck), _doc(on), "evaluation") == []


def _doc(result: Any) -> Any:
    """The result as its --json document."""
    return json.loads(json.dumps(result.to_json()))


ROWS = [  # request, unit, arm, served, prediction
    ("r1", "u1", "baseline", True, "0.2"), ("r1", "u1", "candidate", False, "0.21"),
    ("r2", "u2", "baseline", True, "0.7"), ("r2", "u2", "candidate", False, "0.69"),
]
BAD_LOGS = {
    "the candidate never answered": ([r for r in ROWS if r[2] == "baseline"], True),
    "holds scores (numbers) for the baseline and labels": ([(*r[:4], "cat" if r[2] == "candidate" else r[4])
                                                           for r in ROWS], False),
    "0 baseline and 1 candidate requests have more than one answer": ([*ROWS, ("r2", "u2", "candidate", False, "0.1")],
                                                                      True),
    "1 baseline and 0 candidate requests have more than one answer": (
        [*ROWS, ("r3", "u3", "baseline", True, "0.5"), ("r3", "u3", "baseline", True, "0.5")], True),
    "has 1 candidate answers with 'served' true in the window": ([*ROWS, ("r3", "u3", "candidate", True, "0.5")], True),
}


def _write_log(path: Path, rows: list[tuple[str, str, str, bool, str]], numeric: bool) -> None:
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE p (request_id VARCHAR, user_id VARCHAR, arm VARCHAR, served BOOLEAN, prediction "
                    f"{'DOUBLE' if numeric else 'VARCHAR'}, ts TIMESTAMP, latency_ms DOUBLE, error BOOLEAN, "
                    "country VARCHAR, platform VARCHAR)")
        for i, row in enumerate(rows):
            con.execute("INSERT INTO p VALUES (?, ?, ?, ?, ?, TIMESTAMP '2026-01-05 00:00:00' + to_seconds(?), 50, "
                        "false, 'US', 'ios')", [*row, i])
        con.execute("COPY p TO ? (FORMAT parquet)", [str(path)])


@pytest.mark.parametrize("said", list(BAD_LOGS))
def test_logs_compared_on_the_wrong_pairs_are_refused_with_the_same_words(said: str, tmp_path: Path,
                                                                           spark: Any) -> None:
    rows, numeric = BAD_LOGS[said]
    plan = write_shadow_plan(tmp_path, predictions=str(tmp_path / "predictions.parquet"))
    _write_log(tmp_path / "predictions.parquet", rows, numeric)
    messages = []
    for engine_plan in (plan, on_spark(plan)):
        with pytest.raises(DataError) as caught:
            compare_shadow(engine_plan, now=NOW, examples=0)
        messages.append(caught.value.message)
    assert said in messages[0] and messages[1] == messages[0]


def test_a_statement_spark_refuses_is_one_line_from_the_command(tmp_path: Path, spark: Any, capsys: Any) -> None:
    """A score column with one word among 299 numbers: both engines refuse to cast it; on Spark the
    command says so in one line (exit 2) — no JVM stack trace, no log record of pyspark's own."""
    import yaml
    from rollout_support import cli_in_process
    from spark_helpers import TEST_CONF

    rows = [(f"r{i}", f"u{i}", arm, arm == "baseline", "0.5" if i or arm == "baseline" else "n/a")
            for i in range(150) for arm in ("baseline", "candidate")]
    write_shadow_plan(tmp_path, predictions=str(tmp_path / "predictions.parquet"))
    _write_log(tmp_path / "predictions.parquet", rows, numeric=False)
    document = yaml.safe_load((tmp_path / "plan.yaml").read_text())
    document["data"] = {**document["data"], "engine": "spark", "spark": {"master": "local[2]", "conf": TEST_CONF}}
    (tmp_path / "plan-spark.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    done = cli_in_process(["shadow", str(tmp_path / "plan-spark.yaml"), "--examples", "0"], capsys)
    assert done.returncode == 2, done.stderr
    assert "error: reading the logs on Spark failed: [CAST_INVALID_INPUT] The value 'n/a'" in done.stderr
    assert not any(word in done.stderr for word in ("Traceback", "at org.apache", "SQLQueryContextLogger"))
