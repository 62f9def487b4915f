"""verify_chain on stored events without a database: each kind of tampering, at the exact event."""

from __future__ import annotations

import msgspec

from opp.audit.chain import EMPTY_CHAIN, event_hash, head_of, seal_after
from opp.audit.verify import StoredEvent, verify_chain
from opp.store import AuditEvent

from .conftest import make_event


def _chain(count: int = 6) -> list[AuditEvent]:
    return seal_after(EMPTY_CHAIN, [make_event() for _ in range(count)])


def _stored(events: list[AuditEvent]) -> list[StoredEvent]:
    return [StoredEvent(msgspec.json.encode(event).decode()) for event in events]


def _bodies(events: list[AuditEvent]) -> list[dict[str, object]]:
    return [msgspec.to_builtins(event) for event in events]


def _as_stored(bodies: list[dict[str, object]]) -> list[StoredEvent]:
    return [StoredEvent(msgspec.json.encode(body).decode()) for body in bodies]


def test_an_intact_chain_reports_its_head() -> None:
    events = _chain()
    report = verify_chain(_stored(events))
    assert report.ok and report.verified == 6 and report.broken is None
    assert report.head == (6, events[-1].hash)


def test_an_empty_chain_is_intact() -> None:
    assert verify_chain([]).ok


def test_a_modified_event() -> None:
    events = _chain()
    bodies = _bodies(events)
    bodies[2]["code"] = "agent.forbidden"
    broken = verify_chain(_as_stored(bodies)).broken
    assert broken is not None and (broken.seq, broken.event_id) == (3, events[2].id)
    assert "modified" in broken.reason


def test_a_modified_and_rehashed_event_breaks_the_next_link() -> None:
    events = _chain()
    bodies = _bodies(events)
    bodies[2]["code"] = "agent.forbidden"
    bodies[2]["hash"] = event_hash(bodies[2])
    broken = verify_chain(_as_stored(bodies)).broken
    assert broken is not None and (broken.seq, broken.event_id) == (4, events[3].id)
    assert "prev_hash" in broken.reason


def test_a_deleted_event() -> None:
    events = _chain()
    broken = verify_chain(_stored(events[:3] + events[4:])).broken
    assert broken is not None and (broken.seq, broken.event_id) == (4, events[4].id)
    assert "missing" in broken.reason


def test_an_inserted_event() -> None:
    events = _chain()
    intruder = StoredEvent(msgspec.json.encode(make_event(id="aud_intruder")).decode())
    broken = verify_chain([*_stored(events[:2]), intruder, *_stored(events[2:])]).broken
    assert broken is not None and (broken.seq, broken.event_id) == (3, "aud_intruder")


def test_a_duplicated_event_and_reordered_events() -> None:
    events = _chain()
    broken = verify_chain(_stored([*events[:3], events[2], *events[3:]])).broken
    assert broken is not None and (broken.seq, broken.event_id) == (4, events[2].id)
    broken = verify_chain(_stored([events[0], events[2], events[1], *events[3:]])).broken
    assert broken is not None and (broken.seq, broken.event_id) == (2, events[2].id)


def test_garbage_is_a_break_not_a_crash() -> None:
    events = _chain(2)
    broken = verify_chain([*_stored(events), StoredEvent("{not json"), StoredEvent("[1]")]).broken
    assert broken is not None and broken.seq == 3 and "not valid JSON" in broken.reason


def test_unchained_events_are_allowed_only_before_the_chain() -> None:
    legacy = [StoredEvent(msgspec.json.encode(make_event()).decode()) for _ in range(2)]
    events = _chain(3)
    report = verify_chain([*legacy, *_stored(events)])
    assert report.ok and report.unchained == 2 and report.verified == 3
    broken = verify_chain([*_stored(events), legacy[0]]).broken
    assert broken is not None and broken.seq == 4 and "without a seq" in broken.reason


def test_verification_from_an_anchor() -> None:
    events = _chain()
    anchor = head_of(events[1])
    assert verify_chain(_stored(events[2:]), anchor).ok
    broken = verify_chain(_stored(events[3:]), anchor).broken
    assert broken is not None and (broken.seq, broken.event_id) == (3, events[3].id)


def test_columns_must_match_the_body() -> None:
    events = _chain(2)
    stored = [
        StoredEvent(
            msgspec.json.encode(event).decode(), {"id": event.id, "seq": event.seq, "status": "success"}
        )
        for event in events
    ]
    assert verify_chain(stored).ok
    stored[1] = StoredEvent(stored[1].body, {"id": events[1].id, "seq": 2, "status": "denied"})
    broken = verify_chain(stored).broken
    assert broken is not None and (broken.seq, broken.event_id) == (2, events[1].id)
    assert "'status'" in broken.reason
