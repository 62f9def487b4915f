"""Auto-execute windows (SPEC §7.3): per app and risk class, ``enabled`` until ``expires_at``.

Classes: ``writes`` (low and medium risk) and ``high_risk``. Default: disabled. [fix] Enabling
requires an ``expires_at`` in the future and no later than ``writes.auto_execute_max`` from now;
an unparsable expiry counts as expired. ``allowed_actions``: null = every action, [] = none.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from opp.bounds import IDENTIFIER
from opp.codes import ReasonCode
from opp.errors import ValidationFailed
from opp.parsing import time_or_none

__all__ = [
    "DEFAULT_MAX_EXPORT_ROWS",
    "RISK_CLASSES",
    "high_risk_requirements",
    "normalise_windows",
    "risk_class",
    "window_denial",
]

RISK_CLASSES = ("writes", "high_risk")


def risk_class(risk: str) -> str:
    return "high_risk" if risk == "high" else "writes"


def _parse(value: Any) -> dt.datetime | None:
    return time_or_none(value, require_zone=True)


def window_denial(
    auto_execute: dict[str, Any], risk: str, action: str, now: dt.datetime
) -> ReasonCode | None:
    """The soft-denial code of the window for ``risk``/``action`` at ``now``, or None if open."""
    window = auto_execute.get(risk_class(risk)) or {}
    if not window.get("enabled"):
        return ReasonCode.AUTO_EXECUTE_DISABLED
    expires = _parse(window.get("expires_at"))
    if expires is None or expires <= now:
        return ReasonCode.AUTO_EXECUTE_EXPIRED
    allowed = window.get("allowed_actions")
    if allowed is not None and action not in allowed:
        return ReasonCode.AUTO_EXECUTE_DENIED
    return None


def _invalid(path: str, message: str) -> ValidationFailed:
    return ValidationFailed([{"code": "invalid", "path": path, "message": message}])


_WINDOW_FIELDS = frozenset({"enabled", "expires_at", "allowed_actions"})
_HIGH_RISK_FIELDS = _WINDOW_FIELDS | {"require_preflight", "require_idempotency", "max_export_rows"}
DEFAULT_MAX_EXPORT_ROWS = 1000
EXPORT_ROWS_RANGE = (100, 5000)
"""``max_export_rows`` is clamped to this range (the reference runtime's normalisation)."""


def high_risk_requirements(auto_execute: dict[str, Any]) -> tuple[bool, bool]:
    """``(require_preflight, require_idempotency)`` of the app's high-risk window (default: both)."""
    window = auto_execute.get("high_risk") or {}
    return window.get("require_preflight") is not False, window.get("require_idempotency") is not False


def _flag(name: str, window: dict[str, Any], key: str) -> bool:
    value = window.get(key, True)
    if not isinstance(value, bool):
        raise _invalid(f"{name}.{key}", "Expected true or false.")
    return value


def _export_rows(name: str, window: dict[str, Any]) -> int:
    value = window.get("max_export_rows", DEFAULT_MAX_EXPORT_ROWS)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(f"{name}.max_export_rows", "Expected an integer.")
    low, high = EXPORT_ROWS_RANGE
    return min(max(value, low), high)


def normalise_windows(
    current: dict[str, Any], patch: dict[str, Any], now: dt.datetime, max_window: dt.timedelta
) -> dict[str, Any]:
    """Validate an admin ``PATCH auto-execute`` body and merge it over the current windows.

    A section in the body replaces the stored one (its omitted fields take their defaults); a
    section left out keeps its stored value. ``high_risk`` also holds ``require_preflight`` and
    ``require_idempotency`` (default true) and ``max_export_rows`` (default 1000, clamped to
    100..5000).
    """
    unknown = set(patch) - set(RISK_CLASSES)
    if unknown:
        raise _invalid("", f"Unknown risk classes: {sorted(unknown)}; use writes and high_risk.")
    merged = dict(current)
    for name, window in patch.items():
        allowed_fields = _HIGH_RISK_FIELDS if name == "high_risk" else _WINDOW_FIELDS
        if not isinstance(window, dict) or set(window) - allowed_fields:
            raise _invalid(name, f"Expected {{{', '.join(sorted(allowed_fields))}}}.")
        enabled = window.get("enabled", False)
        if not isinstance(enabled, bool):
            raise _invalid(f"{name}.enabled", "Expected true or false.")
        allowed = window.get("allowed_actions")
        if allowed is not None and (
            not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed)
        ):
            raise _invalid(f"{name}.allowed_actions", "Expected null or a list of action names.")
        for number, action in enumerate(allowed or ()):
            IDENTIFIER.check(action, f"{name}.allowed_actions[{number}]")
        expires_text = window.get("expires_at")
        if enabled:
            expires = _parse(expires_text)
            if expires is None:
                raise _invalid(f"{name}.expires_at", "Enabling needs expires_at (RFC 3339 with a time zone).")
            if expires <= now:
                raise _invalid(f"{name}.expires_at", "expires_at must be in the future.")
            if expires > now + max_window:
                raise _invalid(
                    f"{name}.expires_at",
                    f"expires_at may be at most {max_window} from now (writes.auto_execute_max).",
                )
        section: dict[str, Any] = {
            "enabled": enabled,
            "expires_at": expires_text if enabled else None,
            "allowed_actions": allowed,
        }
        if name == "high_risk":
            section["require_preflight"] = _flag(name, window, "require_preflight")
            section["require_idempotency"] = _flag(name, window, "require_idempotency")
            section["max_export_rows"] = _export_rows(name, window)
        merged[name] = section
    return merged
