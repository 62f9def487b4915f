"""One audit event per decision: an :class:`AuditScope` follows a request and emits exactly once."""

from __future__ import annotations

from typing import Any

from opp.audit.writer import AuditWriter
from opp.auth.principal import Principal
from opp.clock import Clock, IdFactory
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.store.records import AuditEvent

__all__ = ["AuditScope"]


class AuditScope:
    """Collects who/what/why for one decision and emits the event on success or failure."""

    __slots__ = (
        "_action",
        "_clock",
        "_ids",
        "_request",
        "_writer",
        "details",
        "ip",
        "matched",
        "principal",
        "tool",
    )

    def __init__(
        self,
        writer: AuditWriter,
        clock: Clock,
        ids: IdFactory,
        *,
        action: str,
        request: Any,
        tool: str | None = None,
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._ids = ids
        self._action = action
        self._request = request
        self.tool = tool
        self.principal: Principal | None = None
        self.ip: str | None = None
        self.matched: list[str] = []
        self.details: dict[str, Any] = {}

    def success(self) -> None:
        self._emit("success", ReasonCode.SUCCESS.value, {})

    def failure(self, error: OppError) -> None:
        status = "failed" if error.status >= 500 else "denied"
        self._emit(status, error.code.value, error.audit)

    def _emit(self, status: str, code: str, extra_ids: dict[str, str]) -> None:
        principal = self.principal
        request = self._request
        self._writer.emit(
            AuditEvent(
                id=self._ids.new("aud"),
                action=self._action,
                status=status,  # type: ignore[arg-type]
                code=code,
                created_at=self._clock.now(),
                app_id=principal.app.id if principal else extra_ids.get("app_id"),
                key_id=principal.key_id if principal else extra_ids.get("key_id"),
                actor_user_id=principal.actor_user_id if principal else None,
                performed_by_user_id=principal.actor_user_id if principal else None,
                request_id=request.request_id,
                ip=self.ip or request.peer,
                user_agent=request.user_agent,
                tool=self.tool,
                tenant=principal.tenant if principal else None,
                principal=principal.audit_view() if principal else None,
                policy={"matched": list(self.matched)} if self.matched else None,
                details=self.details,
            )
        )
