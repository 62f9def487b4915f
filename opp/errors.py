"""Domain errors.

``OppError`` is the one exception type that crosses layer boundaries. It carries a
:class:`~opp.codes.ReasonCode`, a client-safe message and optional ``details``. The HTTP layer
renders it as the OPP error envelope with the code's status; nothing else about it is HTTP.

Error tree::

    OppError(code, message, details)      -> envelope {ok:false, code, message, details?}
      └─ ValidationFailed(issues)         -> common.validation / agent.action_invalid, details.issues
"""

from __future__ import annotations

from typing import Any

from opp.codes import ReasonCode

__all__ = ["Issue", "OppError", "ValidationFailed"]


class OppError(Exception):
    """An expected, client-visible failure with a reason code."""

    def __init__(
        self,
        code: ReasonCode,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
        audit: dict[str, str] | None = None,
    ) -> None:
        """``status`` overrides the catalogue status only where the catalogue allows variants
        (``agent.upstream_unavailable`` is 502, 503 or 504). ``audit`` carries ids for the audit
        event (``app_id``, ``key_id``) that must not be echoed to the client."""
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
        self.status = status if status is not None else code.status
        self.audit = audit or {}
        self.audited = True
        """False when the decision is deliberately not audited (a repeated 429 within its window)."""


Issue = dict[str, str]


class ValidationFailed(OppError):
    """Input failed its schema; ``details.issues`` lists ``{code, path, message}``."""

    def __init__(self, issues: list[Issue], code: ReasonCode = ReasonCode.VALIDATION) -> None:
        first = issues[0]["message"] if issues else "invalid input"
        super().__init__(code, f"Invalid input: {first}", {"issues": issues})
        self.issues = issues
