"""Webhook delivery by the console upkeep: signatures, backoff, give-up, one attempt per worker race.

Real HTTP to a loopback receiver (tests/console/receiver.py), a frozen clock, the memory store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import sys
from collections.abc import Iterator

import pytest

from opp.clock import FrozenClock
from opp.config.schema import WebhookConfig
from opp.console.settings import ConsoleSettings, WebhookTarget
from opp.console.upkeep import ConsoleUpkeep
from opp.console.webhooks import backoff_s, sign, verify_signature
from opp.store.memory import MemoryStore
from opp.store.write_records import DraftRecord
from tests.console.receiver import Receiver, running_receiver

SECRET = b"s3cret"
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0)
"""Now, as each test starts (``_fresh_now``): the receiver checks timestamps against its own clock,
so a value taken at import would be minutes old by the time a test runs in the whole suite."""


@pytest.fixture(autouse=True)
def _fresh_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "T0", dt.datetime.now(dt.UTC).replace(microsecond=0))


def _settings(
    url: str, max_attempts: int = 3, fmt: str = "opp", secret: bytes | None = SECRET
) -> ConsoleSettings:
    hook = WebhookConfig(name="ops", url=url, secret_env="UNUSED", format=fmt)  # type: ignore[arg-type]
    return ConsoleSettings(
        enabled=True,
        public_url="https://opp.example.com",
        idle_s=1800,
        max_s=43200,
        link_ttl_s=600,
        queue_refresh_s=10,
        expiring_soon_s=900,
        webhook_timeout_s=5,
        webhook_max_attempts=max_attempts,
        oidc=None,
        webhooks=(WebhookTarget(hook, secret),),
    )


def _draft(draft_id: str = "drf_1", expires_in: dt.timedelta = dt.timedelta(hours=24)) -> DraftRecord:
    return DraftRecord(
        id=draft_id,
        app_id="app_demo",
        key_id=None,
        actor_user_id="agent",
        action="transaction.create",
        risk="medium",
        payload={"amount": 1},
        status="draft",
        justification="because",
        preflight={"summary": "Create a transaction"},
        created_at=T0,
        updated_at=T0,
        expires_at=T0 + expires_in,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver(SECRET, fail_first=set()) as running:
        yield running


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"type":"draft.created"}'
    expected = "v1=" + hmac.new(SECRET, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, body) == expected
    assert verify_signature(SECRET, "1700000000", body, expected, 1700000100)
    assert not verify_signature(SECRET, "1700000000", body, expected, 1700000400)  # older than 5 minutes
    assert not verify_signature(SECRET, "1700000001", body, expected, 1700000100)  # timestamp changed
    assert not verify_signature(SECRET, "1700000000", body + b" ", expected, 1700000100)  # body changed
    assert not verify_signature(b"other", "1700000000", body, expected, 1700000100)
    assert not verify_signature(SECRET, "17e8", body, expected, 1700000100)
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 16] and backoff_s(30) == 600


async def test_created_and_expiring_are_sent_signed_and_once(receiver: Receiver) -> None:
    store = MemoryStore()
    clock = FrozenClock(T0)
    upkeep = ConsoleUpkeep(store, clock, _settings(f"{receiver.url}/hook"))
    await _seed(store, _draft("drf_1"), _draft("drf_2", dt.timedelta(minutes=10)))
    await _ticks(upkeep, 2)
    events = sorted((r.headers["x-opp-event"], r.headers["x-opp-delivery"]) for r in receiver.received)
    assert events == [
        ("draft.created", "ops:draft.created:drf_1"),
        ("draft.created", "ops:draft.created:drf_2"),
        ("draft.expiring", "ops:draft.expiring:drf_2"),
    ]
    assert all(r.verdict == "ok" and r.answered == 200 for r in receiver.received)
    created = next(r for r in receiver.received if r.headers["x-opp-delivery"].endswith("created:drf_1")).json
    assert created["draft"]["url"] == "https://opp.example.com/console/drafts/drf_1"
    assert created["draft"]["summary"] == "Create a transaction"


async def test_failures_are_retried_with_backoff_then_given_up(receiver: Receiver) -> None:
    receiver.fail_first.add("draft.created")
    store = MemoryStore()
    clock = FrozenClock(T0)
    upkeep = ConsoleUpkeep(store, clock, _settings(f"{receiver.url}/hook"))
    await _seed(store, _draft())
    await _ticks(upkeep, 1)
    assert [r.answered for r in receiver.received] == [503]
    clock.advance(dt.timedelta(seconds=1))
    await _ticks(upkeep, 1)
    assert len(receiver.received) == 1  # backoff: the retry is due 2 s after the first attempt
    clock.advance(dt.timedelta(seconds=1))
    await _ticks(upkeep, 1)
    assert [r.answered for r in receiver.received] == [503, 200]
    [delivery] = await store.console.list_deliveries(10)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 2, 200)

    dead = ConsoleUpkeep(store, clock, _settings("http://127.0.0.1:9/closed", max_attempts=2))
    await _seed(store, _draft("drf_dead"))
    for _ in range(3):
        await _ticks(dead, 1)
        clock.advance(dt.timedelta(seconds=10))
    failed = [d for d in await store.console.list_deliveries(10) if d.draft_id == "drf_dead"]
    assert [(d.status, d.attempts, d.last_status) for d in failed] == [("failed", 2, None)]
    assert failed[0].last_error and "ConnectError" in failed[0].last_error


async def test_two_workers_make_one_attempt_per_delivery(receiver: Receiver) -> None:
    store = MemoryStore()
    clock = FrozenClock(T0)
    first, second = (ConsoleUpkeep(store, clock, _settings(f"{receiver.url}/hook")) for _ in range(2))
    await _seed(store, *(_draft(f"drf_{n}") for n in range(5)))
    for upkeep in (first, second):
        upkeep.open()
    try:
        await first.scan()
        await second.scan()
        await asyncio.gather(first.deliver_due(), second.deliver_due())
    finally:
        await first.stop()
        await second.stop()
    deliveries = [r.headers["x-opp-delivery"] for r in receiver.received]
    assert sorted(deliveries) == [f"ops:draft.created:drf_{n}" for n in range(5)]


async def test_slack_format_and_a_hook_without_its_secret(receiver: Receiver) -> None:
    store = MemoryStore()
    clock = FrozenClock(T0)
    await _seed(store, _draft())
    await _ticks(ConsoleUpkeep(store, clock, _settings(f"{receiver.url}/slack", fmt="slack")), 1)
    [message] = receiver.received
    text = message.json["text"]
    assert text.startswith("Draft waiting for review: Create a transaction (transaction.create, medium risk")
    assert "<https://opp.example.com/console/drafts/drf_1|Open in the opp console>" in text
    assert message.json["blocks"][0]["text"]["text"] == text
    other = MemoryStore()
    await _seed(other, _draft())
    await _ticks(ConsoleUpkeep(other, clock, _settings(f"{receiver.url}/hook", secret=None)), 1)
    assert len(receiver.received) == 1 and await other.console.list_deliveries(10) == []


async def _seed(store: MemoryStore, *drafts: DraftRecord) -> None:
    for draft in drafts:
        await store.writes.create_draft(draft, None, None, [])


async def _ticks(upkeep: ConsoleUpkeep, count: int) -> None:
    upkeep.open()
    try:
        for _ in range(count):
            await upkeep.run_once()
    finally:
        await upkeep.stop()
