"""Parsing client text into numbers and times: only what can be represented, nothing else.

Python's own parsers accept more than the wire formats allow: ``"²".isdigit()`` is true but
``int("²")`` raises, ``int("٣")`` is 3, ``float("nan")`` is a number, and a timestamp such as
``9999-12-31T23:59:59-23:59`` parses but overflows when moved to UTC. Every query parameter, body
field and stored window that carries a number or a time goes through these functions, which
accept ASCII digits only and times whose UTC instant exists, and report anything else as a
:class:`~opp.errors.ValidationFailed` (``400``) naming the field.
"""

from __future__ import annotations

import datetime as dt
import re

from opp.errors import ValidationFailed

__all__ = ["ascii_int", "ascii_number", "parse_limit", "parse_time", "time_or_none", "utc_time"]

_INT = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)
_MAX_NUMBER_TEXT = 64


def ascii_int(text: str) -> int | None:
    """``text`` as an integer if it is 1-18 ASCII digits with an optional sign, else None."""
    return int(text) if _INT.fullmatch(text) else None


def ascii_number(text: str) -> int | float | None:
    """``text`` as a JSON number (an int when integral in form), else None; never NaN or infinity."""
    whole = ascii_int(text)
    if whole is not None:
        return whole
    if len(text) > _MAX_NUMBER_TEXT or not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if value not in (float("inf"), float("-inf")) else None


def parse_limit(text: str | None, name: str, default: int, maximum: int) -> int:
    """A page size from a query parameter: ``1..maximum`` in ASCII digits (``default`` if absent)."""
    if text is None:
        return default
    value = ascii_int(text)
    if value is None or not 1 <= value <= maximum:
        raise ValidationFailed(
            [{"code": "range", "path": name, "message": f"{name} must be an integer 1..{maximum}."}]
        )
    return value


def _moved_to_utc(parsed: dt.datetime) -> dt.datetime | None:
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        return None


def utc_time(value: dt.datetime, name: str) -> dt.datetime:
    """An already decoded time in UTC (naive means UTC); 400 when its UTC instant does not exist."""
    moved = _moved_to_utc(value)
    if moved is None:
        raise _bad_time(name)
    return moved


def time_or_none(text: object, *, require_zone: bool = False) -> dt.datetime | None:
    """An ISO-8601 / RFC 3339 time (``Z`` accepted) in UTC, or None when ``text`` is not one.

    ``require_zone``: a time without an offset is refused (None) instead of read as UTC.
    """
    if not isinstance(text, str) or not text.isascii():
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if require_zone and parsed.tzinfo is None:
        return None
    return _moved_to_utc(parsed)


def parse_time(text: str | None, name: str) -> dt.datetime | None:
    """A time query parameter in UTC (None when absent); 400 when it is not a representable time."""
    if text is None:
        return None
    parsed = time_or_none(text)
    if parsed is None:
        raise _bad_time(name)
    return parsed


def _bad_time(name: str) -> ValidationFailed:
    return ValidationFailed(
        [
            {
                "code": "format",
                "path": name,
                "message": "Expected an ISO-8601 time (ASCII, years 0001-9999 in UTC).",
            }
        ]
    )
