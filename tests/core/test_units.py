from __future__ import annotations

import pytest

from rollout_cli.units import (
    format_duration,
    format_fraction,
    format_share,
    format_split,
    parse_duration,
    parse_fraction,
    parse_share,
    parse_threshold,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("90m", 5400), ("24h", 86400), ("1.5h", 5400), ("14d", 1209600), ("1w", 604800), (45, 45), (0, 0)],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["24", "h", "1y", "-1h", True, None, [1], -5])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="duration|negative"):
        parse_duration(bad)


def test_fractions_and_shares() -> None:
    assert parse_fraction("2%") == pytest.approx(0.02)
    assert parse_fraction(0.95) == 0.95
    with pytest.raises(ValueError, match="write a percentage such as 95%"):
        parse_fraction(95)
    assert parse_share("5%") == 5.0
    assert parse_share(25) == 25.0
    with pytest.raises(ValueError, match="outside 0%..100%"):
        parse_share("150%")
    assert parse_threshold("0.5%") == pytest.approx(0.005)
    assert parse_threshold(250) == 250.0


def test_formatting_round_trips() -> None:
    for seconds in (86400, 5400, 1209600, 30, 7200):
        assert parse_duration(format_duration(seconds)) == seconds
    assert format_duration(0) == "0s"
    assert format_share(0.5) == "0.5%"
    assert format_share(100.0) == "100%"


@pytest.mark.parametrize(("seconds", "style", "words"), [
    (1209600, "exact", "2w"), (5400, "exact", "90m"), (90.5, "exact", "90.5s"),
    (3607, "age", "1h"), (3700, "age", "62m"), (119.4, "age", "119s"), (0.2, "age", "0s"),
    (3700, "clock", "1h01m"), (750, "clock", "12m30s"), (45, "clock", "45s"), (187200, "clock", "2d4h"),
    (-5, "clock", "0s"),
])
def test_one_duration_formatter_with_three_styles(seconds: float, style: str, words: str) -> None:
    assert format_duration(seconds, style=style) == words  # type: ignore[arg-type]


def test_runbooks_say_days_not_weeks() -> None:
    assert format_duration(1209600, weeks=False) == "14d"


def test_one_percentage_formatter() -> None:
    assert format_fraction(0.02) == "2%"
    assert format_fraction(0.123456, digits=3) == "12.3%"
    assert format_fraction(0.0123, digits=2) == "1.2%"
    assert format_share(12.3456, digits=3) == "12.3%"
    assert format_split(5.0, 100.0) == "5% served, 100% mirrored"
