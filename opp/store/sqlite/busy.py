"""Waiting for another process's SQLite write lock without stalling the event loop for milliseconds.

SQLite's busy handler (``sqlite3.connect(timeout=…)``) sleeps 1, 2, 5, 10, 15… ms between
attempts, and the sleeping thread is the event loop's: one collision between two workers stalls
every request of the waiting worker for at least a millisecond. Connections that take a short
write lock on the request path (the DPoP replay cache, shared rate-limit counters) open with
``timeout=0`` and retry here instead: after 50 µs, doubling up to 1 ms, for at most 2 s — then the
``database is locked`` error propagates and the caller fails closed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["retry_while_locked", "retry_while_locked_async"]

T = TypeVar("T")

_FIRST_PAUSE_S = 0.00005
_MAX_PAUSE_S = 0.001
_BUDGET_S = 2.0


def retry_while_locked(work: Callable[[], T], budget_s: float = _BUDGET_S) -> T:
    """``work()``, retried while SQLite reports the database locked or busy (see the module)."""
    pause, waited = _FIRST_PAUSE_S, 0.0
    while True:
        try:
            return work()
        except sqlite3.OperationalError as error:
            if not _locked(error) or waited >= budget_s:
                raise
        time.sleep(pause)
        waited += pause
        pause = min(pause * 2, _MAX_PAUSE_S)


async def retry_while_locked_async(work: Callable[[], T], budget_s: float = _BUDGET_S) -> T:
    """:func:`retry_while_locked`, pausing with ``asyncio.sleep``: the event loop serves other
    requests meanwhile (for a batch of writes waiting for another worker's commit)."""
    loop = asyncio.get_running_loop()
    pause, deadline = _FIRST_PAUSE_S, loop.time() + budget_s
    while True:
        try:
            return work()
        except sqlite3.OperationalError as error:
            if not _locked(error) or loop.time() >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE_S)


def _locked(error: sqlite3.OperationalError) -> bool:
    message = str(error)
    return "locked" in message or "busy" in message
