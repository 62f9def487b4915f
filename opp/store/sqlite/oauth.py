"""SQLite implementation of the development authorization server's key store (``oauth_keys``)."""

from __future__ import annotations

import datetime as dt

from opp.store.codec import RecordCodec, encode_timestamp
from opp.store.records import OAuthKeyRecord
from opp.store.sqlite.database import SqliteDatabase

__all__ = ["SqliteOAuthKeys"]

OAUTH_KEYS = RecordCodec(OAuthKeyRecord)

_INSERT = (
    f"INSERT INTO oauth_keys ({OAUTH_KEYS.column_list}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in OAUTH_KEYS.columns)}) ON CONFLICT (kid) DO NOTHING"
)
_SELECT_ACTIVE = (
    f"SELECT {OAUTH_KEYS.column_list} FROM oauth_keys "  # noqa: S608
    "WHERE use = ? AND retired_at IS NULL ORDER BY created_at, kid"
)
_RETIRE = "UPDATE oauth_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL"


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
