"""Background work of the console in every worker: notifications and purging old sessions.

Each tick (every second while webhooks are configured) it

1. enqueues ``draft.created`` for pending drafts and ``draft.expiring`` for those within
   ``console.expiring_soon`` of their expiry (the newest 200 pending drafts);
2. reads the audit chain since its cursor and enqueues ``draft.decided`` for every draft that was
   rejected, withdrawn, expired or executed (the cursor starts at the chain's head when the worker
   starts);
3. sends due deliveries.

Delivery ids are ``hook:event:draft``, so several workers (or replicas) scanning at once enqueue each
notification once; a worker claims a delivery by compare-and-set on its attempt count, so one
attempt is made by one worker. Expired sessions and sign-in grants are purged every minute.
"""

from __future__ import annotations

import datetime as dt
import logging

import httpx

from opp.clock import Clock
from opp.console.settings import ConsoleSettings, WebhookTarget
from opp.console.webhooks import backoff_s, build_delivery, delivery_id_of, signed_headers
from opp.periodic import Periodic
from opp.store.console_records import WebhookDeliveryRecord
from opp.store.protocols import Store
from opp.store.records import AuditQuery
from opp.store.write_records import DraftQuery, DraftRecord

__all__ = ["ConsoleUpkeep"]

_log = logging.getLogger("opp.console")

_DECIDING_ACTIONS = frozenset(
    {"agent.draft.reject", "agent.draft.expire", "agent.draft.withdraw", "agent.action.execute"}
)
_SCAN = 200
_PURGE_EVERY_S = 60.0
_REMEMBERED = 100_000


class ConsoleUpkeep:
    def __init__(
        self, store: Store, clock: Clock, settings: ConsoleSettings, interval_s: float = 1.0
    ) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._targets = [t for t in settings.webhooks if t.secret is not None]
        self._cursor: int | None = None
        self._enqueued: set[str] = set()
        """Delivery ids this worker enqueued already (skips a write per pending draft per tick)."""
        self._last_purge: dt.datetime | None = None
        self._http: httpx.AsyncClient | None = None
        every = interval_s if self._targets else _PURGE_EVERY_S
        self._periodic = Periodic("opp-console-upkeep", self.run_once, every, _log, run_first=True)

    def _targets_for(self, event: str) -> list[WebhookTarget]:
        return [t for t in self._targets if event in t.config.events]

    async def _enqueue(self, event: str, drafts: list[DraftRecord]) -> None:
        now = self._clock.now()
        records = [
            build_delivery(target, event, draft, self._settings, now)
            for draft in drafts
            for target in self._targets_for(event)
            if delivery_id_of(target.config.name, event, draft.id) not in self._enqueued
        ]
        if records:
            await self._store.console.enqueue_deliveries(records)
            if len(self._enqueued) > _REMEMBERED:
                self._enqueued.clear()  # only an optimisation: the store ignores known ids
            self._enqueued.update(record.id for record in records)

    async def scan(self) -> None:
        now = self._clock.now()
        pending = await self._store.writes.list_drafts(DraftQuery(status="draft", limit=_SCAN))
        pending = [d for d in pending if d.expires_at > now]
        await self._enqueue("draft.created", pending)
        soon = now + dt.timedelta(seconds=self._settings.expiring_soon_s)
        await self._enqueue("draft.expiring", [d for d in pending if d.expires_at <= soon])
        await self._scan_decisions()

    async def _scan_decisions(self) -> None:
        if self._cursor is None:
            newest = await self._store.audit.list(AuditQuery(limit=1))
            self._cursor = (newest[0].seq or 0) if newest else 0
            return
        events = await self._store.audit.read_chain(self._cursor, _SCAN)
        if not events:
            return
        self._cursor = events[-1].seq or self._cursor
        decided: dict[str, DraftRecord] = {}
        for event in events:
            if event.action in _DECIDING_ACTIONS and event.draft_id and event.draft_id not in decided:
                draft = await self._store.writes.get_draft(event.draft_id)
                if draft is not None and draft.status != "draft":
                    decided[draft.id] = draft
        await self._enqueue("draft.decided", list(decided.values()))

    async def deliver_due(self) -> int:
        """Attempt every due delivery once; returns how many were attempted by this worker."""
        attempted = 0
        for delivery in await self._store.console.due_deliveries(self._clock.now(), 20):
            if await self._attempt(delivery):
                attempted += 1
        return attempted

    async def _attempt(self, delivery: WebhookDeliveryRecord) -> bool:
        target = next((t for t in self._targets if t.config.name == delivery.hook), None)
        now = self._clock.now()
        attempt = delivery.attempts + 1
        if target is None or target.secret is None:
            return False
        claimed = await self._store.console.update_delivery(
            delivery.id,
            delivery.attempts,
            {"attempts": attempt, "next_attempt_at": now + dt.timedelta(seconds=backoff_s(attempt))},
        )
        if not claimed:
            return False  # another worker took this attempt
        headers = signed_headers(delivery, target.secret, int(now.timestamp()))
        status: int | None = None
        error: str | None = None
        try:
            assert self._http is not None
            response = await self._http.post(
                target.config.url, content=delivery.body.encode(), headers=headers
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        done = status is not None and 200 <= status < 300
        values: dict[str, object] = {"last_status": status, "last_error": error}
        if done:
            values |= {"status": "delivered", "delivered_at": self._clock.now()}
        elif attempt >= self._settings.webhook_max_attempts:
            values |= {"status": "failed"}
        await self._store.console.update_delivery(delivery.id, attempt, values)
        return True

    async def purge(self) -> None:
        now = self._clock.now()
        if self._last_purge is None or (now - self._last_purge).total_seconds() >= _PURGE_EVERY_S:
            self._last_purge = now
            await self._store.console.purge_console(now)

    async def run_once(self) -> None:
        await self.purge()
        if self._targets:
            await self.scan()
            await self.deliver_due()

    def open(self) -> None:
        """Open the HTTP client (``start`` does; tests drive :meth:`run_once` themselves)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._settings.webhook_timeout_s, follow_redirects=False)

    def start(self) -> None:
        if not self._periodic.running:
            self.open()
            self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
