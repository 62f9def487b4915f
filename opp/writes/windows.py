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

__all__ = ["RISK_CLASSES", "normalise_windows", "risk_class", "window_denial"]

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


def normalise_windows(
    current: dict[str, Any], patch: dict[str, Any], now: dt.datetime, max_window: dt.timedelta
) -> dict[str, Any]:
    """Validate an admin ``PATCH auto-execute`` body and merge it over the current windows."""
    unknown = set(patch) - set(RISK_CLASSES)
    if unknown:
        raise _invalid("", f"Unknown risk classes: {sorted(unknown)}; use writes and high_risk.")
    merged = dict(current)
    for name, window in patch.items():
        if not isinstance(window, dict) or set(window) - {"enabled", "expires_at", "allowed_actions"}:
            raise _invalid(name, "Expected {enabled, expires_at, allowed_actions}.")
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
        merged[name] = {
            "enabled": enabled,
            "expires_at": expires_text if enabled else None,
            "allowed_actions": allowed,
        }
    return merged
