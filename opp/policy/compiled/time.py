"""Timestamps (aware ``datetime``) and durations (``timedelta``): parsing, formatting, range
checks and the ``get…()`` accessors.

Both have microsecond resolution, like cel-python's: nanosecond digits are truncated.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opp.policy.compiled.values import fail, type_name

__all__ = [
    "ACCESSORS",
    "check_duration",
    "check_timestamp",
    "format_duration",
    "format_timestamp",
    "parse_duration",
    "parse_timestamp",
    "timestamp_from_seconds",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_DURATION = timedelta(seconds=315_576_000_000)
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})\Z"
)
_WHOLE_SECONDS = re.compile(r"-?\d{1,12}s\Z")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_MICROSECONDS: dict[str, Fraction] = {
    "ns": Fraction(1, 1000), "us": Fraction(1), "µs": Fraction(1), "ms": Fraction(1000),
    "s": Fraction(10**6), "m": Fraction(6 * 10**7), "h": Fraction(36 * 10**8),
}  # fmt: skip


def check_duration(value: timedelta) -> timedelta:
    """``value``, or a range error beyond ±10,000 years."""
    if -_MAX_DURATION <= value <= _MAX_DURATION:
        return value
    fail("duration out of range")


def check_timestamp(start: datetime, delta: timedelta) -> datetime:
    """``start + delta``, or a range error outside years 1 to 9999."""
    try:
        return start + delta
    except OverflowError:
        fail("timestamp out of range")


@lru_cache(maxsize=1024)
def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 timestamp (``2025-01-31T00:00:00Z``); fractions beyond microseconds are cut."""
    match = _TIMESTAMP.match(text)
    if match is None:
        fail(f"invalid timestamp {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0").ljust(6, "0")[:6])
    offset = UTC if zone == "Z" else _fixed_offset(zone)
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, offset)
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        fail(f"invalid timestamp {text!r}")


def timestamp_from_seconds(seconds: int) -> datetime:
    """The timestamp ``seconds`` after the Unix epoch."""
    if not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        fail("timestamp out of range")
    return _EPOCH + timedelta(seconds=seconds)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC, with the shortest exact fraction (``2009-02-13T23:31:30.5Z``)."""
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


@lru_cache(maxsize=1024)
def parse_duration(text: str) -> timedelta:
    """A duration such as ``1h30m``, ``-1.5s``, ``250ms`` (units h, m, s, ms, us, ns)."""
    if _WHOLE_SECONDS.match(text):
        return check_duration(timedelta(seconds=int(text[:-1])))
    body, sign = text, 1
    if body[:1] in "+-" and body:
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    if body == "0":
        return timedelta(0)
    position, micros = 0, Fraction(0)
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        if match is None:
            fail(f"invalid duration {text!r}")
        micros += Fraction(match.group(1)) * _UNIT_MICROSECONDS[match.group(2)]
        position = match.end()
    if not body:
        fail(f"invalid duration {text!r}")
    try:
        return check_duration(timedelta(microseconds=round(sign * micros)))
    except OverflowError:
        fail("duration out of range")


def format_duration(value: timedelta) -> str:
    """Seconds with the shortest exact fraction and an ``s`` (``1000000s``, ``-1.5s``)."""
    micros = (value.days * 86_400 + value.seconds) * 10**6 + value.microseconds
    sign = "-" if micros < 0 else ""
    seconds, fraction = divmod(abs(micros), 10**6)
    text = f"{sign}{seconds}"
    if fraction:
        text += f".{fraction:06d}".rstrip("0")
    return text + "s"


def _fixed_offset(text: str) -> tzinfo:
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    if re.fullmatch(r"[+-]?\d{2}:\d{2}", name):
        return _fixed_offset(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown time zone {name!r}")


def _micros(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 10**6 + value.microseconds


def _truncated(value: int, unit: int) -> int:
    quotient = abs(value) // unit
    return quotient if value >= 0 else -quotient


_TIMESTAMP_PARTS: dict[str, Any] = {
    "getFullYear": lambda t: t.year,
    "getMonth": lambda t: t.month - 1,
    "getDate": lambda t: t.day,
    "getDayOfMonth": lambda t: t.day - 1,
    "getDayOfWeek": lambda t: t.isoweekday() % 7,
    "getDayOfYear": lambda t: t.timetuple().tm_yday - 1,
    "getHours": lambda t: t.hour,
    "getMinutes": lambda t: t.minute,
    "getSeconds": lambda t: t.second,
    "getMilliseconds": lambda t: t.microsecond // 1000,
}
_DURATION_PARTS: dict[str, Any] = {
    "getHours": lambda us: _truncated(us, 3600 * 10**6),
    "getMinutes": lambda us: _truncated(us, 60 * 10**6),
    "getSeconds": lambda us: _truncated(us, 10**6),
    "getMilliseconds": lambda us: _truncated(us, 1000) - _truncated(us, 10**6) * 1000,
}


def _accessor(name: str) -> Any:
    def access(subject: Any, *zone: Any) -> int:
        if type(subject) is datetime and len(zone) <= 1:
            if zone and type(zone[0]) is not str:
                fail(f"no such overload: {name}({type_name(zone[0])})")
            local = subject.astimezone(_zone(zone[0]) if zone else UTC)
            return int(_TIMESTAMP_PARTS[name](local))
        if type(subject) is timedelta and name in _DURATION_PARTS and not zone:
            return int(_DURATION_PARTS[name](_micros(subject)))
        fail(f"no such overload: {type_name(subject)}.{name}()")

    return access


ACCESSORS: dict[str, Any] = {name: _accessor(name) for name in _TIMESTAMP_PARTS}
"""``getFullYear`` … ``getMilliseconds`` for timestamps (optional time zone) and durations."""
