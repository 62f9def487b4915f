"""The reference demo's input rules, as REFERENCE-DEMO.md §5 and §6 describe them.

- payload aliases (``ledgerId``/``ledger_id``, ``transactionId``/``id``, ``amount_home``/``amountHome``,
  ``currency_home``/``currencyHome``), trimmed, the first truthy one winning;
- JavaScript-style number reading (``Number("99.5")`` is ``99.5``);
- the date-range resolution of ``transaction.list`` and ``transactions.export_csv`` with and
  without the app's ``max_days``;
- timestamps as JavaScript's ``toISOString()`` writes them, and numbers as ``String(number)``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from opp.codes import ReasonCode
from opp.errors import OppError

__all__ = [
    "DateRange",
    "first_text",
    "invalid",
    "js_iso",
    "js_number",
    "js_string",
    "parse_js_date",
    "policy_of",
    "resolve_range",
]

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY = dt.timedelta(days=1)


def invalid(message: str) -> OppError:
    return OppError(ReasonCode.ACTION_INVALID, message)


def first_text(args: Mapping[str, Any], *names: str) -> str:
    """The first truthy of ``names`` as trimmed text ("" when none is)."""
    for name in names:
        value = args.get(name)
        if value not in (None, "", 0, False):
            return js_string(value).strip()
    return ""


def js_string(value: Any) -> str:
    """``String(value)`` for JSON values (numbers without a trailing ``.0``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def js_number(value: Any) -> float | None:
    """``Number(value)`` when finite (numbers and numeric strings), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text == "":
            number = 0.0
        else:
            try:
                number = float(text)
            except ValueError:
                return None
    else:
        return None
    return number if math.isfinite(number) else None


def wire_number(number: float) -> int | float:
    """A stored amount as JSON shows it: ``1200``, not ``1200.0``."""
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def js_iso(moment: dt.datetime) -> str:
    """``Date.prototype.toISOString()``: UTC, milliseconds, ``Z``."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_js_date(text: Any) -> dt.datetime | None:
    """``new Date(text)`` for ISO-8601 input: a date alone is UTC midnight, a date-time without a
    zone is taken as UTC; anything unparseable is None."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    try:
        if _DATE_ONLY.match(value):
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def policy_of(app_policy: Mapping[str, Any]) -> tuple[int | None, bool]:
    """``(max_days, allow_sensitive_fields)`` of the app's data policy (reference defaults)."""
    days = app_policy.get("max_days")
    max_days = min(max(int(days), 1), 3650) if isinstance(days, int) and days > 0 else None
    return max_days, app_policy.get("allow_sensitive_fields") is not False


class DateRange:
    """A resolved range: the strings a response and an impact show, and the bounds to filter by."""

    __slots__ = ("end", "end_text", "start", "start_text")

    def __init__(self, start_text: str | None, end_text: str | None) -> None:
        self.start_text = start_text
        self.end_text = end_text
        self.start = parse_js_date(start_text)
        self.end = _end_of(end_text)

    def holds(self, date_text: str) -> bool:
        moment = parse_js_date(date_text)
        if moment is None:
            return True
        return not (
            (self.start is not None and moment < self.start) or (self.end is not None and moment > self.end)
        )


def _end_of(text: str | None) -> dt.datetime | None:
    """An end bound: a date alone means the end of that day (UTC), a date-time that instant.

    The reference filters a date-only end at its midnight, so with ``max_days`` set and no
    ``endDate`` it hides everything dated today (REFERENCE-DEMO.md §16.6); opp does not.
    """
    moment = parse_js_date(text)
    if moment is not None and text is not None and _DATE_ONLY.match(text.strip()):
        return moment + _DAY - dt.timedelta(milliseconds=1)
    return moment


def _date(value: Any, name: str) -> dt.datetime | None:
    """An optional date argument; one that is given but unreadable is refused (the reference
    ignores it silently, so a typo widens the query)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    parsed = parse_js_date(value)
    if parsed is None:
        raise invalid(f"{name} is not a date (YYYY-MM-DD or an ISO-8601 date-time)")
    return parsed


def resolve_range(start: Any, end: Any, max_days: int | None, now: dt.datetime) -> DateRange:
    """The reference's date-range resolution (REFERENCE-DEMO.md §5.3).

    Raises:
        OppError: ``agent.action_invalid`` for an unreadable date or "Invalid date range" (start
            after end), ``agent.policy_denied`` "Date range exceeds allowed window" (wider than
            ``max_days``).
    """
    start_at = _date(start, "startDate")
    end_at = _end_of(end.strip()) if _date(end, "endDate") is not None else None
    if max_days is None:
        return DateRange(start.strip() if start_at else None, end.strip() if end_at else None)
    effective_end = end_at or now
    effective_start = start_at or effective_end - max_days * _DAY
    if effective_start > effective_end:
        raise invalid("Invalid date range")
    if effective_end - effective_start > max_days * _DAY:
        raise OppError(ReasonCode.POLICY_DENIED, "Date range exceeds allowed window")
    return DateRange(
        effective_start.astimezone(dt.UTC).date().isoformat(),
        effective_end.astimezone(dt.UTC).date().isoformat(),
    )
