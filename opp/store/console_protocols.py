"""The store protocol of the reviewer console (sessions, sign-in grants, webhook deliveries)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from opp.store.console_records import ConsoleGrantRecord, ConsoleSessionRecord, WebhookDeliveryRecord

__all__ = ["ConsoleStore"]


class ConsoleStore(Protocol):
    async def create_session(self, session: ConsoleSessionRecord) -> None:
        """Insert; raises ``KeyError`` if the id exists."""
        ...

    async def get_session(self, session_id: str) -> ConsoleSessionRecord | None: ...

    async def touch_session(self, session_id: str, at: dt.datetime) -> None:
        """Set ``last_seen_at`` (a later value only)."""
        ...

    async def end_session(self, session_id: str, at: dt.datetime) -> bool:
        """Set ``ended_at``; False if unknown or already ended."""
        ...

    async def create_grant(self, grant: ConsoleGrantRecord) -> None:
        """Insert; raises ``KeyError`` if the id exists."""
        ...

    async def redeem_grant(self, grant_id: str, at: dt.datetime) -> ConsoleGrantRecord | None:
        """Mark an unused, unexpired grant used and return it; None otherwise (exactly once)."""
        ...

    async def enqueue_deliveries(self, deliveries: list[WebhookDeliveryRecord]) -> int:
        """Insert the deliveries whose id is new (others are ignored); returns how many were new."""
        ...

    async def due_deliveries(self, now: dt.datetime, limit: int) -> list[WebhookDeliveryRecord]:
        """Pending deliveries with ``next_attempt_at <= now``, oldest attempt first."""
        ...

    async def update_delivery(self, delivery_id: str, expected_attempts: int, values: dict[str, Any]) -> bool:
        """Set ``values`` if the delivery still has ``expected_attempts`` attempts (compare-and-set:
        of two workers claiming one delivery, one wins)."""
        ...

    async def list_deliveries(self, limit: int, draft_id: str | None = None) -> list[WebhookDeliveryRecord]:
        """Newest first (by ``created_at``, then ``id``)."""
        ...

    async def purge_console(self, now: dt.datetime) -> int:
        """Delete expired sessions and grants; returns how many rows went."""
        ...
