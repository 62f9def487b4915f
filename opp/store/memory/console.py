"""In-memory :class:`~opp.store.console_protocols.ConsoleStore` (unit tests, ``store.kind: memory``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from opp.store.console_records import ConsoleGrantRecord, ConsoleSessionRecord, WebhookDeliveryRecord
from opp.store.console_sql import DELIVERIES, GRANTS, SESSIONS

__all__ = ["MemoryConsole"]


class MemoryConsole:
    def __init__(self) -> None:
        self._sessions: dict[str, ConsoleSessionRecord] = {}
        self._grants: dict[str, ConsoleGrantRecord] = {}
        self._deliveries: dict[str, WebhookDeliveryRecord] = {}

    async def create_session(self, session: ConsoleSessionRecord) -> None:
        if session.id in self._sessions:
            raise KeyError(session.id)
        self._sessions[session.id] = SESSIONS.round_trip(session)

    async def get_session(self, session_id: str) -> ConsoleSessionRecord | None:
        return self._sessions.get(session_id)

    async def touch_session(self, session_id: str, at: dt.datetime) -> None:
        session = self._sessions.get(session_id)
        if session is not None and session.last_seen_at < at:
            self._sessions[session_id] = msgspec.structs.replace(session, last_seen_at=at)

    async def end_session(self, session_id: str, at: dt.datetime) -> bool:
        session = self._sessions.get(session_id)
        if session is None or session.ended_at is not None:
            return False
        self._sessions[session_id] = msgspec.structs.replace(session, ended_at=at)
        return True

    async def create_grant(self, grant: ConsoleGrantRecord) -> None:
        if grant.id in self._grants:
            raise KeyError(grant.id)
        self._grants[grant.id] = GRANTS.round_trip(grant)

    async def redeem_grant(self, grant_id: str, at: dt.datetime) -> ConsoleGrantRecord | None:
        grant = self._grants.get(grant_id)
        if grant is None or grant.used_at is not None or grant.expires_at <= at:
            return None
        used = msgspec.structs.replace(grant, used_at=at)
        self._grants[grant_id] = used
        return used

    async def enqueue_deliveries(self, deliveries: list[WebhookDeliveryRecord]) -> int:
        new = 0
        for delivery in deliveries:
            if delivery.id not in self._deliveries:
                self._deliveries[delivery.id] = DELIVERIES.round_trip(delivery)
                new += 1
        return new

    async def due_deliveries(self, now: dt.datetime, limit: int) -> list[WebhookDeliveryRecord]:
        due = [d for d in self._deliveries.values() if d.status == "pending" and d.next_attempt_at <= now]
        return sorted(due, key=lambda d: (d.next_attempt_at, d.id))[:limit]

    async def update_delivery(self, delivery_id: str, expected_attempts: int, values: dict[str, Any]) -> bool:
        delivery = self._deliveries.get(delivery_id)
        if delivery is None or delivery.attempts != expected_attempts:
            return False
        self._deliveries[delivery_id] = DELIVERIES.round_trip(msgspec.structs.replace(delivery, **values))
        return True

    async def list_deliveries(self, limit: int, draft_id: str | None = None) -> list[WebhookDeliveryRecord]:
        found = [d for d in self._deliveries.values() if draft_id is None or d.draft_id == draft_id]
        return sorted(found, key=lambda d: (d.created_at, d.id), reverse=True)[:limit]

    async def purge_console(self, now: dt.datetime) -> int:
        sessions = [k for k, s in self._sessions.items() if s.expires_at <= now]
        grants = [k for k, g in self._grants.items() if g.expires_at <= now]
        for key in sessions:
            del self._sessions[key]
        for key in grants:
            del self._grants[key]
        return len(sessions) + len(grants)
