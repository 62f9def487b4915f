"""PostgreSQL implementation of the reviewer console's store (sessions, grants, webhook deliveries)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from opp.store.codec import encode_timestamp
from opp.store.console_records import ConsoleGrantRecord, ConsoleSessionRecord, WebhookDeliveryRecord
from opp.store.console_sql import (
    DELIVERIES,
    DUE_DELIVERIES,
    END_SESSION,
    GET_SESSION,
    GRANTS,
    INSERT_DELIVERY,
    INSERT_GRANT,
    INSERT_SESSION,
    LIST_DELIVERIES,
    LIST_DRAFT_DELIVERIES,
    PURGE_GRANTS,
    PURGE_SESSIONS,
    REDEEM_GRANT,
    SELECT_GRANT,
    SESSIONS,
    TOUCH_SESSION,
    delivery_update,
    postgres,
)
from opp.store.postgres.database import PostgresDatabase

__all__ = ["PostgresConsole"]


class PostgresConsole:
    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def _execute(self, sql: str, params: tuple[Any, ...] | list[Any]) -> int:
        async with self._db.transaction() as cursor:
            await cursor.execute(postgres(sql), params)
            return int(cursor.rowcount)

    async def create_session(self, session: ConsoleSessionRecord) -> None:
        try:
            await self._execute(INSERT_SESSION, SESSIONS.encode(session))
        except psycopg.IntegrityError:
            raise KeyError(session.id) from None

    async def get_session(self, session_id: str) -> ConsoleSessionRecord | None:
        rows = await self._db.read(postgres(GET_SESSION), (session_id,))
        return SESSIONS.decode(rows[0]) if rows else None

    async def touch_session(self, session_id: str, at: dt.datetime) -> None:
        stamp = encode_timestamp(at)
        await self._execute(TOUCH_SESSION, (stamp, session_id, stamp))

    async def end_session(self, session_id: str, at: dt.datetime) -> bool:
        return await self._execute(END_SESSION, (encode_timestamp(at), session_id)) > 0

    async def create_grant(self, grant: ConsoleGrantRecord) -> None:
        try:
            await self._execute(INSERT_GRANT, GRANTS.encode(grant))
        except psycopg.IntegrityError:
            raise KeyError(grant.id) from None

    async def redeem_grant(self, grant_id: str, at: dt.datetime) -> ConsoleGrantRecord | None:
        stamp = encode_timestamp(at)
        async with self._db.transaction() as cursor:
            await cursor.execute(postgres(REDEEM_GRANT), (stamp, grant_id, stamp))
            if cursor.rowcount == 0:
                return None
            await cursor.execute(postgres(SELECT_GRANT), (grant_id,))
            row = await cursor.fetchone()
        return GRANTS.decode(row) if row else None

    async def enqueue_deliveries(self, deliveries: list[WebhookDeliveryRecord]) -> int:
        new = 0
        async with self._db.transaction() as cursor:
            for delivery in deliveries:
                await cursor.execute(postgres(INSERT_DELIVERY), DELIVERIES.encode(delivery))
                new += cursor.rowcount
        return new

    async def due_deliveries(self, now: dt.datetime, limit: int) -> list[WebhookDeliveryRecord]:
        rows = await self._db.read(postgres(DUE_DELIVERIES), (encode_timestamp(now), limit))
        return [DELIVERIES.decode(row) for row in rows]

    async def update_delivery(self, delivery_id: str, expected_attempts: int, values: dict[str, Any]) -> bool:
        sql, params = delivery_update(values)
        return await self._execute(sql, (*params, delivery_id, expected_attempts)) > 0

    async def list_deliveries(self, limit: int, draft_id: str | None = None) -> list[WebhookDeliveryRecord]:
        if draft_id is None:
            rows = await self._db.read(postgres(LIST_DELIVERIES), (limit,))
        else:
            rows = await self._db.read(postgres(LIST_DRAFT_DELIVERIES), (draft_id, limit))
        return [DELIVERIES.decode(row) for row in rows]

    async def purge_console(self, now: dt.datetime) -> int:
        stamp = encode_timestamp(now)
        async with self._db.transaction() as cursor:
            await cursor.execute(postgres(PURGE_SESSIONS), (stamp,))
            sessions = cursor.rowcount
            await cursor.execute(postgres(PURGE_GRANTS), (stamp,))
            return int(sessions + cursor.rowcount)
