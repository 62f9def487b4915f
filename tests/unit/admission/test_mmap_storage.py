"""The ``mmap://`` storage's own mechanics: exact counts across processes, a lock a killed process
cannot keep, a lock held elsewhere waited for after the spins, a failing lock call raised, the
open-addressing table (collisions, reuse of expired slots, a full table refusing rather than
admitting), and a foreign file reinitialised. The limits contract is in
``test_file_counters.py``."""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import limits
import pytest
from limits.errors import StorageError

from opp.admission import Admission, AdmissionPlan, LimitRule, MmapStorage
from opp.admission import mmap_storage as module
from opp.auth.principal import Principal
from opp.errors import OppError
from opp.store.records import AppRecord

FORK = multiprocessing.get_context("fork")


def _hammer(uri: str, hits: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    storage = MmapStorage(uri)
    out.put([storage.incr("shared", 600) for _ in range(hits)])


def test_concurrent_processes_never_lose_an_increment(tmp_path: Path) -> None:
    uri = f"mmap:///{tmp_path}/c.counters"
    MmapStorage(uri).incr("warm", 60)  # the parent maps it first: children must not share its flock
    out: multiprocessing.Queue = FORK.Queue()  # type: ignore[type-arg]
    workers = [FORK.Process(target=_hammer, args=(uri, 3000, out)) for _ in range(4)]
    for worker in workers:
        worker.start()
    seen = [count for _ in workers for count in out.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=10)

    assert sorted(seen) == list(range(1, 12001))  # every hit saw a distinct count: none was lost
    assert MmapStorage(uri).get("shared") == 12000


def test_a_process_killed_holding_the_lock_does_not_block_the_others(tmp_path: Path) -> None:
    uri = f"mmap:///{tmp_path}/c.counters"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from opp.admission import MmapStorage\n"
            f"MmapStorage({uri!r})._exclusive().__enter__()\n"
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        waiting = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from opp.admission import MmapStorage; print(MmapStorage({uri!r}).incr('k', 60))",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.3)
        assert waiting.poll() is None  # blocked behind the holder's lock
        os.kill(holder.pid, signal.SIGKILL)
        out, _ = waiting.communicate(timeout=20)
    finally:
        holder.kill()
        holder.wait()
    assert out.strip() == "1"


def test_colliding_keys_probe_on_and_expired_slots_are_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every key has the same home slot: only the rest of the digest tells them apart
    monkeypatch.setattr(module, "_digest", lambda key: bytes(8) + key.encode().ljust(8, b"."))
    monkeypatch.setattr(module, "PROBES", 3)
    now = [1000.0]
    storage = MmapStorage(f"mmap:///{tmp_path}/c.counters", timer=lambda: now[0])

    assert [storage.incr("a", 10), storage.incr("b", 60), storage.incr("c", 60)] == [1, 1, 1]
    assert [storage.incr("a", 10), storage.incr("b", 60)] == [2, 2]
    with pytest.raises(module.CountersFull):
        storage.incr("d", 60)  # a, b, c are live in every slot d may take
    assert storage.get("d") == 0

    now[0] += 11  # a's window is over: its slot is reusable, b and c still count past it
    assert storage.incr("d", 60) == 1
    assert (storage.get("a"), storage.get("b"), storage.get("c"), storage.get("d")) == (0, 2, 1, 1)
    assert storage.incr("b", 60) == 3


async def test_a_full_table_refuses_the_request_with_503_never_admits_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "_digest", lambda key: bytes(8) + key.encode().ljust(8, b"."))
    monkeypatch.setattr(module, "PROBES", 2)
    storage = MmapStorage(f"mmap:///{tmp_path}/c.counters", wrap_exceptions=True)
    storage.incr("x", 60)
    storage.incr("y", 60)
    rule = LimitRule(id="per-key", per=("key",), item=limits.parse("5/minute"))
    admission = Admission(AdmissionPlan(request_rules=(rule,)), storage=storage)
    epoch = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    app = AppRecord(id="app_1", name="a", scope="workspace", created_at=epoch, updated_at=epoch)
    principal = Principal(
        app=app,
        key=None,
        actor_user_id="u",
        tenant="t",
        scopes=frozenset(),
        sub="s",
        client_id="app_1",
        claims={},
    )

    with pytest.raises(StorageError):
        storage.incr("z", 60)
    with pytest.raises(OppError) as refused:
        await admission.check_request(principal, "127.0.0.1")
    assert (refused.value.status, refused.value.code.value) == (503, "agent.unavailable")


def test_a_file_of_another_format_is_reinitialised(tmp_path: Path) -> None:
    path = tmp_path / "c.counters"
    path.write_bytes(b"not a counters table" * 100)

    storage = MmapStorage(f"mmap:///{path}")

    assert storage.incr("k", 60) == 1
    assert path.stat().st_size == 64 + module.SLOTS * 32
    assert path.read_bytes()[:8] == module._MAGIC


def test_the_table_size_is_chosen_by_the_uri_and_a_file_of_another_size_is_reinitialised(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.counters"
    small = MmapStorage(f"mmap:///{path}?slots=1024")
    assert small.incr("k", 60) == 1 and path.stat().st_size == 64 + 1024 * 32
    large = MmapStorage(f"mmap:///{path}?slots=1048576")
    assert large.incr("k", 60) == 1  # another format (size in the header): counting restarts
    assert (large.slots, path.stat().st_size) == (1 << 20, 64 + (1 << 20) * 32)
    for wrong in ("slots=1000", "slots=512", f"slots={1 << 25}", "slots=x", "slots=1024&other=1"):
        with pytest.raises(ValueError, match="slots"):
            MmapStorage(f"mmap:///{path}?{wrong}")


def test_counts_lists_the_live_counters(tmp_path: Path) -> None:
    now = [1000.0]
    storage = MmapStorage(f"mmap:///{tmp_path}/c.counters", timer=lambda: now[0])
    storage.incr("a", 10, amount=3)
    storage.incr("b", 60)
    assert sorted(storage.counts()) == [1, 3]
    now[0] += 11
    assert storage.counts() == [1]


def test_a_lock_held_elsewhere_is_waited_for_after_the_spins_then_taken(tmp_path: Path) -> None:
    uri = f"mmap:///{tmp_path}/c.counters"
    storage = MmapStorage(uri)
    storage.incr("warm", 60)  # mapped: the file exists at its full size
    other = os.open(storage.path, os.O_RDWR)  # another open file: its flock excludes this one's
    fcntl.flock(other, fcntl.LOCK_EX)
    counted: list[int] = []
    worker = threading.Thread(target=lambda: counted.append(storage.incr("k", 60)))
    try:
        worker.start()
        worker.join(timeout=0.3)
        assert worker.is_alive() and not counted  # spun, then waiting in the kernel: nothing counted
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    worker.join(timeout=10)
    assert counted == [1]


def test_a_lock_call_that_fails_raises_rather_than_counting_unlocked() -> None:
    with pytest.raises(OSError) as raised:
        module._lock(-1)
    assert raised.value.errno == errno.EBADF
    with pytest.raises(OSError):
        module._unlock(-1)
