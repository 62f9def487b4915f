"""Batched, durable audit writing.

Read-path events are queued in memory and committed to the store in one transaction at most
``flush_interval`` later (or as soon as ``batch_size`` events are waiting), together with the keys'
``last_used_at``. This keeps a governed read to one store round trip on its hot path. The queue is
flushed on shutdown. A write's own events (later issues) are committed with the state change they
describe, not through this queue.

If a flush fails, the events stay queued and are retried on the next flush; the failure is logged.

With a :class:`~opp.audit.jsonl_sink.JsonlSink`, every flush (also an empty one) then appends the
newly committed events to the JSONL file; a sink failure is logged and retried on the next flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from opp.audit.jsonl_sink import JsonlSink
from opp.store.protocols import Store
from opp.store.records import AuditEvent

__all__ = ["AuditWriter"]

_log = logging.getLogger("opp.audit")


class AuditWriter:
    def __init__(
        self,
        store: Store,
        *,
        enabled: bool = True,
        flush_interval: float = 0.05,
        batch_size: int = 500,
        sink: JsonlSink | None = None,
    ) -> None:
        self._store = store
        self._sink = sink
        self._enabled = enabled
        self._interval = flush_interval
        self._batch_size = batch_size
        self._events: list[AuditEvent] = []
        self._touched: dict[str, dt.datetime] = {}
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop serving the app (``start``): the lock and the store belong to it."""

    def emit(self, event: AuditEvent) -> None:
        """Queue an event; it is committed within ``flush_interval``."""
        if not self._enabled:
            return
        self._events.append(event)
        if len(self._events) >= self._batch_size:
            self._wake.set()

    def touch_key(self, key_id: str, at: dt.datetime) -> None:
        """Record that a key was used (written with the next batch)."""
        self._touched[key_id] = at

    @property
    def pending(self) -> int:
        return len(self._events)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="opp-audit-writer")

    async def close(self) -> None:
        # Stop the loop by flag, not by cancellation: on Python 3.11 a cancel that lands while
        # wait_for() is waking up can be lost, and close() would then wait forever.
        if self._task is not None:
            self._closing = True
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):  # already logged by flush(); never block shutdown
            await self.flush()

    async def flush(self) -> None:
        """Commit everything queued so far.

        Called from another thread's loop (a test driving the app through a blocking portal, an
        embedding application), the flush runs on the serving loop: an asyncio lock handed
        between two loops can miss its wake-up and hang.
        """
        loop = self._loop
        if loop is not None and loop.is_running() and loop is not asyncio.get_running_loop():
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._flush(), loop))
            return
        await self._flush()

    async def _flush(self) -> None:
        async with self._lock:
            events, self._events = self._events, []
            touched, self._touched = self._touched, {}
            try:
                if events:
                    await self._store.audit.append(events)
            except Exception:
                _log.exception("audit flush failed; %d events kept for retry", len(events))
                self._events[:0] = events
                self._keep_touches(touched)
                raise
            try:  # the events are stored: a failure here must not queue them a second time
                if touched:
                    await self._store.keys.touch(touched)
            except Exception:
                _log.exception("last_used_at update failed; %d keys kept for retry", len(touched))
                self._keep_touches(touched)
                raise
            if self._sink is not None:
                try:
                    await self._sink.sync()
                except Exception:
                    _log.exception("audit JSONL sink %s failed; retried on the next flush", self._sink.path)

    def _keep_touches(self, touched: dict[str, dt.datetime]) -> None:
        for key_id, at in touched.items():
            self._touched.setdefault(key_id, at)

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            with contextlib.suppress(Exception):
                await self.flush()
