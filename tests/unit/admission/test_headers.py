"""RateLimit header values in the structured form of the current httpapi draft (not the old one)."""

from __future__ import annotations

import limits

from opp.admission import LimitRule, rejection_headers, sf_string
from opp.admission.headers import delay_seconds


def test_sf_string_quotes_and_escapes() -> None:
    assert sf_string("per-key-ip") == '"per-key-ip"'
    assert sf_string('a"b\\c') == '"a\\"b\\\\c"'


def test_rejection_headers() -> None:
    rule = LimitRule(id="per-key-ip", per=("key", "ip"), item=limits.parse("240/minute"))

    headers = rejection_headers(rule, 0, 37)

    assert headers == {
        "Retry-After": "37",
        "RateLimit": '"per-key-ip";r=0;t=37',
        "RateLimit-Policy": '"per-key-ip";q=240;w=60',
    }


def test_windows_longer_than_a_unit_are_in_seconds() -> None:
    rule = LimitRule(id="daily", per=("tenant",), item=limits.parse("1000 per 2 days"))

    assert rejection_headers(rule, -3, 5)["RateLimit-Policy"] == '"daily";q=1000;w=172800'
    assert rejection_headers(rule, -3, 5)["RateLimit"] == '"daily";r=0;t=5'


def test_delay_is_whole_seconds_and_never_zero() -> None:
    assert delay_seconds(100.2, 100.0) == 1
    assert delay_seconds(100.0, 100.0) == 1
    assert delay_seconds(99.0, 100.0) == 1
    assert delay_seconds(160.01, 100.0) == 61
