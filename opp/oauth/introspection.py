"""RFC 7662 token introspection of opaque access tokens: the HTTP exchange with one issuer.

``POST`` ``token=…&token_type_hint=access_token`` with HTTP Basic client authentication to the
configured endpoint, or to the ``introspection_endpoint`` of the issuer's metadata. Only an answer
whose ``active`` is the JSON ``true`` counts as active. The claims of an active answer are checked
by :mod:`opp.oauth.access_tokens` (issuer, audience, expiry, binding), which also caches them.

Failures (unreachable, timeout, non-200, oversized or non-JSON body, no endpoint) fail closed:
503 ``agent.unavailable``. The token itself never appears in a message or a log line.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.oauth.jwks import FetchError, IssuerMetadataCache, basic_auth, fetch_json
from opp.oauth.plan import IntrospectionPlan

__all__ = ["Introspector"]

_log = logging.getLogger("opp.oauth")


class Introspector:
    """Asks one issuer whether a token is active."""

    def __init__(
        self,
        issuer: str,
        settings: IntrospectionPlan,
        http: httpx.AsyncClient,
        metadata: IssuerMetadataCache | None = None,
    ) -> None:
        """``metadata`` is required when ``settings.endpoint`` is None (the endpoint is discovered)."""
        if settings.endpoint is None and metadata is None:
            raise ValueError(f"introspection for {issuer} needs an endpoint or metadata discovery")
        self.issuer = issuer
        self._settings = settings
        self._http = http
        self._metadata = metadata
        self._authorization = basic_auth(settings.client_id, settings.client_secret)

    async def introspect(self, token: str) -> dict[str, Any] | None:
        """The members of an active answer, or None when the token is not active.

        Raises:
            OppError: 503 ``agent.unavailable`` when no answer could be obtained.
        """
        try:
            endpoint = await self._endpoint()
            answer = await fetch_json(
                self._http,
                endpoint,
                form={"token": token, "token_type_hint": "access_token"},
                authorization=self._authorization,
            )
        except FetchError as exc:
            _log.warning("token introspection at %s failed: %s", self.issuer, exc)
            raise OppError(ReasonCode.UNAVAILABLE, "Token introspection is unavailable.") from None
        if not isinstance(answer, dict):
            _log.warning("token introspection at %s answered a non-object", self.issuer)
            raise OppError(ReasonCode.UNAVAILABLE, "Token introspection is unavailable.")
        return answer if answer.get("active") is True else None

    async def _endpoint(self) -> str:
        if self._settings.endpoint is not None:
            return self._settings.endpoint
        assert self._metadata is not None  # checked in __init__
        endpoint = (await self._metadata.get()).introspection_endpoint
        if endpoint is None:
            raise FetchError("the issuer's metadata has no introspection_endpoint")
        return endpoint
