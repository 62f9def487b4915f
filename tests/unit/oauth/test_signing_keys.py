"""The development server's store-kept keys: creation, convergence, JWKS, rotation, nonce secret."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from joserfc.errors import BadSignatureError, InvalidKeyIdError
from joserfc.jwk import ECKey

from opp.clock import FrozenClock, IdFactory
from opp.oauth.signing_keys import INITIAL_KIDS, NONCE_SECRET_BYTES, REFRESH_S, OAuthKeyRing
from opp.store.memory import MemoryStore
from opp.store.sqlite import SqliteStore

from .dev_fixtures import NOW, decode_token

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


def ring(store: MemoryStore | SqliteStore, clock: FrozenClock | None = None) -> OAuthKeyRing:
    return OAuthKeyRing(store, clock or FrozenClock(NOW), IdFactory())


async def test_first_signing_key_is_created_once_as_es256() -> None:
    store = MemoryStore()
    keys = ring(store)
    first = await keys.signing_key()
    assert (first.kid, first.use, first.alg) == (INITIAL_KIDS["sig"], "sig", "ES256")
    assert first.secret_jwk["crv"] == "P-256"
    assert await keys.signing_key() == first
    assert await store.oauth_keys.active("sig") == [first]


async def test_racing_rings_on_one_store_converge_on_one_key() -> None:
    store = MemoryStore()
    rings = [ring(store) for _ in range(5)]
    found = await asyncio.gather(*(r.signing_key() for r in rings))
    assert len({record.kid for record in found}) == 1
    assert len(await store.oauth_keys.active("sig")) == 1


async def test_workers_on_one_sqlite_file_converge_on_one_key_and_nonce(tmp_path: Path) -> None:
    path = str(tmp_path / "opp.db")
    stores = [SqliteStore(path) for _ in range(3)]
    for store in stores:
        await store.open()
    try:
        rings = [ring(store) for store in stores]
        signing = await asyncio.gather(*(r.signing_key() for r in rings))
        nonces = await asyncio.gather(*(r.nonce_secret() for r in rings))
        assert len({record.kid for record in signing}) == 1
        assert len({record.secret_jwk["d"] for record in signing}) == 1
        assert len(set(nonces)) == 1
        assert len(await stores[0].oauth_keys.active("sig")) == 1
    finally:
        for store in stores:
            await store.close()


async def test_public_jwks_publishes_public_halves_only() -> None:
    keys = ring(MemoryStore())
    record = await keys.signing_key()
    [published] = (await keys.public_jwks())["keys"]
    assert not PRIVATE_MEMBERS & published.keys()
    assert published["kid"] == record.kid
    assert (published["alg"], published["use"], published["kty"], published["crv"]) == (
        "ES256",
        "sig",
        "EC",
        "P-256",
    )
    public = ECKey.import_key(published)
    assert public.thumbprint() == ECKey.import_key(record.secret_jwk).thumbprint()


async def test_sign_produces_a_jws_verifiable_with_the_published_keys() -> None:
    keys = ring(MemoryStore())
    token = await keys.sign({"sub": "app_1", "n": 1}, typ="at+jwt")
    header, claims = decode_token(token, await keys.public_jwks())
    assert header == {"typ": "at+jwt", "alg": "ES256", "kid": INITIAL_KIDS["sig"]}
    assert claims == {"sub": "app_1", "n": 1}


async def test_a_token_does_not_verify_with_another_servers_keys() -> None:
    token = await ring(MemoryStore()).sign({"sub": "x"}, typ="at+jwt")
    other = ring(MemoryStore())
    with pytest.raises(BadSignatureError):
        decode_token(token, await other.public_jwks())


async def test_rotation_publishes_the_new_key_before_it_signs() -> None:
    keys = ring(MemoryStore())
    old = await keys.signing_key()
    new_kid = await keys.rotate()
    assert new_kid != old.kid
    assert [k["kid"] for k in (await keys.public_jwks())["keys"]] == [old.kid, new_kid]
    assert (await keys.signing_key()).kid == old.kid
    old_token = await keys.sign({"sub": "before"}, typ="at+jwt")

    assert await keys.retire(old.kid) is True
    assert (await keys.signing_key()).kid == new_kid
    assert [k["kid"] for k in (await keys.public_jwks())["keys"]] == [new_kid]
    header, _ = decode_token(await keys.sign({"sub": "after"}, typ="at+jwt"), await keys.public_jwks())
    assert header["kid"] == new_kid
    with pytest.raises(InvalidKeyIdError):  # the retired key is no longer published: its tokens fail
        decode_token(old_token, await keys.public_jwks())
    assert await keys.retire(old.kid) is False


async def test_other_workers_see_a_rotation_after_the_refresh_interval() -> None:
    store = MemoryStore()
    clock = FrozenClock(NOW)
    worker, operator = ring(store, clock), ring(store, clock)
    old = await worker.signing_key()
    new_kid = await operator.rotate()
    await operator.retire(old.kid)

    assert (await worker.signing_key()).kid == old.kid  # cached
    clock.advance(dt.timedelta(seconds=REFRESH_S))
    assert (await worker.signing_key()).kid == new_kid
    assert [k["kid"] for k in (await worker.public_jwks())["keys"]] == [new_kid]


async def test_retiring_every_key_creates_a_fresh_one_with_a_new_kid() -> None:
    keys = ring(MemoryStore())
    first = await keys.signing_key()
    await keys.retire(first.kid)  # the fixed first kid is now taken by a retired row
    replacement = await keys.signing_key()
    assert replacement.kid not in (first.kid, INITIAL_KIDS["sig"])
    assert replacement.secret_jwk["d"] != first.secret_jwk["d"]


async def test_nonce_secret_is_32_bytes_shared_and_separate_from_signing_keys() -> None:
    store = MemoryStore()
    first, second = ring(store), ring(store)
    secret = await first.nonce_secret()
    assert len(secret) == NONCE_SECRET_BYTES
    assert await second.nonce_secret() == secret
    assert await first.nonce_secret() == secret
    [record] = await store.oauth_keys.active("nonce")
    assert (record.kid, record.use) == (INITIAL_KIDS["nonce"], "nonce")
    assert await store.oauth_keys.active("sig") == []
    assert all(k["kid"] != record.kid for k in (await first.public_jwks())["keys"])


async def test_a_fresh_store_gives_a_different_nonce_secret() -> None:
    assert await ring(MemoryStore()).nonce_secret() != await ring(MemoryStore()).nonce_secret()
