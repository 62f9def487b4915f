"""The development authorization server's secrets, kept in the store and shared by every worker.

Two kinds of record live in ``Store.oauth_keys``:

- ``sig``: ES256 (P-256) access-token signing keys. The **oldest** active key signs; every active
  key is published in the JWKS, so a rotation (:meth:`OAuthKeyRing.rotate` adds a key, the old one
  keeps signing until it is retired) never strands a token that is still valid.
- ``nonce``: one 32-byte secret for stateless DPoP nonces (:mod:`opp.oauth.nonces`).

Workers racing to create the first key converge on one: the first key of each kind gets a fixed
``kid``, the store ignores a second insert of the same ``kid``, and every worker re-reads what was
kept. Only when that fixed ``kid`` was retired earlier does a new key get a fresh ``kid`` (and
workers then agree on the oldest one).

Records are cached in memory after the first read; the signing keys are read again every
:data:`REFRESH_S` seconds so a rotation or retirement made by another process is seen. Private
keys never leave this module: callers get signed tokens (:meth:`OAuthKeyRing.sign`) and public
JWKs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

from opp.clock import Clock, IdFactory
from opp.oauth.jwk_keys import b64url_decode, b64url_encode
from opp.store.protocols import Store
from opp.store.records import OAuthKeyRecord, OAuthKeyUse

__all__ = ["INITIAL_KIDS", "NONCE_SECRET_BYTES", "REFRESH_S", "SIGNING_ALG", "OAuthKeyRing"]

SIGNING_ALG = "ES256"
NONCE_SECRET_BYTES = 32
REFRESH_S = 60.0
"""How long a worker trusts its cached signing keys before reading the store again."""
INITIAL_KIDS: Mapping[OAuthKeyUse, str] = {"sig": "opp-dev-1", "nonce": "opp-nonce-1"}
"""Fixed ``kid`` of the first key of each kind, so racing workers insert the same row."""
_NONCE_ALG = "HS256"
"""The nonce secret keys an HMAC-SHA256 (recorded for operators; never a JWS algorithm here)."""


def _new_signing_key(kid: str, at: dt.datetime) -> OAuthKeyRecord:
    key = ECKey.generate_key("P-256", auto_kid=False)
    return OAuthKeyRecord(
        kid=kid, use="sig", alg=SIGNING_ALG, secret_jwk=dict(key.as_dict(private=True)), created_at=at
    )


def _new_nonce_secret(kid: str, at: dt.datetime) -> OAuthKeyRecord:
    secret = b64url_encode(secrets.token_bytes(NONCE_SECRET_BYTES))
    return OAuthKeyRecord(kid=kid, use="nonce", alg=_NONCE_ALG, secret_jwk={"k": secret}, created_at=at)


def _public_jwk(record: OAuthKeyRecord) -> dict[str, Any]:
    public = dict(ECKey.import_key(record.secret_jwk).as_dict(private=False))
    return {**public, "kid": record.kid, "alg": record.alg, "use": "sig"}


class OAuthKeyRing:
    """Reads, creates, rotates and uses the development server's store-kept keys."""

    def __init__(self, store: Store, clock: Clock, ids: IdFactory) -> None:
        self._store = store
        self._clock = clock
        self._ids = ids
        self._lock = asyncio.Lock()
        self._signing: list[OAuthKeyRecord] = []
        self._signing_read_at: dt.datetime | None = None
        self._nonce: bytes | None = None
        self._imported: dict[str, ECKey] = {}

    async def signing_key(self) -> OAuthKeyRecord:
        """The oldest active signing key, created if there is none."""
        return (await self._signing_keys())[0]

    async def public_jwks(self) -> dict[str, Any]:
        """``{"keys": [...]}``: public JWKs (``kid``, ``alg``, ``use="sig"``) of every active signing key."""
        return {"keys": [_public_jwk(record) for record in await self._signing_keys()]}

    async def sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        """A compact JWS of ``claims`` by the current signing key: header ``{typ, alg: ES256, kid}``."""
        record = await self.signing_key()
        key = self._imported.get(record.kid)
        if key is None:
            key = self._imported[record.kid] = ECKey.import_key(record.secret_jwk)
        header = {"typ": typ, "alg": record.alg, "kid": record.kid}
        return jwt.encode(header, dict(claims), key, algorithms=[SIGNING_ALG])

    async def nonce_secret(self) -> bytes:
        """The DPoP nonce secret (32 bytes), created if there is none; read once per process."""
        if self._nonce is None:
            async with self._lock:
                if self._nonce is None:
                    record = (await self._oldest_or_create("nonce", _new_nonce_secret))[0]
                    self._nonce = b64url_decode(record.secret_jwk["k"])
        return self._nonce

    async def rotate(self) -> str:
        """Add a new signing key and return its ``kid``.

        The new key is published at once but signs only after every older key is retired
        (:meth:`retire`), once tokens they signed have expired.
        """
        record = _new_signing_key(self._ids.new("sig"), self._clock.now())
        await self._store.oauth_keys.add(record)
        await self._reload_signing()
        return record.kid

    async def retire(self, kid: str) -> bool:
        """Stop publishing and using a key; False if it is unknown or already retired."""
        retired = await self._store.oauth_keys.retire(kid, self._clock.now())
        await self._reload_signing()
        return retired

    async def _signing_keys(self) -> list[OAuthKeyRecord]:
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    await self._reload_signing()
        return self._signing

    def _fresh(self) -> bool:
        read_at = self._signing_read_at
        if read_at is None:
            return False
        age = (self._clock.now() - read_at).total_seconds()
        return 0 <= age < REFRESH_S

    async def _reload_signing(self) -> None:
        self._signing = await self._oldest_or_create("sig", _new_signing_key)
        self._signing_read_at = self._clock.now()
        active = {record.kid for record in self._signing}
        self._imported = {kid: key for kid, key in self._imported.items() if kid in active}

    async def _oldest_or_create(
        self, use: OAuthKeyUse, create: Callable[[str, dt.datetime], OAuthKeyRecord]
    ) -> list[OAuthKeyRecord]:
        """The active records of ``use``, oldest first; one is created (insert, re-read) if none is."""
        keys = self._store.oauth_keys
        found = await keys.active(use)
        for kid in (INITIAL_KIDS[use], self._ids.new(use)):
            if found:
                break
            await keys.add(create(kid, self._clock.now()))
            found = await keys.active(use)
        if not found:
            raise RuntimeError(f"the store kept no active {use!r} key after inserting one")
        return found
