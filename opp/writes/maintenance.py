"""Periodic upkeep of the write lifecycle, run by every worker (each step is idempotent and
compare-and-set, so several workers doing it at once is harmless): expire pending drafts past
their TTL (audited ``agent.draft.expire``) and purge expired preflights and idempotency keys
(``writes.idempotency_retention``)."""

from __future__ import annotations

import logging

from opp.engine.request import IncomingRequest
from opp.periodic import Periodic
from opp.store.protocols import Store
from opp.writes.approvals import ApprovalService

__all__ = ["Maintenance"]

_log = logging.getLogger("opp.writes")


class Maintenance:
    def __init__(self, approvals: ApprovalService, store: Store, interval_s: float = 30.0) -> None:
        self._approvals = approvals
        self._store = store
        self._periodic = Periodic("opp-writes-maintenance", self.run_once, interval_s, _log)

    async def run_once(self) -> None:
        clock = self._approvals.clock
        request = IncomingRequest(
            request_id="opp-maintenance",
            method="-",
            path="-",
            peer=None,
            authorization=[],
            forwarded_for=[],
            user_agent="opp-maintenance",
            received_at=clock.now(),
        )
        expired = await self._approvals.expire_due(request)
        purged = await self._store.writes.purge(clock.now())
        if expired or purged:
            _log.info("maintenance: %d drafts expired, %d expired records purged", len(expired), purged)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
