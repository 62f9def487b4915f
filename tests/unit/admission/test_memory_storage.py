"""Process-local counters without ``limits``' expiry thread: same counts and expiry, no thread."""

from __future__ import annotations

import threading
import time

import pytest
from limits import parse
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from opp.admission import memory_storage
from opp.admission.memory_storage import ThreadlessMemoryStorage


def timer_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)}


def test_no_timer_thread_is_started_and_the_quota_holds() -> None:
    before = timer_threads()  # other tests' storages may still have timers running
    limiter = FixedWindowRateLimiter(ThreadlessMemoryStorage())
    quota = parse("50/minute")
    admitted = [limiter.hit(quota, "key", "ip") for _ in range(30)]
    started = timer_threads() - before
    admitted += [limiter.hit(quota, "key", "ip") for _ in range(30)]
    started |= timer_threads() - before
    assert admitted == [True] * 50 + [False] * 10
    assert started == set()  # the parent starts one on the first hit, and again every 10 ms


def test_an_expired_window_admits_again(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    storage = ThreadlessMemoryStorage()
    limiter = FixedWindowRateLimiter(storage)
    quota = parse("2/second")
    assert [limiter.hit(quota, "k") for _ in range(3)] == [True, True, False]
    clock[0] += 1.5
    assert limiter.hit(quota, "k") is True


def test_expired_counters_are_swept_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    storage = ThreadlessMemoryStorage()
    moving = MovingWindowRateLimiter(storage)
    fixed = FixedWindowRateLimiter(storage)
    for caller in range(20):
        fixed.hit(parse("5/second"), f"gone-{caller}")
        moving.hit(parse("5/second"), f"moving-{caller}")
    assert len(storage.expirations) == 20 and len(storage.events) == 20
    clock[0] += memory_storage.SWEEP_INTERVAL_S + 2
    fixed.hit(parse("5/second"), "fresh")  # the first increment after the interval sweeps
    assert set(storage.expirations) == {next(k for k in storage.expirations if "fresh" in k)}
    assert all(not entries for entries in storage.events.values())
