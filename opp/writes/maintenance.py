"""Periodic upkeep of the write lifecycle, run by every worker (each step is idempotent and
compare-and-set, so several workers doing it at once is harmless): expire pending drafts past
their TTL (audited ``agent.draft.expire``) and purge expired preflights and idempotency keys
(``writes.idempotency_retention``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from opp.engine.request import IncomingRequest
from opp.store.protocols import Store
from opp.writes.approvals import ApprovalService

__all__ = ["Maintenance"]

_log = logging.getLogger("opp.writes")


class Maintenance:
    def __init__(self, approvals: ApprovalService, store: Store, interval_s: float = 30.0) -> None:
        self._approvals = approvals
        self._store = store
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None

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

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except Exception:
                _log.exception("write-lifecycle maintenance failed; retrying next interval")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="opp-writes-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
