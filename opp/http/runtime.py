"""Live state of one serving process: the Plan plus the store, audit writer and engines.

Built by the app factory, opened in the ASGI lifespan (each worker process opens its own store
connection and backend clients) and closed on shutdown, flushing the audit queue.
"""

from __future__ import annotations

from opp.admin.auth import AdminAuthenticator
from opp.audit.writer import AuditWriter
from opp.auth.keys import KeyAuthenticator
from opp.clock import Clock, IdFactory, SystemClock
from opp.compile.plan import Plan
from opp.engine.authorizer import Authorizer
from opp.engine.gateway import AgentEngine
from opp.integrations.service import IntegrationService
from opp.store.factory import open_store
from opp.store.protocols import Store
from opp.writes.actions import WriteEngine
from opp.writes.approvals import ApprovalService
from opp.writes.maintenance import Maintenance

__all__ = ["Runtime"]


class Runtime:
    def __init__(
        self,
        plan: Plan,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        ids: IdFactory | None = None,
    ) -> None:
        self.plan = plan
        self.clock: Clock = clock or SystemClock()
        self.ids = ids or IdFactory()
        self.store: Store = store or open_store(plan.config.store.kind, plan.store_path)
        self.audit = AuditWriter(
            self.store, enabled=plan.config.audit.enabled, flush_interval=plan.audit_flush_interval_s
        )
        authenticator = KeyAuthenticator(self.store, self.clock)
        self.authorizer = Authorizer(plan, authenticator, self.audit, self.clock, self.ids)
        self.engine = AgentEngine(self.authorizer)
        self.writes = WriteEngine(self.authorizer, self.store)
        self.approvals = ApprovalService(self.authorizer, self.store)
        self.maintenance = Maintenance(self.approvals, self.store)
        self.integrations = IntegrationService(plan, self.store, self.clock, self.ids)
        self.admin_auth = AdminAuthenticator(plan, self.store)
        self._started = False

    async def start(self) -> None:
        if self._started:
            return
        await self.store.open()
        await self.integrations.sync_declared(self.plan.declared_apps)
        for backend in self.plan.runtimes.values():
            await backend.start()
        await self.audit.start()
        self.maintenance.start()
        self._started = True

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.maintenance.stop()
        await self.audit.close()
        for backend in self.plan.runtimes.values():
            await backend.close()
        await self.store.close()
