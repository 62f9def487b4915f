"""SQLite implementation of the development authorization server's key store (``oauth_keys``)."""

from __future__ import annotations

import datetime as dt

from opp.store.codec import encode_timestamp
from opp.store.records import OAuthKeyRecord
from opp.store.sql import OAUTH_KEY_INSERT, OAUTH_KEY_RETIRE, OAUTH_KEYS, OAUTH_KEYS_ACTIVE
from opp.store.sqlite.database import SqliteDatabase

__all__ = ["SqliteOAuthKeys"]

_INSERT = OAUTH_KEY_INSERT
_SELECT_ACTIVE = OAUTH_KEYS_ACTIVE
_RETIRE = OAUTH_KEY_RETIRE


class SqliteOAuthKeys:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def add(self, record: OAuthKeyRecord) -> None:
        with self._db.write() as connection:
            connection.execute(_INSERT, OAUTH_KEYS.encode(record))

    async def active(self, use: str) -> list[OAuthKeyRecord]:
        return [OAUTH_KEYS.decode(row) for row in self._db.read(_SELECT_ACTIVE, (use,))]

    async def retire(self, kid: str, at: dt.datetime) -> bool:
        with self._db.write() as connection:
            return connection.execute(_RETIRE, (encode_timestamp(at), kid)).rowcount > 0
