"""The OAuth components of one serving process, built from the Plan and opened with it."""

from __future__ import annotations

from typing import Any

import httpx

from opp.clock import Clock, IdFactory
from opp.oauth.access_tokens import AccessTokenValidator
from opp.oauth.claims import ClaimMapper
from opp.oauth.dev_server import DevAuthorizationServer
from opp.oauth.dpop import DpopVerifier
from opp.oauth.nonces import NonceSource
from opp.oauth.plan import OAuthPlan
from opp.oauth.replay import ReplayCache
from opp.oauth.signing_keys import OAuthKeyRing
from opp.store.protocols import Store

__all__ = ["OAuthServices"]


class OAuthServices:
    """Token validation, DPoP verification, claim mapping and (in development) the token endpoint.

    :meth:`start` reads the shared secrets from the store (the nonce key, the dev server's signing
    key), so every worker and replica verifies and issues alike.
    """

    def __init__(self, plan: OAuthPlan, store: Store, clock: Clock, ids: IdFactory) -> None:
        self.plan = plan
        self._store = store
        self._clock = clock
        self._ids = ids
        self.keys: OAuthKeyRing | None = None
        """The store-kept secrets (dev server signing keys, nonce key), when either is used."""
        if plan.dev_server.enabled or plan.dpop.nonce:
            self.keys = OAuthKeyRing(store, clock, ids)
        self.mapper = ClaimMapper(plan)
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0), follow_redirects=False)
        self.tokens = AccessTokenValidator(plan, clock, http=self._http, local_jwks=self._local_jwks)
        self._replay = ReplayCache(plan.dpop.replay_storage_uri, redis=plan.dpop.replay_redis)
        self.dpop = DpopVerifier(plan.dpop, clock, self._replay, None)
        self.dev_server: DevAuthorizationServer | None = None

    async def _local_jwks(self) -> dict[str, Any]:
        assert self.keys is not None, "the development server's keys are read only when it is enabled"
        return await self.keys.public_jwks()

    async def start(self) -> None:
        if self.plan.dpop.nonce:
            assert self.keys is not None
            nonces = NonceSource(await self.keys.nonce_secret(), self.plan.dpop.nonce_lifetime_s, self._clock)
            self.dpop = DpopVerifier(self.plan.dpop, self._clock, self._replay, nonces)
        if self.plan.dev_server.enabled:
            assert self.keys is not None
            await self.keys.signing_key()
            self.dev_server = DevAuthorizationServer(
                self.plan, self._store, self.keys, self.dpop, self._clock, self._ids
            )

    async def close(self) -> None:
        await self.tokens.close()
        await self._http.aclose()
        self._replay.close()
