"""The first answer's arm and segment values as one integer (data/segment_codes.py): the same sums as the
struct of values, whatever the values, and the struct way when the codes cannot stand."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from data_helpers import plan_with, write_logs

from rollout_cli.data import queries
from rollout_cli.data.segment_codes import SegmentCodes, read_codes
from rollout_cli.data.source import SqlParams, open_logs
from rollout_cli.evaluation.needs import stage_measures

UNTIL = datetime(2026, 1, 6)


def _logs(root: Path, *, platform_type: str | None = None) -> list[tuple]:
    """600 answers of 150 users: NULL and odd segment values, units served by both arms, answers outside
    the window (whose values exist in the log but not among the window's units)."""
    rng = random.Random(5)
    countries = ["US", "DE", None, "", "o'brien", "ü"]
    rows = []
    for i in range(600):
        user = f"u{rng.randrange(150)}"
        ts = datetime(2026, 1, 5, 9) + timedelta(minutes=rng.randrange(600))
        late = i % 50 == 0  # after the window: only these carry the value "XX"
        rows.append((f"r{i}", str(ts + (timedelta(days=3) if late else timedelta())), user,
                     rng.choice(["baseline", "candidate"]), True, rng.random(), rng.uniform(20, 400),
                     rng.random() < 0.05, "XX" if late else rng.choice(countries), rng.choice(["ios", "web", None])))
    return rows


def _aggregates(plan, *, coded: bool):
    stage = plan.stage("canary")
    needs = stage_measures(plan, stage)
    with open_logs(plan.data) as logs:
        return queries.stage_aggregates(logs, shadow=False, segments=["country", "platform"], measures=needs.measures,
                                        quantiles=needs.quantiles, since=None, until=UNTIL, coded=coded)


def _cells(agg) -> dict:
    """Every cell's counts and sums (floats to 12 digits: DuckDB sums doubles in no fixed order)."""
    def rounded(sums: object) -> tuple:
        return tuple(v if v is None or isinstance(v, int) else float(f"{v:.12g}") for v in vars(sums).values())

    return {(population, arm): (cell.units, cell.crossed, sorted((k, rounded(v)) for k, v in cell.sums.items()))
            for population, arms in agg.cells.items() for arm, cell in arms.items()}


@pytest.mark.parametrize("fmt", ["parquet", "duckdb"])
def test_coded_first_answers_give_the_same_sums_as_the_struct(tmp_path: Path, fmt: str) -> None:
    plan = plan_with(tmp_path, *write_logs(tmp_path / "logs", fmt, predictions=_logs(tmp_path)))
    with open_logs(plan.data) as logs:
        codes = read_codes(logs, ["country", "platform"], SqlParams())
    assert codes is not None and codes.sizes == (6, 2)  # '' and "XX" are values; NULL is not
    coded, plain = _aggregates(plan, coded=True), _aggregates(plan, coded=False)
    assert _cells(coded) == _cells(plain)
    assert ("country", "XX") not in coded.cells  # listed, but no unit of the window has it
    assert coded.cells[("country", None)]["baseline"].units > 0
    assert coded.cells[("country", "o'brien")]["candidate"].units > 0


def test_a_value_the_codes_do_not_list_falls_back_to_the_struct(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The logs changed between the two statements: the statement stops on the stray value, the struct
    way computes, and no unit lands in a wrong cell."""
    plan = plan_with(tmp_path, *write_logs(tmp_path / "logs", "parquet", predictions=_logs(tmp_path)))
    expected = _cells(_aggregates(plan, coded=False))

    def short(logs: object, segments: object, params: SqlParams) -> SegmentCodes:  # "US" is not listed
        return SegmentCodes((params.add(["", "DE", "XX", "o'brien", "ü"]), params.add(["ios", "web"])), (5, 2))

    calls: list[bool] = []
    real = queries.stage_aggregates

    def spy(*args: object, coded: bool = True, **kwargs: object) -> object:
        calls.append(coded)
        return real(*args, coded=coded, **kwargs)

    monkeypatch.setattr(queries, "read_codes", short)
    monkeypatch.setattr(queries, "stage_aggregates", spy)
    assert _cells(_aggregates(plan, coded=True)) == expected
    assert calls == [True, False]  # the coded statement stopped, the struct way answered


def test_segments_that_are_not_text_keep_the_struct(tmp_path: Path) -> None:
    rows = [r[:9] + (str(len(r[0]) % 3),) for r in _logs(tmp_path)]
    plan = plan_with(tmp_path, *write_logs(tmp_path / "logs", "parquet", predictions=rows,
                                           pred_types={"platform": "INTEGER"}))
    with open_logs(plan.data) as logs:
        assert read_codes(logs, ["country", "platform"], SqlParams()) is None
        assert read_codes(logs, ["country"], SqlParams()) is not None
    assert _cells(_aggregates(plan, coded=True)) == _cells(_aggregates(plan, coded=False))
