"""``Periodic``: rounds at an interval, a failing round is logged and the loop goes on, stop ends it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from opp.periodic import Periodic


async def _until(condition: object, deadline_s: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not condition():  # type: ignore[operator]
        assert loop.time() < end, "condition not reached before the deadline"
        await asyncio.sleep(0.001)


async def test_a_failing_round_is_logged_and_the_next_round_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []

    async def step() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("boom")

    periodic = Periodic("opp-test-task", step, 0.001, logging.getLogger("opp.test"), run_first=True)
    with caplog.at_level(logging.ERROR, logger="opp.test"):
        periodic.start()
        await _until(lambda: len(rounds) >= 3)
        await periodic.stop()
    assert not periodic.running
    failures = [record for record in caplog.records if "opp-test-task failed" in record.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    done = len(rounds)
    await asyncio.sleep(0.01)
    assert len(rounds) == done, "no round runs after stop"


async def test_without_run_first_the_first_round_waits_one_interval() -> None:
    rounds: list[int] = []

    async def step() -> None:
        rounds.append(1)

    periodic = Periodic("opp-test-task", step, 3600.0, logging.getLogger("opp.test"))
    periodic.start()
    periodic.start()  # idempotent: still one task
    await asyncio.sleep(0.01)
    assert rounds == []
    await periodic.stop()
    await periodic.stop()
    assert not periodic.running
