"""Audit events of the write lifecycle, built here and committed by the store together with the
state change they describe (SPEC §9)."""

from __future__ import annotations

from typing import Any

from opp.audit.events import request_event
from opp.clock import Clock, IdFactory
from opp.codes import ReasonCode
from opp.engine.request import IncomingRequest
from opp.store.records import AuditEvent
from opp.store.write_records import DraftRecord

__all__ = ["WriteEvents"]


class WriteEvents:
    """Builds events for one request, on behalf of one draft's app, key and actor."""

    def __init__(
        self,
        ids: IdFactory,
        clock: Clock,
        request: IncomingRequest,
        *,
        ip: str | None,
        performed_by: str | None = None,
        principal: dict[str, Any] | None = None,
    ) -> None:
        self._ids = ids
        self._clock = clock
        self._request = request
        self._ip = ip
        self._performed_by = performed_by
        self._principal = principal

    def for_draft(
        self,
        draft: DraftRecord,
        action: str,
        *,
        status: str = "success",
        code: ReasonCode = ReasonCode.SUCCESS,
        execution_id: str | None = None,
        matched: list[str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        return request_event(
            self._ids,
            self._clock,
            self._request,
            action=action,
            status=status,
            code=code.value,
            ip=self._ip,
            app_id=draft.app_id,
            key_id=draft.key_id,
            actor_user_id=draft.actor_user_id,
            performed_by_user_id=self._performed_by or draft.actor_user_id,
            draft_id=draft.id,
            execution_id=execution_id,
            tool=draft.action,
            tenant=draft.tenant,
            principal=self._principal,
            policy={"matched": matched} if matched else None,
            details=details or {},
        )
