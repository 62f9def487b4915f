"""Live state of one serving process: the Plan plus the store, audit writer and engines.

Built by the app factory, opened in the ASGI lifespan (each worker process opens its own store
connection and backend clients) and closed on shutdown, flushing the audit queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from opp.admin.auth import AdminAuthenticator
from opp.admission import Admission
from opp.audit.jsonl_sink import open_jsonl_sink
from opp.audit.writer import AuditWriter
from opp.auth.keys import KeyAuthenticator
from opp.clock import Clock, IdFactory, SystemClock
from opp.compile.plan import Plan
from opp.console.settings import ConsoleSettings
from opp.console.upkeep import ConsoleUpkeep
from opp.engine.authorizer import Authorizer
from opp.engine.gateway import AgentEngine
from opp.integrations.service import IntegrationService
from opp.oauth.authenticator import AgentAuthenticator
from opp.oauth.services import OAuthServices
from opp.store.factory import open_configured_store
from opp.store.protocols import Store
from opp.writes.actions import WriteEngine
from opp.writes.approvals import ApprovalService
from opp.writes.maintenance import Maintenance

if TYPE_CHECKING:
    from opp.http.reload import SwappableApp

__all__ = ["Runtime"]


class Runtime:
    def __init__(
        self,
        plan: Plan,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        ids: IdFactory | None = None,
        audit: AuditWriter | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.plan = plan
        self.clock: Clock = clock or SystemClock()
        self.ids = ids or IdFactory()
        self.store: Store = store or open_configured_store(plan.store, self.clock)
        self.audit = audit or AuditWriter(
            self.store,
            enabled=plan.config.audit.enabled,
            flush_interval=plan.audit_flush_interval_s,
            sink=open_jsonl_sink(plan.config.audit.jsonl_path, plan.base_dir, self.store.audit),
        )
        self.oauth = (
            OAuthServices(plan.oauth, self.store, self.clock, self.ids) if plan.oauth.enabled else None
        )
        """OAuth token validation, DPoP and the dev server (None: opaque keys only)."""
        authenticator = AgentAuthenticator(
            KeyAuthenticator(self.store, self.clock), self.oauth, self.store, plan.oauth
        )
        self.authorizer = Authorizer(plan, authenticator, self.audit, self.clock, self.ids, admission)
        self.engine = AgentEngine(self.authorizer)
        self.writes = WriteEngine(self.authorizer, self.store)
        self.approvals = ApprovalService(self.authorizer, self.store)
        self.maintenance = Maintenance(self.approvals, self.store)
        self.console_upkeep = ConsoleUpkeep(self.store, self.clock, ConsoleSettings.of(plan))
        """Webhook notifications and purging of expired console sessions."""
        self.integrations = IntegrationService(plan, self.store, self.clock, self.ids)
        self.admin_auth = AdminAuthenticator(plan, self.store, self.oauth)
        self.on_deactivate: list[Callable[[], Awaitable[None]]] = []
        """Stops for what the app built on this runtime started lazily (the MCP transport)."""
        self.reloader: SwappableApp | None = None
        """The live-reload wrapper serving this runtime, when there is one (``opp serve``)."""
        self._started = False
        self._active = False

    async def start(self) -> None:
        if self._started:
            return
        await self.store.open()
        await self.activate()
        await self.audit.start()
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.deactivate()
        await self.audit.close()
        await self.authorizer.admission.close()
        await self.store.close()

    async def activate(self) -> None:
        """Start what belongs to this Plan: declared apps synced, backends started, upkeep running."""
        if self._active:
            return
        self._active = True
        await self.integrations.sync_declared(self.plan.declared_apps)
        if self.oauth is not None:
            await self.oauth.start()
        for backend in self.plan.runtimes.values():
            await backend.start()
        self.maintenance.start()
        self.console_upkeep.start()

    async def deactivate(self) -> None:
        """Stop what belongs to this Plan (its backends, its upkeep); the store stays open."""
        if not self._active:
            return
        self._active = False
        for stop in self.on_deactivate:
            await stop()
        await self.maintenance.stop()
        await self.console_upkeep.stop()
        for backend in self.plan.runtimes.values():
            await backend.close()
        if self.oauth is not None:
            await self.oauth.close()

    def successor(self, plan: Plan) -> Runtime:
        """A runtime for a reloaded ``plan`` sharing this one's store, audit writer, clock and ids.

        Rate-limit counters carry over when ``rate_limits`` did not change. The successor is only
        :meth:`activate`-d and :meth:`deactivate`-d; the first runtime opens and closes what they share.
        """
        same_limits = plan.rate_limits == self.plan.rate_limits
        return Runtime(
            plan,
            store=self.store,
            clock=self.clock,
            ids=self.ids,
            audit=self.audit,
            admission=self.authorizer.admission if same_limits else None,
        )
