"""The body deadline: one timer per body on cancellable ``receive`` futures, a timeout otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.http.limits import BodyDeadline

Message = dict[str, Any]
CHUNK: Message = {"type": "http.request", "body": b"{", "more_body": True}
LAST: Message = {"type": "http.request", "body": b"}", "more_body": False}


def future_receiver(*messages: Message, stall_after: int) -> tuple[Callable[[], Any], list[Any]]:
    """``receive`` returning futures (as granian's does); from message ``stall_after`` on it never answers."""
    loop = asyncio.get_running_loop()
    handed: list[Any] = []

    def receive() -> asyncio.Future[Message]:
        future: asyncio.Future[Message] = loop.create_future()
        if len(handed) < stall_after:
            future.set_result(messages[len(handed)])
        handed.append(future)
        return future

    return receive, handed


def coroutine_receiver(*messages: Message, stall_after: int) -> Callable[[], Any]:
    queue = list(messages)

    async def receive() -> Message:
        if len(messages) - len(queue) >= stall_after:
            await asyncio.sleep(3600)
        return queue.pop(0)

    return receive


def _is_timeout(error: OppError) -> bool:
    return error.code is ReasonCode.REQUEST_TIMEOUT and "within 0.05s" in str(error.message)


async def test_a_body_in_time_is_passed_through_and_the_timer_disarmed() -> None:
    receive, _ = future_receiver(CHUNK, LAST, stall_after=2)
    deadline = BodyDeadline(receive, 0.05)
    assert await deadline() == CHUNK
    assert deadline._timer is not None  # armed while the body is incomplete
    assert await deadline() == LAST
    assert deadline._timer is None


async def test_a_stalled_body_is_408_when_the_deadline_passes_and_its_read_is_cancelled() -> None:
    receive, handed = future_receiver(CHUNK, LAST, stall_after=1)
    deadline = BodyDeadline(receive, 0.05)
    assert await deadline() == CHUNK
    with pytest.raises(OppError) as caught:
        await deadline()
    assert _is_timeout(caught.value)
    assert handed[-1].cancelled()


@pytest.mark.parametrize("arrived", [True, False])
async def test_a_read_after_the_deadline_is_408_at_once(arrived: bool) -> None:
    receive, handed = future_receiver(CHUNK, LAST, stall_after=2 if arrived else 1)
    deadline = BodyDeadline(receive, 0.05)
    assert await deadline() == CHUNK
    await asyncio.sleep(0.08)  # the timer fires while nothing is being read
    with pytest.raises(OppError) as caught:
        await deadline()  # the message is there (or not), but too late either way
    assert _is_timeout(caught.value)
    assert handed[-1].done()  # a pending read is cancelled, not left behind
    assert handed[-1].cancelled() is not arrived


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    receive, _ = future_receiver(CHUNK, stall_after=0)
    deadline = BodyDeadline(receive, 5.0)
    reading = asyncio.ensure_future(deadline())
    await asyncio.sleep(0.01)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    deadline.close()
    assert deadline._timer is None


async def test_once_the_body_is_complete_later_reads_are_not_limited() -> None:
    disconnect: Message = {"type": "http.disconnect"}
    receive, handed = future_receiver(LAST, disconnect, stall_after=1)
    deadline = BodyDeadline(receive, 0.05)
    assert await deadline() == LAST
    waiting = asyncio.ensure_future(deadline())  # waits for the client to go away
    await asyncio.sleep(0.08)
    assert not waiting.done()
    handed[-1].set_result(disconnect)
    assert await waiting == disconnect


async def test_a_coroutine_receive_gets_a_timeout_of_its_own() -> None:
    deadline = BodyDeadline(coroutine_receiver(CHUNK, LAST, stall_after=1), 0.05)
    assert await deadline() == CHUNK
    with pytest.raises(OppError) as caught:
        await deadline()
    assert _is_timeout(caught.value)
    assert deadline._timer is None  # never armed: the timeout did the work
    complete = BodyDeadline(coroutine_receiver(LAST, stall_after=1), 0.05)
    assert await complete() == LAST
