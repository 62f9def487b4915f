"""The reviewer console's store (sessions, one-time grants, webhook deliveries) on every backend."""

from __future__ import annotations

import datetime as dt

import pytest

from opp.store import Store
from opp.store.console_records import ConsoleGrantRecord, ConsoleSessionRecord, WebhookDeliveryRecord

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


def _session(session_id: str = "s1", **fields: object) -> ConsoleSessionRecord:
    values: dict[str, object] = {
        "id": session_id,
        "name": "alice",
        "roles": ("approver",),
        "method": "link",
        "csrf": "c" * 20,
        "auth_time": T0,
        "created_at": T0,
        "last_seen_at": T0,
        "expires_at": T0 + 60 * MINUTE,
    }
    return ConsoleSessionRecord(**{**values, **fields})  # type: ignore[arg-type]


def _grant(grant_id: str = "g1", **fields: object) -> ConsoleGrantRecord:
    values: dict[str, object] = {
        "id": grant_id,
        "kind": "link",
        "name": "alice",
        "roles": ("approver", "auditor"),
        "next_path": "/console/queue",
        "created_at": T0,
        "expires_at": T0 + 10 * MINUTE,
    }
    return ConsoleGrantRecord(**{**values, **fields})  # type: ignore[arg-type]


def _delivery(delivery_id: str, at: dt.datetime, draft_id: str = "drf_1") -> WebhookDeliveryRecord:
    return WebhookDeliveryRecord(
        id=delivery_id,
        hook="ops",
        event="draft.created",
        draft_id=draft_id,
        body='{"a":1}',
        next_attempt_at=at,
        created_at=at,
    )


async def test_session_round_trip_touch_and_end(store: Store) -> None:
    await store.console.create_session(_session())
    with pytest.raises(KeyError):
        await store.console.create_session(_session())
    assert await store.console.get_session("s1") == _session()
    assert await store.console.get_session("nope") is None
    await store.console.touch_session("s1", T0 + 5 * MINUTE)
    await store.console.touch_session("s1", T0 + 2 * MINUTE)  # older: ignored
    touched = await store.console.get_session("s1")
    assert touched is not None and touched.last_seen_at == T0 + 5 * MINUTE
    assert await store.console.end_session("s1", T0 + 6 * MINUTE) is True
    assert await store.console.end_session("s1", T0 + 7 * MINUTE) is False
    ended = await store.console.get_session("s1")
    assert ended is not None and ended.ended_at == T0 + 6 * MINUTE


async def test_a_grant_is_redeemed_once_and_never_after_expiry(store: Store) -> None:
    await store.console.create_grant(_grant())
    await store.console.create_grant(_grant("g2"))
    with pytest.raises(KeyError):
        await store.console.create_grant(_grant())
    used = await store.console.redeem_grant("g1", T0 + MINUTE)
    assert used is not None and used.used_at == T0 + MINUTE and used.roles == ("approver", "auditor")
    assert await store.console.redeem_grant("g1", T0 + 2 * MINUTE) is None
    assert await store.console.redeem_grant("g2", T0 + 10 * MINUTE) is None  # expires_at is exclusive
    assert await store.console.redeem_grant("unknown", T0) is None


async def test_deliveries_enqueue_once_come_due_and_update_by_compare_and_set(store: Store) -> None:
    first, second = _delivery("d1", T0), _delivery("d2", T0 + MINUTE, "drf_2")
    assert await store.console.enqueue_deliveries([first, second]) == 2
    assert await store.console.enqueue_deliveries([first]) == 0
    assert [d.id for d in await store.console.due_deliveries(T0, 10)] == ["d1"]
    assert [d.id for d in await store.console.due_deliveries(T0 + MINUTE, 10)] == ["d1", "d2"]
    assert await store.console.update_delivery("d1", 0, {"attempts": 1, "next_attempt_at": T0 + 9 * MINUTE})
    assert not await store.console.update_delivery("d1", 0, {"attempts": 1})  # lost the race
    assert await store.console.update_delivery("d1", 1, {"status": "delivered", "last_status": 204})
    assert [d.id for d in await store.console.due_deliveries(T0 + 60 * MINUTE, 10)] == ["d2"]
    assert [d.id for d in await store.console.list_deliveries(10)] == ["d2", "d1"]
    listed = await store.console.list_deliveries(10, "drf_1")
    assert [(d.id, d.status, d.attempts, d.last_status) for d in listed] == [("d1", "delivered", 1, 204)]


async def test_purge_removes_expired_sessions_and_grants(store: Store) -> None:
    await store.console.create_session(_session("old", expires_at=T0 + MINUTE))
    await store.console.create_session(_session("live"))
    await store.console.create_grant(_grant("g-old", expires_at=T0 + MINUTE))
    assert await store.console.purge_console(T0 + 2 * MINUTE) == 2
    assert await store.console.get_session("old") is None
    assert await store.console.get_session("live") is not None
