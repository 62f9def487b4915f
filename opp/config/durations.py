"""Config durations: ``"50ms"``, ``"30s"``, ``"10m"``, ``"24h"``, ``"7d"`` → seconds."""

from __future__ import annotations

import re

__all__ = ["parse_duration"]

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Parse a config duration into seconds.

    Args:
        text: A non-negative integer followed by one unit: ``ms``, ``s``, ``m``, ``h`` or ``d``.

    Returns:
        The duration in seconds.

    Raises:
        ValueError: ``text`` is not a duration (``"1.5s"``, ``"10"``, ``"5 min"``).
    """
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r}: expected an integer and a unit (ms, s, m, h, d)")
    return int(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)]
