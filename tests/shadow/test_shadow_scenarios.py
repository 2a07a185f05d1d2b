"""Known truths, simulated, are found and located by `compare_shadow`; a healthy shadow shows none."""

from __future__ import annotations

from pathlib import Path

import pytest
from shadow_helpers import write_shadow_plan

from rollout_cli.shadow import ShadowResult, compare_shadow
from rollout_cli.sim.shadow_logs import shadow_scenario, simulate_shadow
from rollout_cli.stats.outcome import Outcome


def _run(folder: Path, name: str, seed: int = 3, **overrides: object) -> ShadowResult:
    plan = write_shadow_plan(folder)
    simulate_shadow(plan, folder, scenario=shadow_scenario(plan, name, **overrides), seed=seed)
    return compare_shadow(plan, examples=5)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ShadowResult]:
    names = ("shadow-healthy", "shadow-segment", "shadow-shift", "shadow-load", "shadow-missing", "shadow-unusual",
             "shadow-labels")
    return {name: _run(tmp_path_factory.mktemp(name), name) for name in names}


def kinds(result: ShadowResult) -> list[str]:
    return [f.kind for f in result.findings]


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_a_healthy_shadow_shows_no_finding_and_passes(tmp_path: Path, seed: int) -> None:
    result = _run(tmp_path, "shadow-healthy", seed=seed)
    assert result.findings == ()
    assert result.verdict is Outcome.PASS
    assert not any(r.worse or r.coverage_worse for r in result.segment_rows)
    assert result.examples == ()  # scores within 0.01: nothing disagrees


def test_disagreement_confined_to_one_segment_is_found_there_only(results: dict[str, ShadowResult]) -> None:
    result = results["shadow-segment"]
    assert kinds(result) == ["segment_disagreement"]
    assert result.findings[0].where == {"country": "DE"}
    assert result.segment_rows[0].segment == "country" and result.segment_rows[0].value == "DE"  # ranked first
    assert [(r.segment, r.value) for r in result.segment_rows if r.worse] == [("country", "DE")]
    failed = [(c.metric, c.segment) for c in result.checks if c.outcome is Outcome.FAIL]
    assert failed == [("agreement", {"country": "DE"})]
    assert result.verdict is Outcome.FAIL
    assert len(result.examples) == 5 and all(e["segments"]["country"] == "DE" for e in result.examples)


def test_examples_are_deterministic(tmp_path: Path, results: dict[str, ShadowResult]) -> None:
    again = _run(tmp_path, "shadow-segment")
    assert [e["request_id"] for e in again.examples] == [e["request_id"] for e in results["shadow-segment"].examples]


def test_a_score_shift_of_known_size_is_measured(results: dict[str, ShadowResult]) -> None:
    result = results["shadow-shift"]
    assert "score_shift" in kinds(result)
    scores = result.scores
    assert scores is not None and scores.mean_difference == pytest.approx(0.1, abs=0.01)  # clipped at 1 a little
    assert scores.abs_difference_quantiles["p50"] == pytest.approx(0.1, abs=0.01)
    low, high = scores.distance.interval
    assert 0 < low <= scores.distance.value <= high
    assert scores.calibration is not None and scores.calibration.shift > 0.05  # the baseline was calibrated
    assert "calibration_shift" in kinds(result)
    healthy = results["shadow-healthy"].scores
    assert healthy is not None and healthy.distance.credible is False and healthy.spearman > 0.99


def test_a_candidate_slowing_only_under_load_is_found_in_the_busiest_minutes(results: dict[str, ShadowResult]) -> None:
    result = results["shadow-load"]
    assert kinds(result) == ["load_slowdown"]
    latency = result.latency
    assert latency is not None
    quiet, busy = latency.buckets[0], latency.buckets[-1]
    assert quiet.paired_ratio == pytest.approx(1.0, abs=0.05)
    assert busy.paired_ratio > 1.2 and busy.requests_per_minute[0] > quiet.requests_per_minute[1]
    assert result.findings[0].where == {"requests_per_minute": list(busy.requests_per_minute)}
    assert [c.metric for c in result.checks if c.outcome is Outcome.FAIL] == ["latency_mean"]


def test_missing_candidate_answers_are_counted_and_fail_coverage(results: dict[str, ShadowResult]) -> None:
    result = results["shadow-missing"]
    assert kinds(result) == ["missing_answers"]
    cov = result.coverage
    assert cov.missing == cov.baseline_requests - cov.paired
    assert cov.coverage.value == pytest.approx(0.8, abs=0.01)
    assert [c.metric for c in result.checks if c.outcome is Outcome.FAIL] == ["coverage"]
    # per segment value too: every column's values add up to the overall missing, late and errored answers
    for segment in result.segments:
        rows = [r for r in result.segment_rows if r.segment == segment]
        assert sum(r.missing for r in rows) == cov.missing > 0
        assert sum(r.late.count for r in rows) == cov.late and sum(r.errored.count for r in rows) == cov.errored
        assert all(r.missing == r.baseline_requests - r.coverage.count for r in rows)


def test_disagreement_on_out_of_range_inputs_is_found(results: dict[str, ShadowResult]) -> None:
    result = results["shadow-unusual"]
    assert kinds(result) == ["unusual_disagreement"]
    unusual = result.unusual
    assert unusual is not None and unusual.difference.credible
    assert unusual.agreement_unusual.value < 0.8
    assert unusual.agreement_rest.value > 0.99
    assert not any(r.worse for r in result.segment_rows)  # not a segment: the inputs


def test_labels_get_a_confusion_table(results: dict[str, ShadowResult]) -> None:
    result = results["shadow-labels"]
    labels = result.labels
    assert labels is not None and result.scores is None and result.kind == "label"
    assert set(labels.labels) == {"low", "mid", "high"}
    total = sum(map(sum, labels.confusion))
    assert total == result.coverage.paired
    diagonal = sum(labels.confusion[i][i] for i in range(len(labels.labels)))
    assert diagonal == result.agreement.count
    assert labels.gained == () and labels.lost == ()
    assert kinds(result) == []
    shift = next(c for c in result.checks if c.metric == "shift")
    assert shift.outcome is Outcome.INCONCLUSIVE and "label answers" in shift.reason


def test_the_result_is_plain_json(results: dict[str, ShadowResult]) -> None:
    import json

    doc = results["shadow-segment"].to_json()
    text = json.dumps(doc, allow_nan=False)
    assert json.loads(text)["findings"][0]["where"] == {"country": "DE"}
    assert {"coverage", "agreement", "segment_rows", "scores", "latency", "unusual", "examples", "checks",
            "verdict", "window"} <= set(doc)
