"""Building audit events (SPEC §9): the fields every event takes from its request, in one place."""

from __future__ import annotations

from typing import Any

from opp.clock import Clock, IdFactory
from opp.codes import ReasonCode
from opp.engine.request import IncomingRequest
from opp.errors import OppError
from opp.store.records import AuditEvent

__all__ = ["outcome", "request_event"]


def outcome(error: BaseException | None) -> tuple[str, str]:
    """``(status, code)`` of a decision: success, ``denied`` for 4xx, ``failed`` for 5xx."""
    if error is None:
        return "success", ReasonCode.SUCCESS.value
    if isinstance(error, OppError):
        return ("failed" if error.status >= 500 else "denied"), error.code.value
    return "failed", ReasonCode.INTERNAL_ERROR.value


def request_event(
    ids: IdFactory,
    clock: Clock,
    request: IncomingRequest,
    *,
    action: str,
    status: str,
    code: str,
    ip: str | None = None,
    **fields: Any,
) -> AuditEvent:
    """An event for ``request``: id, time, request id, client address and user agent filled in,
    and the request's binding (``details.binding``…) when it did not come over REST."""
    if request.binding is not None:
        fields["details"] = {**request.binding, **(fields.get("details") or {})}
    return AuditEvent(
        id=ids.new("aud"),
        action=action,
        status=status,  # type: ignore[arg-type]
        code=code,
        created_at=clock.now(),
        request_id=request.request_id,
        ip=ip or request.peer,
        user_agent=request.user_agent,
        **fields,
    )
