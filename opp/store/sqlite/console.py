"""SQLite implementation of the reviewer console's store (sessions, grants, webhook deliveries)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

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
)
from opp.store.sqlite.database import SqliteDatabase

__all__ = ["SqliteConsole"]


class SqliteConsole:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create_session(self, session: ConsoleSessionRecord) -> None:
        try:
            with self._db.write() as connection:
                connection.execute(INSERT_SESSION, SESSIONS.encode(session))
        except sqlite3.IntegrityError:
            raise KeyError(session.id) from None

    async def get_session(self, session_id: str) -> ConsoleSessionRecord | None:
        rows = self._db.read(GET_SESSION, (session_id,))
        return SESSIONS.decode(rows[0]) if rows else None

    async def touch_session(self, session_id: str, at: dt.datetime) -> None:
        stamp = encode_timestamp(at)
        with self._db.write() as connection:
            connection.execute(TOUCH_SESSION, (stamp, session_id, stamp))

    async def end_session(self, session_id: str, at: dt.datetime) -> bool:
        with self._db.write() as connection:
            return connection.execute(END_SESSION, (encode_timestamp(at), session_id)).rowcount > 0

    async def create_grant(self, grant: ConsoleGrantRecord) -> None:
        try:
            with self._db.write() as connection:
                connection.execute(INSERT_GRANT, GRANTS.encode(grant))
        except sqlite3.IntegrityError:
            raise KeyError(grant.id) from None

    async def redeem_grant(self, grant_id: str, at: dt.datetime) -> ConsoleGrantRecord | None:
        stamp = encode_timestamp(at)
        with self._db.write() as connection:
            if connection.execute(REDEEM_GRANT, (stamp, grant_id, stamp)).rowcount == 0:
                return None
            row = connection.execute(SELECT_GRANT, (grant_id,)).fetchone()
        return GRANTS.decode(row)

    async def enqueue_deliveries(self, deliveries: list[WebhookDeliveryRecord]) -> int:
        with self._db.write() as connection:
            return sum(connection.execute(INSERT_DELIVERY, DELIVERIES.encode(d)).rowcount for d in deliveries)

    async def due_deliveries(self, now: dt.datetime, limit: int) -> list[WebhookDeliveryRecord]:
        return [
            DELIVERIES.decode(row) for row in self._db.read(DUE_DELIVERIES, (encode_timestamp(now), limit))
        ]

    async def update_delivery(self, delivery_id: str, expected_attempts: int, values: dict[str, Any]) -> bool:
        sql, params = delivery_update(values)
        with self._db.write() as connection:
            return connection.execute(sql, (*params, delivery_id, expected_attempts)).rowcount > 0

    async def list_deliveries(self, limit: int, draft_id: str | None = None) -> list[WebhookDeliveryRecord]:
        if draft_id is None:
            rows = self._db.read(LIST_DELIVERIES, (limit,))
        else:
            rows = self._db.read(LIST_DRAFT_DELIVERIES, (draft_id, limit))
        return [DELIVERIES.decode(row) for row in rows]

    async def purge_console(self, now: dt.datetime) -> int:
        stamp = encode_timestamp(now)
        with self._db.write() as connection:
            sessions = connection.execute(PURGE_SESSIONS, (stamp,)).rowcount
            return sessions + connection.execute(PURGE_GRANTS, (stamp,)).rowcount
