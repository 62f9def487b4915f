"""One audit event per decision: an :class:`AuditScope` follows a request and emits exactly once."""

from __future__ import annotations

from typing import Any

from opp.audit.events import outcome, request_event
from opp.audit.writer import AuditWriter
from opp.auth.principal import Principal
from opp.clock import Clock, IdFactory
from opp.engine.request import IncomingRequest
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
        "draft_id",
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
        request: IncomingRequest,
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
        self.draft_id: str | None = None

    def success(self) -> None:
        self._writer.emit(self.event())

    def failure(self, error: OppError) -> None:
        if error.audited:
            self._writer.emit(self.event(error))

    def event(self, error: OppError | None = None, **details: Any) -> AuditEvent:
        """This decision's event, for callers that commit it with a state change themselves."""
        status, code = outcome(error)
        principal = self.principal
        extra_ids = error.audit if error is not None else {}
        return request_event(
            self._ids,
            self._clock,
            self._request,
            action=self._action,
            status=status,
            code=code,
            ip=self.ip,
            app_id=principal.app.id if principal else extra_ids.get("app_id"),
            key_id=principal.key_id if principal else extra_ids.get("key_id"),
            actor_user_id=principal.actor_user_id if principal else None,
            performed_by_user_id=principal.actor_user_id if principal else None,
            tool=self.tool,
            draft_id=self.draft_id,
            tenant=principal.tenant if principal else None,
            principal=principal.audit_view() if principal else None,
            policy={"matched": list(self.matched)} if self.matched else None,
            details={**self.details, **details},
        )
