"""Sealing: every store appends events onto one hash chain, on every path that inserts events."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opp.audit.chain import (
    EMPTY_CHAIN,
    GENESIS_HASH,
    ChainHead,
    event_hash,
    head_of,
    seal,
    seal_after,
    stored_value,
)
from opp.audit.verify import StoredEvent, verify_chain
from opp.store import AuditEvent, AuditQuery, Store
from opp.writes.jcs import canonical_bytes
from tests.unit.audit.test_canonical import json_values, keys, strings

from .conftest import T0, make_event


def test_hash_is_sha256_of_the_canonical_event_without_its_hash() -> None:
    sealed = seal(make_event(), 7, "ab" * 32)
    value = msgspec.to_builtins(sealed)
    del value["hash"]
    assert value["seq"] == 7 and value["prev_hash"] == "ab" * 32
    assert sealed.hash == hashlib.sha256(canonical_bytes(value)).hexdigest()
    assert event_hash(msgspec.json.decode(msgspec.json.encode(sealed))) == sealed.hash


def test_sealing_links_each_event_to_the_previous_hash_and_replaces_caller_values() -> None:
    forged = make_event(seq=99, prev_hash="f" * 64, hash="e" * 64)
    first, second = seal_after(EMPTY_CHAIN, [forged, make_event()])
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert head_of(second) == ChainHead(2, str(second.hash))
    assert first.hash != "e" * 64


def test_the_hash_covers_every_field_and_the_link() -> None:
    event = make_event()
    base = seal(event, 1, GENESIS_HASH).hash
    assert seal(msgspec.structs.replace(event, code="agent.forbidden"), 1, GENESIS_HASH).hash != base
    assert seal(msgspec.structs.replace(event, details={"args": {"page": 0}}), 1, GENESIS_HASH).hash != base
    assert seal(event, 2, GENESIS_HASH).hash != base
    assert seal(event, 1, "1" * 64).hash != base


def test_a_nan_is_hashed_as_the_null_it_is_stored_as() -> None:
    sealed = seal(make_event(details={"ratio": float("nan")}), 1, GENESIS_HASH)
    assert stored_value(sealed)["details"] == {"ratio": None}
    assert event_hash(msgspec.json.decode(msgspec.json.encode(sealed))) == sealed.hash


def _reference_hash(event: AuditEvent, seq: int, prev_hash: str) -> str:
    """What a verifier computes from the stored JSON alone."""
    linked = msgspec.structs.replace(event, seq=seq, prev_hash=prev_hash, hash=None)
    return event_hash(msgspec.json.decode(msgspec.json.encode(linked)))


@settings(max_examples=400, deadline=None)
@given(
    details=st.dictionaries(keys, json_values, max_size=6),
    principal=st.none() | st.dictionaries(keys, strings, max_size=3),
    policy=st.none() | st.fixed_dictionaries({"matched": st.lists(strings, max_size=3)}),
    text=strings,
)
def test_the_direct_encoding_hashes_as_the_stored_object(
    details: dict[str, Any], principal: dict[str, Any] | None, policy: dict[str, Any] | None, text: str
) -> None:
    """Whichever way :func:`seal` takes (the struct encoded directly, or the stored object), the
    hash is the one a verifier recomputes from the stored JSON."""
    event = make_event(details=details, principal=principal, policy=policy, user_agent=text, tool=text)

    assert seal(event, 3, "ab" * 32).hash == _reference_hash(event, 3, "ab" * 32)


@pytest.mark.parametrize(
    "details",
    [
        {"amount": 3.5}, {"amount": 3.0}, {"at": T0}, {"n": 2**60}, {"pair": (1, 2)}, {1: "int key"},
        {"x": 1e-9}, {"nested": {"list": [1, "a", None, {"b": 0.25}]}},
    ],
)  # fmt: skip
def test_values_on_either_side_of_the_shortcut_hash_as_stored(details: dict[Any, Any]) -> None:
    event = make_event(details=details)

    assert seal(event, 1, GENESIS_HASH).hash == _reference_hash(event, 1, GENESIS_HASH)


def test_an_unsealed_event_has_no_head() -> None:
    with pytest.raises(ValueError, match="not sealed"):
        head_of(make_event())


def _stored(events: list[AuditEvent]) -> list[StoredEvent]:
    return [StoredEvent(msgspec.json.encode(event).decode()) for event in events]


async def _chain(store: Store) -> list[AuditEvent]:
    return await store.audit.read_chain(0, 10_000)


async def test_appends_form_one_verifiable_chain(store: Store) -> None:
    await store.audit.append([make_event(), make_event()])
    await store.audit.append([])
    await store.audit.append([make_event()])
    chain = await _chain(store)
    assert [event.seq for event in chain] == [1, 2, 3]
    assert [event.prev_hash for event in chain] == [GENESIS_HASH, chain[0].hash, chain[1].hash]
    report = verify_chain(_stored(chain))
    assert report.ok and report.verified == 3 and report.head == head_of(chain[-1])


async def test_listing_shows_the_chain_fields(store: Store) -> None:
    await store.audit.append([make_event(), make_event()])
    newest, oldest = await store.audit.list(AuditQuery())
    assert (newest.seq, newest.prev_hash) == (2, oldest.hash)


async def test_read_chain_pages_by_seq(store: Store) -> None:
    await store.audit.append([make_event() for _ in range(5)])
    assert [event.seq for event in await store.audit.read_chain(1, 2)] == [2, 3]
    assert [event.seq for event in await store.audit.read_chain(4, 10)] == [5]
    assert await store.audit.read_chain(5, 10) == []


async def test_a_rejected_append_does_not_advance_the_chain(store: Store) -> None:
    taken = make_event()
    await store.audit.append([taken])
    with pytest.raises(KeyError):
        await store.audit.append([make_event(), make_event(id=taken.id)])
    await store.audit.append([make_event()])
    assert [event.seq for event in await _chain(store)] == [1, 2]
    assert verify_chain(_stored(await _chain(store))).ok


async def test_events_committed_with_a_state_change_join_the_same_chain(store: Store) -> None:
    from opp.store import AppRecord

    await store.apps.create(AppRecord(id="app_1", name="a", scope="personal", created_at=T0, updated_at=T0))
    await store.audit.append([make_event()])
    changed = await store.apps.set_auto_execute(
        "app_1", {"enabled": True}, T0, [make_event(action="x.update")]
    )
    assert changed
    await store.audit.append([make_event()])
    chain = await _chain(store)
    assert [(event.seq, event.action) for event in chain][1] == (2, "x.update")
    assert verify_chain(_stored(chain)).ok


async def test_events_of_the_write_lifecycle_join_the_same_chain(store: Store) -> None:
    from tests.unit.store.samples import Samples

    await store.audit.append([make_event()])
    await store.writes.create_preflight(Samples().preflight(), [make_event(action="agent.action.preflight")])
    chain = await _chain(store)
    assert [(event.seq, event.action) for event in chain] == [
        (1, "agent.ledger.list.read"),
        (2, "agent.action.preflight"),
    ]
    assert verify_chain(_stored(chain)).ok
