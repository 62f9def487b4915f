"""One admin-plane call: authenticate, check the role, and audit the outcome whatever it is.

Used as ``async with AdminCall(runtime, request, "agent_app.create", roles) as call:``. Success,
denial (401/403/400/404) and failure (5xx) each emit exactly one ``agent_app.*`` / ``agent_key.*``
/ ``agent_admin.*`` event, flushed before the response leaves so the change and its record are
both durable when the client sees the answer.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from litestar import Request, Response

from opp.admin.auth import AdminIdentity
from opp.audit.events import outcome, request_event
from opp.engine.request import IncomingRequest
from opp.errors import OppError
from opp.http.envelope import success_response
from opp.http.incoming import incoming
from opp.http.runtime import Runtime
from opp.store.records import AuditEvent

__all__ = ["AdminCall"]


class AdminCall:
    def __init__(
        self,
        runtime: Runtime,
        request: Request[Any, Any, Any],
        action: str,
        *roles: str,
        identity: AdminIdentity | None = None,
    ) -> None:
        """``identity``: already authenticated (a console session); the roles are still checked."""
        self._runtime = runtime
        self._request = request
        self._action = action
        self._roles = roles
        self._info = incoming(request.scope, runtime.clock, runtime.ids)
        self.identity: AdminIdentity | None = identity
        self.app_id: str | None = None
        self.key_id: str | None = None
        self.details: dict[str, Any] = {}
        self.recorded = False

    async def __aenter__(self) -> AdminCall:
        try:
            if self.identity is None:
                self.identity = await self._runtime.admin_auth.authenticate(self._info)
            self.identity.require(*self._roles)
        except OppError as error:
            await self.__aexit__(type(error), error, None)
            raise
        return self

    @property
    def info(self) -> IncomingRequest:
        """The request as the engine sees it (request id, peer, user agent)."""
        return self._info

    @property
    def name(self) -> str:
        assert self.identity is not None
        return self.identity.name

    def ok(self, data: Any) -> Response[bytes]:
        return success_response(data, {"X-Request-Id": self._info.request_id})

    def event(self, error: BaseException | None = None) -> AuditEvent:
        """This call's event; a handler that commits it with its state change sets ``recorded``."""
        status, code = outcome(error)
        runtime = self._runtime
        return request_event(
            runtime.ids,
            runtime.clock,
            self._info,
            action=self._action,
            status=status,
            code=code,
            app_id=self.app_id,
            key_id=self.key_id,
            performed_by_user_id=self.identity.name if self.identity else None,
            principal={"kind": self.identity.kind, "name": self.identity.name} if self.identity else None,
            details=self.details,
        )

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if error is not None and not isinstance(error, Exception):
            return  # cancellation or exit: no decision was made
        if error is None and self.recorded:
            return  # committed by the handler together with the change it describes
        self._runtime.audit.emit(self.event(error))
        await self._runtime.audit.flush()
