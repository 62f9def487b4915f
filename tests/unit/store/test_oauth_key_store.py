"""``Store.oauth_keys`` (the development authorization server's secrets) on every backend."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest

from opp.store import SqliteStore, Store
from opp.store.records import OAuthKeyRecord
from opp.store.sqlite.oauth import OAUTH_KEYS

from .samples import T0

PARIS = dt.timezone(dt.timedelta(hours=2))


def record(kid: str, **fields: Any) -> OAuthKeyRecord:
    values: dict[str, Any] = {
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
        "secret_jwk": {"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "d": "d"},
        "created_at": T0,
    }
    values.update(fields)
    return OAuthKeyRecord(**values)


async def test_added_key_round_trips_with_utc_times(store: Store) -> None:
    key = record("k1", created_at=dt.datetime(2025, 6, 1, 14, 0, 0, 1, tzinfo=PARIS))
    await store.oauth_keys.add(key)
    [stored] = await store.oauth_keys.active("sig")
    assert stored == key
    assert stored.created_at.utcoffset() == dt.timedelta(0)
    assert stored.secret_jwk is not key.secret_jwk


async def test_adding_an_existing_kid_keeps_the_first(store: Store) -> None:
    first = record("k1")
    await store.oauth_keys.add(first)
    await store.oauth_keys.add(record("k1", alg="ES384", created_at=T0 - dt.timedelta(days=1)))
    assert await store.oauth_keys.active("sig") == [first]


async def test_active_is_oldest_first_per_use_then_by_kid(store: Store) -> None:
    newest = record("k_a", created_at=T0 + dt.timedelta(hours=2))
    oldest = record("k_z", created_at=T0)
    tie_b = record("k_tb", created_at=T0 + dt.timedelta(hours=1))
    tie_a = record("k_ta", created_at=T0 + dt.timedelta(hours=1))
    nonce = record("n1", use="nonce", alg="HS256", secret_jwk={"k": "c2VjcmV0"})
    for key in (newest, nonce, oldest, tie_b, tie_a):
        await store.oauth_keys.add(key)
    assert await store.oauth_keys.active("sig") == [oldest, tie_a, tie_b, newest]
    assert await store.oauth_keys.active("nonce") == [nonce]
    assert await store.oauth_keys.active("other") == []


async def test_retire_hides_the_key_once(store: Store) -> None:
    old, new = record("k1"), record("k2", created_at=T0 + dt.timedelta(minutes=1))
    await store.oauth_keys.add(old)
    await store.oauth_keys.add(new)
    assert await store.oauth_keys.retire("k1", T0 + dt.timedelta(days=1)) is True
    assert await store.oauth_keys.active("sig") == [new]
    assert await store.oauth_keys.retire("k1", T0 + dt.timedelta(days=2)) is False
    assert await store.oauth_keys.retire("k_missing", T0) is False


async def test_a_retired_kid_cannot_be_added_back(store: Store) -> None:
    await store.oauth_keys.add(record("k1"))
    await store.oauth_keys.retire("k1", T0)
    await store.oauth_keys.add(record("k1"))
    assert await store.oauth_keys.active("sig") == []


async def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.oauth_keys.add(record("k1", created_at=T0.replace(tzinfo=None)))
    await store.oauth_keys.add(record("k2"))
    with pytest.raises(ValueError, match="naive"):
        await store.oauth_keys.retire("k2", T0.replace(tzinfo=None))


# --- SQLite only ------------------------------------------------------------------------------


async def test_sqlite_table_matches_the_record_and_checks_use(tmp_path: Path) -> None:
    path = tmp_path / "opp.db"
    store = SqliteStore(str(path))
    await store.open()
    await store.close()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        columns = tuple(row[1] for row in connection.execute("PRAGMA table_info(oauth_keys)"))
        assert columns == OAUTH_KEYS.columns
        with pytest.raises(sqlite3.IntegrityError):
            connection.execute(
                "INSERT INTO oauth_keys VALUES ('k', 'enc', 'A', '{}', '2025-01-01T00:00:00.000000Z', NULL)"
            )
    finally:
        connection.close()


async def test_sqlite_workers_see_each_others_keys(tmp_path: Path) -> None:
    path = str(tmp_path / "opp.db")
    first, second = SqliteStore(path), SqliteStore(path)
    await first.open()
    await second.open()
    try:
        await first.oauth_keys.add(record("k1"))
        await second.oauth_keys.add(msgspec.structs.replace(record("k1"), alg="other"))
        assert [k.alg for k in await second.oauth_keys.active("sig")] == ["ES256"]
        assert await second.oauth_keys.retire("k1", T0) is True
        assert await first.oauth_keys.active("sig") == []
    finally:
        await first.close()
        await second.close()
