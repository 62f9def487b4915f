"""OAuth routes: RFC 9728 resource metadata and the development authorization server.

- ``GET /.well-known/oauth-protected-resource`` when ``oauth.enabled`` (else no route: 404).
- With ``oauth.dev_server.enabled`` (NOT FOR PRODUCTION): ``GET /.well-known/oauth-authorization-server``
  (RFC 8414), ``GET /oauth/jwks`` and ``POST /oauth/token`` (``client_credentials``).

Metadata and JWKS are standard documents, sent as plain JSON (not OPP envelopes). A token
response is both at once: ``{"ok": true, "code": "common.success", "data": {…}}`` plus the
RFC 6749 §5.1 members at the top level; a refusal is ``{"ok": false, "code", "message"}`` plus
``error`` / ``error_description`` (RFC 6749 §5.2). Every token request is audited as
``oauth.token`` with the client id and DPoP key thumbprint — never the token, secret or proof.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl

import msgspec
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from opp.audit.events import outcome, request_event
from opp.audit.writer import AuditWriter
from opp.clock import Clock, IdFactory
from opp.codes import ReasonCode
from opp.engine.request import IncomingRequest
from opp.errors import OppError
from opp.http.bodies import read_body
from opp.http.envelope import JSON
from opp.http.incoming import incoming
from opp.oauth.dev_server import DevAuthorizationServer, IssuedToken, OAuthError
from opp.oauth.metadata import authorization_server_metadata, protected_resource_metadata
from opp.oauth.plan import JWKS_PATH, METADATA_PATH, PRM_PATH, TOKEN_PATH
from opp.oauth.services import OAuthServices

__all__ = ["FORM", "TOKEN_ACTION", "OAuthHost", "oauth_handlers"]

FORM = "application/x-www-form-urlencoded"
TOKEN_ACTION = "oauth.token"  # noqa: S105 - an audit action name
_DOCUMENT_CACHE = {"Cache-Control": "max-age=300"}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_encode = msgspec.json.Encoder().encode
Req = Request[Any, Any, Any]


class OAuthHost(Protocol):
    """What the routes need of the serving :class:`~opp.http.runtime.Runtime`."""

    @property
    def oauth(self) -> OAuthServices | None:
        """None when ``oauth.enabled`` is off."""
        ...

    @property
    def audit(self) -> AuditWriter: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def ids(self) -> IdFactory: ...


def _document(body: Mapping[str, Any]) -> Response[bytes]:
    return Response(_encode(body), status_code=200, media_type=JSON, headers=_DOCUMENT_CACHE)


async def _form(request: Req) -> dict[str, str]:
    """The token request's form parameters: form-urlencoded UTF-8, each parameter at most once."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != FORM:
        raise OAuthError("invalid_request", f"Send the token request as {FORM}.")
    body = await read_body(request)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "Malformed form body.") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise OAuthError("invalid_request", "Request parameters must not be repeated.")
    return form


def _token_response(issued: IssuedToken, request_id: str) -> Response[bytes]:
    body = {"ok": True, "code": ReasonCode.SUCCESS.value, "data": issued.response, **issued.response}
    headers = {**_NO_STORE, **issued.headers, "X-Request-Id": request_id}
    return Response(_encode(body), status_code=200, media_type=JSON, headers=headers)


def _refusal_response(refused: OAuthError, request_id: str) -> Response[bytes]:
    body = {
        "ok": False,
        "code": refused.code.value,
        "message": refused.description,
        "error": refused.error,
        "error_description": refused.description,
    }
    headers = {**_NO_STORE, **refused.headers, "X-Request-Id": request_id}
    return Response(_encode(body), status_code=refused.status, media_type=JSON, headers=headers)


class _TokenAudit:
    """Records one token request's outcome as an ``oauth.token`` event, flushed before answering."""

    def __init__(self, host: OAuthHost, info: IncomingRequest) -> None:
        self._host = host
        self._info = info

    async def record(
        self,
        status: str,
        code: str,
        *,
        client_id: str | None = None,
        key_id: str | None = None,
        jkt: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        host = self._host
        event = request_event(
            host.ids,
            host.clock,
            self._info,
            action=TOKEN_ACTION,
            status=status,
            code=code,
            app_id=client_id,
            key_id=key_id,
            principal={"kind": "oauth_client", "client_id": client_id, "jkt": jkt},
            details=details or {},
        )
        host.audit.emit(event)
        await host.audit.flush()

    async def issued(self, token: IssuedToken) -> None:
        details = {
            "token_type": token.response["token_type"],
            "scope": token.response["scope"],
            "jti": token.jti,
        }
        await self.record(
            "success",
            ReasonCode.SUCCESS.value,
            client_id=token.client_id,
            key_id=token.key_id,
            jkt=token.jkt,
            details=details,
        )

    async def refused(self, refused: OAuthError) -> None:
        await self.record(
            "denied",
            refused.code.value,
            client_id=refused.client_id,
            key_id=refused.key_id,
            details={"error": refused.error},
        )

    async def failed(self, error: Exception) -> None:
        status, code = outcome(error)
        await self.record(status, code)


def _dev_server(services: OAuthServices) -> DevAuthorizationServer:
    server = services.dev_server
    if server is None:
        raise OppError(ReasonCode.UNAVAILABLE, "The development authorization server is not ready.")
    return server


def oauth_handlers(host: OAuthHost) -> list[HTTPRouteHandler]:
    """The OAuth routes ``host.oauth.plan`` enables (none when OAuth is off)."""
    services = host.oauth
    if services is None or not services.plan.enabled:
        return []
    plan = services.plan

    @get(PRM_PATH, include_in_schema=False)
    async def resource_metadata() -> Response[bytes]:
        return _document(protected_resource_metadata(plan))

    if not plan.dev_server.enabled:
        return [resource_metadata]

    @get(METADATA_PATH, include_in_schema=False)
    async def server_metadata() -> Response[bytes]:
        return _document(authorization_server_metadata(plan))

    @get(JWKS_PATH, include_in_schema=False)
    async def jwks() -> Response[bytes]:
        keys = services.keys
        if keys is None:
            raise OppError(ReasonCode.UNAVAILABLE, "The development authorization server is not ready.")
        return _document(await keys.public_jwks())

    @post(TOKEN_PATH, include_in_schema=False)
    async def token(request: Req) -> Response[bytes]:
        info = incoming(request.scope, host.clock, host.ids)
        audit = _TokenAudit(host, info)
        try:
            issued = await _dev_server(services).issue(await _form(request), info.authorization, info.dpop)
        except OAuthError as refused:
            await audit.refused(refused)
            return _refusal_response(refused, info.request_id)
        except Exception as error:
            await audit.failed(error)
            raise
        await audit.issued(issued)
        return _token_response(issued, info.request_id)

    return [resource_metadata, server_metadata, jwks, token]
