"""What both group commits share: a caller's queued unit of work, and handing out the outcomes.

:mod:`opp.store.sqlite.group_commit` and :mod:`opp.store.postgres.group_commit` batch the writes
of concurrent requests into one transaction. Each caller awaits a future; it is resolved only
once the batch's transaction committed (or failed), and never for a caller that was cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Pending", "fail_all", "settle", "take_live"]

U = TypeVar("U", bound=Callable[..., Any])


class Pending(Generic[U]):
    """One caller's unit of work, its future, and (once run) its outcome."""

    __slots__ = ("future", "order", "outcome", "unit")

    def __init__(self, unit: U, future: asyncio.Future[Any], order: str = "") -> None:
        self.unit = unit
        self.future = future
        self.order = order
        """Units of a batch run sorted by this (the PostgreSQL batch takes its locks in one order)."""
        self.outcome: tuple[bool, Any] | None = None  # (succeeded, result or exception)


def take_live(queue: list[Pending[U]]) -> list[Pending[U]]:
    """Empty ``queue``; returns its units whose caller is still waiting."""
    batch = [pending for pending in queue if not pending.future.cancelled()]
    queue.clear()
    return batch


def fail_all(batch: list[Pending[U]], exc: BaseException) -> None:
    """Every caller of ``batch`` gets ``exc``: none of its writes was committed."""
    for pending in batch:
        pending.outcome = (False, exc)
    settle(batch)


def settle(batch: list[Pending[U]]) -> None:
    """Hand each caller its outcome (result or exception)."""
    for pending in batch:
        if pending.future.done() or pending.outcome is None:
            continue
        succeeded, value = pending.outcome
        if succeeded:
            pending.future.set_result(value)
        else:
            pending.future.set_exception(value)
