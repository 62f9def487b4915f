"""The write-lifecycle contract every Store backend passes (``store.writes``, SPEC §7)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from opp.store import MAX_WRITE_PAGE, AuditEvent, AuditQuery, DraftQuery, DraftRecord, Store

from .samples import T0, Samples, unsealed

PARIS = dt.timezone(dt.timedelta(hours=2))
LATER = T0 + dt.timedelta(hours=1)


async def audit_ids(store: Store) -> list[str]:
    """Every audit event id, oldest first."""
    return [event.id for event in reversed(await store.audit.list(AuditQuery(limit=MAX_WRITE_PAGE)))]


async def pending(store: Store, samples: Samples, **fields: Any) -> DraftRecord:
    draft = samples.draft(**fields)
    assert await store.writes.create_draft(draft, None, None, []) is None
    return draft


def confirm(at: dt.datetime = LATER) -> dict[str, Any]:
    return {"status": "confirmed", "confirmed_by_user_id": "approver_1", "updated_at": at}


# --- preflights -------------------------------------------------------------------------------


async def test_preflight_round_trips_with_its_events(store: Store, samples: Samples) -> None:
    preflight = samples.preflight(
        key_id=None,
        state_witness={"balance": 12.5, "items": [1, None]},
        state_witness_hash="ab" * 32,
        created_at=dt.datetime(2025, 6, 1, 14, 0, 0, 1, tzinfo=PARIS),
    )
    event = samples.event(action="agent.action.preflight")
    await store.writes.create_preflight(preflight, [event])
    stored = await store.writes.get_preflight(preflight.id)
    assert stored == preflight
    assert stored is not None
    assert stored.created_at.utcoffset() == dt.timedelta(0)
    assert unsealed(await store.audit.list(AuditQuery())) == [event]
    assert await store.writes.get_preflight("pre_missing") is None


async def test_a_duplicate_preflight_writes_nothing(store: Store, samples: Samples) -> None:
    preflight = samples.preflight()
    await store.writes.create_preflight(preflight, [])
    with pytest.raises(KeyError):
        await store.writes.create_preflight(msgspec.structs.replace(preflight, action="x"), [samples.event()])
    assert await store.writes.get_preflight(preflight.id) == preflight
    assert await audit_ids(store) == []


# --- creating drafts and idempotency ----------------------------------------------------------


async def test_draft_round_trips_every_field(store: Store, samples: Samples) -> None:
    draft = samples.draft(
        tenant="acme",
        risk="high",
        requires_confirmation=True,
        auto_execute_requested=True,
        request_id="req_1",
        justification="month end",
        preflight={"impact": {"total": 3}},
        preflight_hash="cd" * 32,
        preflight_state_witness={"version": 7},
        preflight_state_witness_hash="ef" * 32,
        approvals_required=2,
        note="first",
        created_at=dt.datetime(2025, 6, 1, 14, 0, 0, 1, tzinfo=PARIS),
    )
    await store.writes.create_draft(draft, None, None, [])
    stored = await store.writes.get_draft(draft.id)
    assert stored == draft
    assert stored is not None
    assert stored.requires_confirmation is True
    assert stored.auto_execute_requested is True
    assert stored.created_at.utcoffset() == dt.timedelta(0)
    assert await store.writes.get_draft("drf_missing") is None


async def test_create_draft_stores_key_execution_and_events_together(store: Store, samples: Samples) -> None:
    draft = samples.draft(status="confirmed", idempotency_key="idem-1")
    key = samples.idempotency(draft.id)
    execution = samples.execution(draft.id, idempotency_key="idem-1")
    events = [samples.event(draft_id=draft.id), samples.event(execution_id=execution.id)]
    assert await store.writes.create_draft(draft, key, execution, events) is None
    assert await store.writes.get_draft(draft.id) == draft
    assert await store.writes.get_idempotency("app_1", "idem-1") == key
    assert await store.writes.latest_execution(draft.id) == execution
    assert unsealed(await store.audit.list(AuditQuery())) == events[::-1]


async def test_a_live_idempotency_key_returns_the_original_and_writes_nothing(
    store: Store, samples: Samples
) -> None:
    first = samples.draft()
    key = samples.idempotency(first.id)
    await store.writes.create_draft(first, key, samples.execution(first.id), [samples.event()])
    second = samples.draft(created_at=key.expires_at - dt.timedelta(microseconds=1))
    duplicate = samples.idempotency(second.id, fingerprint="other")
    execution = samples.execution(second.id)
    assert await store.writes.create_draft(second, duplicate, execution, [samples.event()]) == key
    assert await store.writes.get_draft(second.id) is None
    assert await store.writes.latest_execution(second.id) is None
    assert await store.writes.get_idempotency("app_1", "idem-1") == key
    assert len(await audit_ids(store)) == 1


async def test_the_same_key_of_another_app_is_independent(store: Store, samples: Samples) -> None:
    first, second = samples.draft(), samples.draft(app_id="app_2")
    await store.writes.create_draft(first, samples.idempotency(first.id), None, [])
    other_app = samples.idempotency(second.id, app_id="app_2")
    assert await store.writes.create_draft(second, other_app, None, []) is None
    assert await store.writes.get_idempotency("app_2", "idem-1") == other_app


async def test_an_expired_idempotency_key_is_replaced(store: Store, samples: Samples) -> None:
    first = samples.draft()
    old = samples.idempotency(first.id, expires_at=T0 + dt.timedelta(hours=1))
    await store.writes.create_draft(first, old, None, [])
    second = samples.draft(created_at=old.expires_at)  # expires_at == now: no longer holds
    new = samples.idempotency(second.id, created_at=old.expires_at, expires_at=LATER + dt.timedelta(days=1))
    assert await store.writes.create_draft(second, new, None, []) is None
    assert await store.writes.get_idempotency("app_1", "idem-1") == new
    assert await store.writes.get_draft(first.id) == first
    assert await store.writes.get_draft(second.id) == second


async def test_create_draft_with_a_duplicate_event_id_writes_nothing(store: Store, samples: Samples) -> None:
    taken = samples.event()
    await store.audit.append([taken])
    draft = samples.draft()
    with pytest.raises(KeyError):
        await store.writes.create_draft(
            draft, samples.idempotency(draft.id), samples.execution(draft.id), [samples.event(), taken]
        )
    assert await store.writes.get_draft(draft.id) is None
    assert await store.writes.get_idempotency("app_1", "idem-1") is None
    assert await store.writes.latest_execution(draft.id) is None
    assert await audit_ids(store) == [taken.id]


async def test_a_duplicate_draft_id_is_a_key_error(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples)
    with pytest.raises(KeyError):
        await store.writes.create_draft(msgspec.structs.replace(draft, note="again"), None, None, [])
    assert await store.writes.get_draft(draft.id) == draft


async def test_create_draft_refuses_records_of_another_draft(store: Store, samples: Samples) -> None:
    draft = samples.draft()
    with pytest.raises(ValueError, match="drf_other"):
        await store.writes.create_draft(draft, samples.idempotency("drf_other"), None, [])
    with pytest.raises(ValueError, match="drf_other"):
        await store.writes.create_draft(draft, None, samples.execution("drf_other"), [])
    assert await store.writes.get_draft(draft.id) is None


async def test_a_naive_timestamp_in_a_new_draft_is_refused(store: Store, samples: Samples) -> None:
    naive = samples.draft(created_at=dt.datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        await store.writes.create_draft(naive, samples.idempotency(naive.id), None, [samples.event()])
    assert await store.writes.get_draft(naive.id) is None
    assert await store.writes.get_idempotency("app_1", "idem-1") is None
    assert await audit_ids(store) == []


# --- listing drafts ---------------------------------------------------------------------------


async def test_list_drafts_is_newest_first_by_creation_order(store: Store, samples: Samples) -> None:
    # created_at runs backwards: creation order, not the timestamp, decides.
    drafts = [await pending(store, samples, created_at=T0 - dt.timedelta(minutes=n)) for n in range(3)]
    assert await store.writes.list_drafts(DraftQuery()) == drafts[::-1]


async def test_list_drafts_filters_combine(store: Store, samples: Samples) -> None:
    wanted = await pending(store, samples, app_id="app_2", risk="high", action="payout.create")
    await pending(store, samples, app_id="app_2", risk="low", action="payout.create")
    await pending(store, samples, app_id="app_1", risk="high", action="payout.create")
    await pending(store, samples, app_id="app_2", risk="high", action="transaction.create")
    confirmed = samples.draft(app_id="app_2", risk="high", action="payout.create", status="confirmed")
    await store.writes.create_draft(confirmed, None, None, [])
    query = DraftQuery(app_id="app_2", risk="high", action="payout.create")
    assert await store.writes.list_drafts(query) == [confirmed, wanted]
    assert await store.writes.list_drafts(msgspec.structs.replace(query, status="draft")) == [wanted]
    assert await store.writes.list_drafts(DraftQuery(status="expired")) == []


async def test_list_drafts_pages_with_the_last_id_as_cursor(store: Store, samples: Samples) -> None:
    drafts = [await pending(store, samples, risk="low" if n % 2 else "high") for n in range(7)]
    high = [draft for draft in reversed(drafts) if draft.risk == "high"]
    first = await store.writes.list_drafts(DraftQuery(risk="high", limit=3))
    second = await store.writes.list_drafts(DraftQuery(risk="high", cursor=first[-1].id, limit=3))
    last = await store.writes.list_drafts(DraftQuery(risk="high", cursor=second[-1].id, limit=3))
    assert (first, second, last) == (high[:3], high[3:], [])


async def test_an_unknown_cursor_gives_an_empty_page(store: Store, samples: Samples) -> None:
    await pending(store, samples)
    assert await store.writes.list_drafts(DraftQuery(cursor="drf_missing")) == []


async def test_list_drafts_limit_is_clamped(store: Store, samples: Samples) -> None:
    drafts = [samples.draft() for _ in range(MAX_WRITE_PAGE + 1)]
    for draft in drafts:
        await store.writes.create_draft(draft, None, None, [])
    assert await store.writes.list_drafts(DraftQuery(limit=0)) == [drafts[-1]]
    assert len(await store.writes.list_drafts(DraftQuery(limit=10_000))) == MAX_WRITE_PAGE


# --- compare-and-set transitions --------------------------------------------------------------


async def test_transition_applies_changes_and_events_when_the_status_matches(
    store: Store, samples: Samples
) -> None:
    draft = await pending(store, samples)
    event = samples.event(draft_id=draft.id)
    updated = await store.writes.transition_draft(draft.id, ("draft",), confirm(), [event])
    expected = msgspec.structs.replace(draft, **confirm())
    assert updated == expected
    assert await store.writes.get_draft(draft.id) == expected
    assert await audit_ids(store) == [event.id]


async def test_transition_from_another_status_writes_nothing(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples, status="canceled")
    changes = confirm()
    assert (
        await store.writes.transition_draft(draft.id, ("draft", "failed"), changes, [samples.event()]) is None
    )
    assert await store.writes.transition_draft("drf_missing", ("draft",), changes, [samples.event()]) is None
    assert await store.writes.get_draft(draft.id) == draft
    assert await audit_ids(store) == []


async def test_only_the_first_of_two_transitions_from_one_status_wins(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples)
    cancel = {"status": "canceled", "failure_code": "withdrawn", "updated_at": LATER}
    assert await store.writes.transition_draft(draft.id, ("draft",), cancel, []) is not None
    assert await store.writes.transition_draft(draft.id, ("draft",), confirm(), []) is None
    stored = await store.writes.get_draft(draft.id)
    assert stored is not None
    assert (stored.status, stored.failure_code) == ("canceled", "withdrawn")


async def test_transition_encodes_every_kind_of_field(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples)
    changes = {
        "preflight": {"impact": [1, 2]},
        "policy_snapshot": {},
        "requires_confirmation": True,
        "approvals_required": 3,
        "note": None,
        "expires_at": dt.datetime(2030, 1, 1, 2, 0, tzinfo=PARIS),
        "updated_at": LATER,
    }
    updated = await store.writes.transition_draft(draft.id, ("draft",), changes, [])
    assert updated == msgspec.structs.replace(draft, **changes)
    assert await store.writes.get_draft(draft.id) == updated


@pytest.mark.parametrize(
    "changes",
    [
        {"no_such_field": 1},
        {"id": "drf_other"},
        {"status": "bogus"},
        {"updated_at": dt.datetime(2025, 1, 1)},  # naive
    ],
)
async def test_invalid_changes_are_refused_before_anything_is_written(
    store: Store, samples: Samples, changes: dict[str, Any]
) -> None:
    draft = await pending(store, samples)
    execution = samples.execution(draft.id)
    with pytest.raises(ValueError):
        await store.writes.transition_draft(draft.id, ("draft",), changes, [samples.event()])
    with pytest.raises(ValueError):
        await store.writes.start_execution(draft.id, ("draft",), changes, execution, [samples.event()])
    assert await store.writes.get_draft(draft.id) == draft
    assert await store.writes.latest_execution(draft.id) is None
    assert await audit_ids(store) == []


async def test_a_transition_whose_event_id_exists_writes_nothing(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples)
    taken = samples.event()
    await store.audit.append([taken])
    with pytest.raises(KeyError):
        await store.writes.transition_draft(draft.id, ("draft",), confirm(), [taken])
    assert await store.writes.get_draft(draft.id) == draft
    assert await audit_ids(store) == [taken.id]


# --- executions -------------------------------------------------------------------------------


async def test_start_execution_is_compare_and_set(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples)
    first, second = samples.execution(draft.id), samples.execution(draft.id)
    event = samples.event(execution_id=first.id)
    assert await store.writes.start_execution(draft.id, ("draft",), confirm(), first, [event]) is True
    assert (
        await store.writes.start_execution(draft.id, ("draft",), confirm(), second, [samples.event()])
        is False
    )
    assert await store.writes.get_draft(draft.id) == msgspec.structs.replace(draft, **confirm())
    assert await store.writes.latest_execution(draft.id) == first
    assert await store.writes.list_executions() == [first]
    assert await audit_ids(store) == [event.id]


async def test_start_execution_without_changes_still_checks_the_status(
    store: Store, samples: Samples
) -> None:
    draft = await pending(store, samples, status="confirmed")
    execution = samples.execution(draft.id)
    assert await store.writes.start_execution(draft.id, ("draft",), {}, execution, []) is False
    assert await store.writes.start_execution("drf_missing", ("confirmed",), {}, execution, []) is False
    assert await store.writes.start_execution(draft.id, ("confirmed",), {}, execution, []) is True
    assert await store.writes.get_draft(draft.id) == draft


async def test_finish_execution_replaces_it_and_updates_the_draft(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples)
    started = samples.execution(draft.id)
    await store.writes.start_execution(draft.id, ("draft",), confirm(), started, [])
    finished = msgspec.structs.replace(
        started, status="success", result={"id": 42, "lines": [1.5, "x", None]}, finished_at=LATER
    )
    event = samples.event(execution_id=started.id)
    await store.writes.finish_execution(finished, {"note": "done", "updated_at": LATER}, [event])
    assert await store.writes.latest_execution(draft.id) == finished
    assert await store.writes.list_executions(status="started") == []
    stored = await store.writes.get_draft(draft.id)
    assert stored is not None
    assert (stored.status, stored.note) == ("confirmed", "done")
    assert await audit_ids(store) == [event.id]


async def test_a_failed_execution_keeps_its_sanitised_error(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples, status="confirmed")
    started = samples.execution(draft.id)
    await store.writes.start_execution(draft.id, ("confirmed",), {}, started, [])
    failed = msgspec.structs.replace(
        started, status="failed", error={"code": "agent.backend_error", "message": "Backend failed."}
    )
    failure = {"status": "failed", "failure_code": "agent.backend_error", "updated_at": LATER}
    await store.writes.finish_execution(failed, failure, [])
    assert await store.writes.latest_execution(draft.id) == failed
    assert await store.writes.get_draft(draft.id) == msgspec.structs.replace(draft, **failure)


async def test_finishing_an_unknown_execution_writes_nothing(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples)
    unknown = samples.execution(draft.id, status="success")
    with pytest.raises(KeyError):
        await store.writes.finish_execution(unknown, {"note": "x"}, [samples.event()])
    assert await store.writes.get_draft(draft.id) == draft
    assert await store.writes.list_executions() == []
    assert await audit_ids(store) == []


async def test_executions_are_listed_newest_first_by_creation_order(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples, status="confirmed")
    other = await pending(store, samples, status="confirmed")
    # created_at runs backwards: creation order, not the timestamp, decides.
    executions = [
        samples.execution(d.id, created_at=T0 - dt.timedelta(minutes=n))
        for n, d in enumerate((draft, other, draft))
    ]
    for execution in executions:
        await store.writes.start_execution(execution.draft_id, ("confirmed",), {}, execution, [])
    done = msgspec.structs.replace(executions[1], status="success", result="ok", finished_at=LATER)
    await store.writes.finish_execution(done, {}, [])
    assert await store.writes.latest_execution(draft.id) == executions[2]
    assert await store.writes.latest_execution(other.id) == done
    assert await store.writes.latest_execution("drf_missing") is None
    assert await store.writes.list_executions() == [executions[2], done, executions[0]]
    assert await store.writes.list_executions(status="started") == [executions[2], executions[0]]
    assert await store.writes.list_executions(limit=0) == [executions[2]]


# --- approvals --------------------------------------------------------------------------------


async def test_approvals_count_distinct_approve_votes(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples, approvals_required=2)
    alice = samples.approval(draft.id, "alice", note="fine")
    bob = samples.approval(draft.id, "bob", decision="reject")
    carol = samples.approval(draft.id, "carol")
    assert await store.writes.add_approval(alice, [samples.event()]) == 1
    assert await store.writes.add_approval(bob, []) == 1
    assert await store.writes.add_approval(carol, []) == 2
    assert await store.writes.list_approvals(draft.id) == [alice, bob, carol]
    assert await store.writes.list_approvals("drf_missing") == []


async def test_a_second_vote_by_the_same_approver_is_refused(store: Store, samples: Samples) -> None:
    draft = await pending(store, samples)
    vote = samples.approval(draft.id, "alice")
    await store.writes.add_approval(vote, [])
    with pytest.raises(KeyError):
        await store.writes.add_approval(
            samples.approval(draft.id, "alice", decision="reject"), [samples.event()]
        )
    assert await store.writes.list_approvals(draft.id) == [vote]
    assert await audit_ids(store) == []


async def test_a_vote_on_an_unknown_draft_is_refused(store: Store, samples: Samples) -> None:
    with pytest.raises(KeyError):
        await store.writes.add_approval(samples.approval("drf_missing", "alice"), [samples.event()])
    assert await audit_ids(store) == []


# --- expiry and purge -------------------------------------------------------------------------


async def test_expire_drafts_expires_due_pending_drafts_with_their_events(
    store: Store, samples: Samples
) -> None:
    now = T0 + dt.timedelta(hours=2)
    due = await pending(store, samples, expires_at=now - dt.timedelta(minutes=1))
    on_the_dot = await pending(store, samples, expires_at=now)
    not_yet = await pending(store, samples, expires_at=now + dt.timedelta(microseconds=1))
    confirmed = await pending(store, samples, status="confirmed", expires_at=now - dt.timedelta(hours=1))
    seen: list[DraftRecord] = []

    def make_events(draft: DraftRecord) -> list[AuditEvent]:
        seen.append(draft)
        return [samples.event(action="agent.draft.expired", draft_id=draft.id)]

    expired = await store.writes.expire_drafts(now, make_events)
    expected = [msgspec.structs.replace(d, status="expired", updated_at=now) for d in (due, on_the_dot)]
    assert expired == expected
    assert seen == expected
    for draft in expected:
        assert await store.writes.get_draft(draft.id) == draft
    assert await store.writes.get_draft(not_yet.id) == not_yet
    assert await store.writes.get_draft(confirmed.id) == confirmed
    events = await store.audit.list(AuditQuery(action="agent.draft.expired"))
    assert [event.draft_id for event in events] == [on_the_dot.id, due.id]
    assert await store.writes.expire_drafts(now, make_events) == []


async def test_purge_deletes_expired_preflights_and_idempotency_keys(store: Store, samples: Samples) -> None:
    now = T0 + dt.timedelta(hours=1)
    old, fresh = (
        samples.preflight(expires_at=now),
        samples.preflight(expires_at=LATER + dt.timedelta(hours=1)),
    )
    for preflight in (old, fresh):
        await store.writes.create_preflight(preflight, [])
    gone, kept = samples.draft(), samples.draft()
    await store.writes.create_draft(gone, samples.idempotency(gone.id, key="a", expires_at=now), None, [])
    kept_key = samples.idempotency(kept.id, key="b", expires_at=now + dt.timedelta(seconds=1))
    await store.writes.create_draft(kept, kept_key, None, [])
    assert await store.writes.purge(now) == 2
    assert await store.writes.get_preflight(old.id) is None
    assert await store.writes.get_preflight(fresh.id) == fresh
    assert await store.writes.get_idempotency("app_1", "a") is None
    assert await store.writes.get_idempotency("app_1", "b") == kept_key
    assert await store.writes.get_draft(gone.id) == gone
    assert await store.writes.purge(now) == 0
