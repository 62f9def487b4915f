"""The one contract every Store backend passes (the ``store`` fixture runs each test per backend)."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from opp.codes import ReasonCode
from opp.errors import OppError
from opp.store import MAX_AUDIT_PAGE, AuditQuery, Store

from .samples import T0, Samples, token_hash, unsealed

LATER = T0 + dt.timedelta(days=1)
PARIS = dt.timezone(dt.timedelta(hours=2))


# --- apps -------------------------------------------------------------------------------------


async def test_app_round_trips_equal(store: Store, samples: Samples) -> None:
    app = samples.app(
        description="Ledger bot",
        scope="personal",
        user_id="user_1",
        service_user_id="svc_1",
        created_at=dt.datetime(2025, 6, 1, 14, 0, 0, 1, tzinfo=PARIS),
    )
    await store.apps.create(app)
    stored = await store.apps.get(app.id)
    assert stored == app
    assert stored is not None
    assert stored.created_at.utcoffset() == dt.timedelta(0)
    assert isinstance(stored.scopes, tuple)


async def test_app_get_unknown_is_none(store: Store) -> None:
    assert await store.apps.get("app_missing") is None


async def test_app_create_duplicate_raises_and_keeps_original(store: Store, samples: Samples) -> None:
    app = samples.app()
    await store.apps.create(app)
    with pytest.raises(KeyError):
        await store.apps.create(msgspec.structs.replace(app, name="Impostor"))
    assert await store.apps.get(app.id) == app


async def test_app_list_is_oldest_first_and_count_matches(store: Store, samples: Samples) -> None:
    newest = samples.app(created_at=T0 + dt.timedelta(hours=2))
    oldest = samples.app(created_at=T0)
    tie_b = samples.app(id="app_b", created_at=T0 + dt.timedelta(hours=1))
    tie_a = samples.app(id="app_a", created_at=T0 + dt.timedelta(hours=1))
    for app in (newest, oldest, tie_b, tie_a):
        await store.apps.create(app)
    assert await store.apps.list() == [oldest, tie_a, tie_b, newest]
    assert await store.apps.count() == 4


async def test_upsert_declared_inserts_a_new_app(store: Store, samples: Samples) -> None:
    app = samples.app(source="config")
    await store.apps.upsert_declared(app)
    assert await store.apps.get(app.id) == app


async def test_upsert_declared_updates_config_fields_and_keeps_runtime_state(
    store: Store, samples: Samples
) -> None:
    original = samples.app(source="runtime", auto_execute={"enabled": True}, created_by="alice")
    await store.apps.create(original)
    await store.apps.set_status(original.id, "revoked", LATER)
    declared = samples.app(
        id=original.id,
        name="Renamed",
        description="from gateway.yaml",
        scope="personal",
        org_id=None,
        user_id="user_9",
        service_user_id="svc_9",
        scopes=("ledger.read",),
        policy={"network": {"allowed_ips": []}, "data": {}},
        auto_execute={"enabled": False},
        created_by="config",
        source="config",
        status="active",
        created_at=LATER + dt.timedelta(days=5),
        updated_at=LATER + dt.timedelta(days=5),
    )
    await store.apps.upsert_declared(declared)
    expected = msgspec.structs.replace(
        declared,
        status="revoked",
        auto_execute=original.auto_execute,
        created_by=original.created_by,
        created_at=original.created_at,
    )
    assert await store.apps.get(original.id) == expected


async def test_set_status_policy_and_auto_execute(store: Store, samples: Samples) -> None:
    app = samples.app()
    await store.apps.create(app)
    assert await store.apps.set_status(app.id, "revoked", LATER) is True
    assert await store.apps.set_policy(app.id, {"data": {"ledger_ids": [7]}}, LATER) is True
    window = {"enabled": True, "expires_at": "2025-02-01T00:00:00Z", "max_risk": "medium"}
    assert await store.apps.set_auto_execute(app.id, window, LATER + dt.timedelta(seconds=1)) is True
    expected = msgspec.structs.replace(
        app,
        status="revoked",
        policy={"data": {"ledger_ids": [7]}},
        auto_execute=window,
        updated_at=LATER + dt.timedelta(seconds=1),
    )
    assert await store.apps.get(app.id) == expected


async def test_setters_on_unknown_app_return_false(store: Store) -> None:
    assert await store.apps.set_status("app_missing", "revoked", LATER) is False
    assert await store.apps.set_policy("app_missing", {}, LATER) is False
    assert await store.apps.set_auto_execute("app_missing", {}, LATER) is False


async def test_set_status_rejects_unknown_status(store: Store, samples: Samples) -> None:
    app = samples.app()
    await store.apps.create(app)
    with pytest.raises(ValueError, match="status"):
        await store.apps.set_status(app.id, "paused", LATER)
    assert await store.apps.get(app.id) == app


async def test_delete_removes_the_app_and_only_its_keys(store: Store, samples: Samples) -> None:
    doomed, survivor = samples.app(), samples.app()
    await store.apps.create(doomed)
    await store.apps.create(survivor)
    doomed_key, survivor_key = samples.key(doomed.id), samples.key(survivor.id)
    await store.keys.create(doomed_key)
    await store.keys.create(survivor_key)

    assert await store.apps.delete(doomed.id) is True

    assert await store.apps.get(doomed.id) is None
    assert await store.keys.get(doomed_key.id) is None
    assert await store.keys.find_by_hash(doomed_key.token_hash) is None
    assert await store.keys.list_for_app(doomed.id) == []
    assert await store.keys.get(survivor_key.id) == survivor_key
    assert await store.apps.count() == 1
    assert await store.apps.delete(doomed.id) is False


# --- keys -------------------------------------------------------------------------------------


@pytest.fixture
async def app_id(store: Store, samples: Samples) -> str:
    app = samples.app()
    await store.apps.create(app)
    return app.id


async def test_key_round_trips_equal(store: Store, samples: Samples, app_id: str) -> None:
    key = samples.key(app_id, expires_at=dt.datetime(2026, 1, 1, 2, 0, tzinfo=PARIS))
    await store.keys.create(key)
    assert await store.keys.get(key.id) == key
    assert await store.keys.get("key_missing") is None


async def test_key_create_rejects_duplicates_and_unknown_app(
    store: Store, samples: Samples, app_id: str
) -> None:
    key = samples.key(app_id)
    await store.keys.create(key)
    with pytest.raises(KeyError):
        await store.keys.create(samples.key(app_id, id=key.id))
    with pytest.raises(KeyError):
        await store.keys.create(samples.key(app_id, token_hash=key.token_hash))
    orphan = samples.key("app_missing")
    with pytest.raises(KeyError):
        await store.keys.create(orphan)
    assert await store.keys.list_for_app(app_id) == [key]
    assert await store.keys.get(orphan.id) is None


async def test_find_by_hash_returns_key_and_app_whatever_their_status(
    store: Store, samples: Samples, app_id: str
) -> None:
    key = samples.key(app_id, expires_at=T0)
    await store.keys.create(key)
    await store.keys.revoke(key.id, LATER)
    await store.apps.set_status(app_id, "revoked", LATER)

    found = await store.keys.find_by_hash(key.token_hash)

    assert found is not None
    found_key, found_app = found
    assert found_key == msgspec.structs.replace(key, revoked_at=LATER)
    assert found_app == await store.apps.get(app_id)
    assert found_app.status == "revoked"
    assert await store.keys.find_by_hash(token_hash("op_unknown")) is None


async def test_list_for_app_is_oldest_first_with_revoked_keys(
    store: Store, samples: Samples, app_id: str
) -> None:
    late = samples.key(app_id, created_at=T0 + dt.timedelta(hours=1))
    early = samples.key(app_id, created_at=T0)
    for key in (late, early):
        await store.keys.create(key)
    await store.keys.revoke(late.id, LATER)
    assert await store.keys.list_for_app(app_id) == [early, msgspec.structs.replace(late, revoked_at=LATER)]
    assert await store.keys.list_for_app("app_missing") == []


async def test_revoke_is_idempotent(store: Store, samples: Samples, app_id: str) -> None:
    key = samples.key(app_id)
    await store.keys.create(key)
    assert await store.keys.revoke(key.id, LATER) is True
    assert await store.keys.revoke(key.id, LATER + dt.timedelta(hours=1)) is False
    assert await store.keys.revoke("key_missing", LATER) is False
    stored = await store.keys.get(key.id)
    assert stored is not None
    assert stored.revoked_at == LATER


async def test_revoke_all_for_app_counts_only_keys_revoked_now(
    store: Store, samples: Samples, app_id: str
) -> None:
    other_app = samples.app()
    await store.apps.create(other_app)
    keys = [samples.key(app_id) for _ in range(3)]
    other_key = samples.key(other_app.id)
    for key in [*keys, other_key]:
        await store.keys.create(key)
    await store.keys.revoke(keys[0].id, T0)

    assert await store.keys.revoke_all_for_app(app_id, LATER) == 2
    assert await store.keys.revoke_all_for_app(app_id, LATER) == 0
    assert await store.keys.revoke_all_for_app("app_missing", LATER) == 0

    revoked_at = [key.revoked_at for key in await store.keys.list_for_app(app_id)]
    assert revoked_at == [T0, LATER, LATER]
    assert await store.keys.get(other_key.id) == other_key


async def test_upsert_declared_key_inserts_then_updates_keeping_usage_and_revocation(
    store: Store, samples: Samples, app_id: str
) -> None:
    key = samples.key(app_id)
    await store.keys.upsert_declared(key)
    assert await store.keys.get(key.id) == key
    await store.keys.revoke(key.id, LATER)
    await store.keys.touch({key.id: LATER})

    rotated = samples.key(
        app_id, id=key.id, name="Rotated", expires_at=LATER, created_at=LATER + dt.timedelta(days=9)
    )
    await store.keys.upsert_declared(rotated)

    expected = msgspec.structs.replace(
        rotated, revoked_at=LATER, last_used_at=LATER, created_at=key.created_at
    )
    assert await store.keys.get(key.id) == expected
    assert await store.keys.find_by_hash(key.token_hash) is None
    found = await store.keys.find_by_hash(rotated.token_hash)
    assert found is not None
    assert found[0] == expected


async def test_upsert_declared_key_rejects_a_hash_of_another_key_or_unknown_app(
    store: Store, samples: Samples, app_id: str
) -> None:
    taken = samples.key(app_id)
    await store.keys.create(taken)
    with pytest.raises(KeyError):
        await store.keys.upsert_declared(samples.key(app_id, token_hash=taken.token_hash))
    with pytest.raises(KeyError):
        await store.keys.upsert_declared(samples.key("app_missing"))
    assert await store.keys.list_for_app(app_id) == [taken]


async def test_upsert_declared_key_may_move_it_to_another_app(
    store: Store, samples: Samples, app_id: str
) -> None:
    other_app = samples.app()
    await store.apps.create(other_app)
    key = samples.key(app_id)
    await store.keys.upsert_declared(key)
    await store.keys.upsert_declared(msgspec.structs.replace(key, app_id=other_app.id))
    found = await store.keys.find_by_hash(key.token_hash)
    assert found is not None
    assert found[1] == other_app


async def test_touch_records_latest_use_of_many_keys(store: Store, samples: Samples, app_id: str) -> None:
    first, second, idle = (samples.key(app_id) for _ in range(3))
    for key in (first, second, idle):
        await store.keys.create(key)

    await store.keys.touch({first.id: LATER, second.id: T0, "key_missing": LATER})
    await store.keys.touch({second.id: LATER, first.id: T0})  # an older flush arriving late
    await store.keys.touch({})

    used = {key.id: key.last_used_at for key in await store.keys.list_for_app(app_id)}
    assert used == {first.id: LATER, second.id: LATER, idle.id: None}
    assert await store.keys.get("key_missing") is None


# --- admin tokens ----------------------------------------------------------------------------


async def test_admin_token_create_find_and_revoke(store: Store, samples: Samples) -> None:
    token = samples.admin_token()
    await store.admin_tokens.create(token)
    assert await store.admin_tokens.find_by_hash(token.token_hash) == token
    assert await store.admin_tokens.find_by_hash(token_hash("unknown")) is None

    assert await store.admin_tokens.revoke(token.id, LATER) is True
    assert await store.admin_tokens.revoke(token.id, LATER) is False
    assert await store.admin_tokens.revoke("adm_missing", LATER) is False
    assert await store.admin_tokens.find_by_hash(token.token_hash) == msgspec.structs.replace(
        token, revoked_at=LATER
    )


async def test_admin_token_create_rejects_duplicates(store: Store, samples: Samples) -> None:
    token = samples.admin_token()
    await store.admin_tokens.create(token)
    with pytest.raises(KeyError):
        await store.admin_tokens.create(samples.admin_token(id=token.id))
    with pytest.raises(KeyError):
        await store.admin_tokens.create(samples.admin_token(token_hash=token.token_hash))


# --- audit ------------------------------------------------------------------------------------


async def test_audit_round_trips_every_field(store: Store, samples: Samples) -> None:
    event = samples.event(
        status="denied",
        code="agent.policy_denied",
        app_id="app_1",
        key_id="key_1",
        actor_user_id="user_1",
        performed_by_user_id="user_2",
        request_id="req_1",
        draft_id="drf_1",
        execution_id="exe_1",
        ip="203.0.113.7",
        user_agent="agent/1.0",
        tool="transaction.create",
        tenant="ledger_1",
        principal={"sub": "user_1", "client_id": "cli", "jkt": "abc"},
        policy={"matched": ["deny-weekend"]},
        details={"reason": "weekend", "amount": 12.5, "nested": {"ok": [1, None]}},
        created_at=dt.datetime(2025, 3, 1, 12, 0, tzinfo=PARIS),
    )
    await store.audit.append([event])
    assert unsealed(await store.audit.list(AuditQuery())) == [event]


async def test_audit_lists_newest_appended_first(store: Store, samples: Samples) -> None:
    first = samples.event(created_at=LATER)
    second = samples.event(created_at=T0)  # a worker with a slow clock: order is still insertion
    third = samples.event()
    await store.audit.append([first, second])
    await store.audit.append([])
    await store.audit.append([third])
    assert unsealed(await store.audit.list(AuditQuery())) == [third, second, first]


async def test_audit_append_of_a_duplicate_id_appends_nothing(store: Store, samples: Samples) -> None:
    existing = samples.event()
    await store.audit.append([existing])
    with pytest.raises(KeyError):
        await store.audit.append([samples.event(), samples.event(id=existing.id)])
    with pytest.raises(KeyError):
        fresh = samples.event()
        await store.audit.append([fresh, fresh])
    assert unsealed(await store.audit.list(AuditQuery())) == [existing]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("app_id", "app_7"),
        ("action", "agent.action.execute"),
        ("status", "failed"),
        ("code", "agent.execution_failed"),
        ("tool", "transaction.delete"),
    ],
)
async def test_audit_filters_by_equality(store: Store, samples: Samples, field: str, value: str) -> None:
    matching = [samples.event(**{field: value}) for _ in range(2)]
    others = [samples.event(), samples.event(app_id="app_8", tool="ledger.list")]
    await store.audit.append([matching[0], *others, matching[1]])
    query = msgspec.convert({field: value}, AuditQuery)
    assert unsealed(await store.audit.list(query)) == [matching[1], matching[0]]


async def test_audit_time_window_is_since_inclusive_until_exclusive(store: Store, samples: Samples) -> None:
    events = [samples.event(created_at=T0 + dt.timedelta(minutes=m)) for m in range(5)]
    await store.audit.append(events)
    since, until = T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=3)
    assert unsealed(await store.audit.list(AuditQuery(since=since, until=until))) == [events[2], events[1]]
    paris_since = since.astimezone(PARIS)
    assert unsealed(await store.audit.list(AuditQuery(since=paris_since))) == events[:0:-1]
    assert unsealed(await store.audit.list(AuditQuery(until=since))) == [events[0]]


async def test_audit_filters_combine(store: Store, samples: Samples) -> None:
    hit = samples.event(app_id="app_1", status="denied", created_at=LATER)
    await store.audit.append(
        [
            hit,
            samples.event(app_id="app_1", status="success", created_at=LATER),
            samples.event(app_id="app_2", status="denied", created_at=LATER),
            samples.event(app_id="app_1", status="denied", created_at=T0),
        ]
    )
    query = AuditQuery(app_id="app_1", status="denied", since=LATER)
    assert unsealed(await store.audit.list(query)) == [hit]


async def test_audit_cursor_pagination_walks_every_event_once(store: Store, samples: Samples) -> None:
    events = [samples.event() for _ in range(7)]
    await store.audit.append(events)
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await store.audit.list(AuditQuery(limit=3, cursor=cursor))
        if not page:
            break
        pages.append([event.id for event in page])
        cursor = page[-1].id
    expected = [event.id for event in reversed(events)]
    assert pages == [expected[0:3], expected[3:6], expected[6:7]]


async def test_audit_cursor_pagination_with_a_filter(store: Store, samples: Samples) -> None:
    events = [samples.event(app_id="app_1" if i % 2 else "app_2") for i in range(8)]
    await store.audit.append(events)
    wanted = [e for e in reversed(events) if e.app_id == "app_1"]
    first = await store.audit.list(AuditQuery(app_id="app_1", limit=3))
    second = await store.audit.list(AuditQuery(app_id="app_1", limit=3, cursor=first[-1].id))
    assert unsealed(first + second) == wanted


async def test_audit_unknown_cursor_gives_an_empty_page(store: Store, samples: Samples) -> None:
    await store.audit.append([samples.event()])
    assert unsealed(await store.audit.list(AuditQuery(cursor="aud_missing"))) == []


async def test_audit_limit_is_capped_and_at_least_one(store: Store, samples: Samples) -> None:
    events = [samples.event() for _ in range(MAX_AUDIT_PAGE + 5)]
    await store.audit.append(events)
    page = await store.audit.list(AuditQuery(limit=MAX_AUDIT_PAGE * 10))
    assert len(page) == MAX_AUDIT_PAGE
    assert unsealed(page[:1]) == events[-1:]
    assert unsealed(await store.audit.list(AuditQuery(limit=0))) == [events[-1]]


# --- lifecycle --------------------------------------------------------------------------------


async def test_ping_succeeds_when_open_and_fails_closed_after_close(store: Store) -> None:
    await store.ping()
    await store.close()
    with pytest.raises(OppError) as caught:
        await store.ping()
    assert caught.value.code is ReasonCode.UNAVAILABLE
    assert caught.value.message == "Store unavailable."
