"""Config durations (``opp.config.durations``, used for backend timeouts)."""

from __future__ import annotations

import pytest

from opp.config.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("50ms", 0.05), ("0s", 0.0), ("30s", 30.0), ("10m", 600.0), ("24h", 86400.0), ("7d", 604800.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "1.5s", "5 min", "-1s", "s", " 3s", "3sec", "2w"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
