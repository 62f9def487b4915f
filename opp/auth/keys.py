"""Opaque agent-key authentication (SPEC §4 steps 1-3, §5.1)."""

from __future__ import annotations

import hmac

from opp.auth.principal import Principal
from opp.auth.tokens import hash_token
from opp.clock import Clock
from opp.codes import ReasonCode
from opp.errors import OppError
from opp.store.protocols import Store

__all__ = ["KeyAuthenticator"]


class KeyAuthenticator:
    """Turns an ``Authorization`` header into a :class:`Principal`, failing closed.

    Every request reads the key and its app from the store (one indexed query), so a revocation
    is effective on the very next request on every worker and replica: nothing is cached.
    """

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def authenticate_token(self, token: str) -> Principal:
        """The principal of a well-formed opaque agent key (``op_…``)."""
        digest = hash_token(token)
        found = await self._store.keys.find_by_hash(digest)
        # The lookup is by hash; compare again in constant time so equality is never short-circuited.
        if found is None or not hmac.compare_digest(found[0].token_hash, digest):
            raise OppError(ReasonCode.TOKEN_INVALID, "Unknown credential.")
        key, app = found
        ids = {"app_id": app.id, "key_id": key.id}
        if key.revoked_at is not None:
            raise OppError(ReasonCode.TOKEN_INVALID, "Credential revoked.", audit=ids)
        if key.expires_at is not None and key.expires_at <= self._clock.now():
            raise OppError(ReasonCode.TOKEN_EXPIRED, "Credential expired.", audit=ids)
        if app.status != "active":
            raise OppError(ReasonCode.TOKEN_INVALID, "App revoked.", audit=ids)
        try:
            return Principal.of_app(app, key)
        except OppError as exc:
            exc.audit.update(ids)
            raise
