"""A background task that runs one step at a fixed interval until it is stopped.

Used by the write-lifecycle maintenance and the console's upkeep: a failing step is logged and tried
again at the next interval, never ends the loop; ``stop`` cancels the task and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["Periodic"]


class Periodic:
    """Runs ``step`` every ``interval_s`` seconds on the running loop, between ``start`` and ``stop``."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[None]],
        interval_s: float,
        log: logging.Logger,
        *,
        run_first: bool = False,
    ) -> None:
        """Args:
        name: The asyncio task's name, and the subject of the "failed" log line.
        step: One round of work.
        interval_s: Seconds between rounds.
        log: Where a failed round is logged (with its traceback).
        run_first: Run a round as soon as the task starts (else wait one interval first).
        """
        self._name = name
        self._step = step
        self._interval = interval_s
        self._log = log
        self._run_first = run_first
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        if not self._run_first:
            await asyncio.sleep(self._interval)
        while True:
            try:
                await self._step()
            except Exception:
                self._log.exception("%s failed; retrying next interval", self._name)
            await asyncio.sleep(self._interval)
