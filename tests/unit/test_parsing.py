"""opp/parsing.py: client numbers and times, ASCII and representable only (issue 11 item 2)."""

# ruff: noqa: RUF001 - look-alike digits, on purpose

from __future__ import annotations

import datetime as dt

import pytest

from opp.errors import ValidationFailed
from opp.parsing import ascii_int, ascii_number, parse_limit, parse_time, time_or_none, utc_time


@pytest.mark.parametrize(
    ("text", "expected"), [("0", 0), ("-12", -12), ("+7", 7), ("123456789012345678", 123456789012345678)]
)
def test_ascii_integers(text: str, expected: int) -> None:
    assert ascii_int(text) == expected


@pytest.mark.parametrize(
    "text", ["²", "٣", "１２", "", " 1", "1 ", "1.0", "1e3", "1234567890123456789", "0x10"]
)
def test_everything_else_is_not_an_integer(text: str) -> None:
    assert ascii_int(text) is None


@pytest.mark.parametrize(("text", "expected"), [("1.5", 1.5), ("-0.25", -0.25), ("2e3", 2000.0), ("10", 10)])
def test_json_numbers(text: str, expected: float) -> None:
    assert ascii_number(text) == expected


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-Infinity", "1e400", "٣.٥", ".5", "1.", "+1.5"])
def test_non_finite_and_non_json_numbers_are_refused(text: str) -> None:
    assert ascii_number(text) is None


def test_page_sizes() -> None:
    assert parse_limit(None, "limit", 50, 200) == 50
    assert parse_limit("200", "limit", 50, 200) == 200
    for bad in ("0", "201", "²", "-1", "abc"):
        with pytest.raises(ValidationFailed) as caught:
            parse_limit(bad, "limit", 50, 200)
        assert caught.value.issues == [
            {"code": "range", "path": "limit", "message": "limit must be an integer 1..200."}
        ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00Z", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        ("2024-01-01T05:30:00+05:30", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        ("2024-01-01", dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        ("9999-12-31T23:59:59Z", dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
    ],
)
def test_times_in_utc(text: str, expected: dt.datetime) -> None:
    assert time_or_none(text) == expected
    assert parse_time(text, "since") == expected


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "10000-01-01",
        "٢٠٢٤-01-01",
        "2024-02-30",
        "soon",
    ],
)
def test_unrepresentable_times_are_refused(text: str) -> None:
    assert time_or_none(text) is None
    with pytest.raises(ValidationFailed) as caught:
        parse_time(text, "until")
    assert caught.value.issues[0]["path"] == "until"


def test_a_zone_may_be_required() -> None:
    assert time_or_none("2024-01-01T00:00:00", require_zone=True) is None
    assert time_or_none(12345) is None
    assert parse_time(None, "since") is None


def test_decoded_times_that_overflow_utc() -> None:
    offset = dt.timezone(-dt.timedelta(hours=23, minutes=59))
    with pytest.raises(ValidationFailed):
        utc_time(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=offset), "expires_at")
    assert utc_time(dt.datetime(2030, 1, 1), "expires_at") == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
