"""Verify the audit hash chain: find the first event where it breaks, and why.

The events are read in storage order (SQLite ``insert_order``; line order of a JSONL file). From
the start — ``seq`` 1 after :data:`~opp.audit.chain.GENESIS_HASH`, or the event after an anchor
left by archiving a prefix — each event must carry the next ``seq``, the previous event's ``hash``
as ``prev_hash``, and a ``hash`` that is the SHA-256 of its own canonical JSON. That catches:

- **modification** of a sealed field (its hash no longer matches), or of one of the SQLite columns
  copied beside the body for filtering (it no longer matches the body);
- **deletion** (the next event has a later ``seq`` than expected and links to a missing hash);
- **insertion** (an event whose ``seq``, link or hash does not fit, or without ``seq`` at all);
- **reordering** (``seq`` out of storage order).

The break is reported at the ``seq`` where the chain stops holding and the id of the event found
there. Deleting the *newest* events leaves a shorter chain that still verifies: to catch that,
compare with a head recorded elsewhere (``checkpoint``). Events stored before the chain existed
(``seq`` absent) are allowed only before the first chained event and are counted, not verified.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import msgspec

from opp.audit.chain import EMPTY_CHAIN, ChainHead, event_hash
from opp.store.codec import encode_timestamp

__all__ = ["ChainBreak", "StoredEvent", "VerifyReport", "verify_chain"]


class StoredEvent(NamedTuple):
    """One stored event: its JSON ``body`` and, in SQL stores, the ``columns`` copied beside it."""

    body: str
    columns: Mapping[str, Any] | None = None


class ChainBreak(msgspec.Struct, frozen=True, kw_only=True):
    """Where the chain first fails: the ``seq`` expected there and the event found in its place."""

    seq: int
    event_id: str | None
    reason: str


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    verified: int
    """Chained events that verified before the break (or all of them)."""
    unchained: int
    """Events stored before the chain existed (no ``seq``), ahead of the first chained one."""
    start: ChainHead
    """Where verification started: ``(0, GENESIS_HASH)`` or the archive anchor."""
    head: ChainHead
    """The last event that verified."""
    broken: ChainBreak | None = None


class _Broken(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _as_column(name: str, value: Any) -> Any:
    """A body value in the form the SQL column stores it."""
    if name == "created_at" and isinstance(value, str):
        return encode_timestamp(dt.datetime.fromisoformat(value))
    return value


def _check(
    stored: StoredEvent, body: dict[str, Any], head: ChainHead, checkpoint: ChainHead | None
) -> ChainHead:
    """The new head after ``body``; raises :class:`_Broken` if it does not extend ``head``."""
    expected = head.seq + 1
    seq = body.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise _Broken("event without a seq inside the chain (inserted)")
    if seq > expected:
        raise _Broken(f"seq {expected} is missing: found seq {seq} (events deleted or reordered)")
    if seq < expected:
        raise _Broken(f"found seq {seq} where seq {expected} belongs (events inserted or reordered)")
    if body.get("prev_hash") != head.hash:
        raise _Broken(f"prev_hash does not match the hash of seq {head.seq} (an event was replaced)")
    digest = event_hash(body)
    if body.get("hash") != digest:
        raise _Broken("hash does not match the event's contents (the event was modified)")
    for name, value in (stored.columns or {}).items():
        if value != _as_column(name, body.get(name)):
            raise _Broken(f"column {name!r} differs from the sealed event (the row was modified)")
    if checkpoint is not None and checkpoint.seq == seq and checkpoint.hash != digest:
        raise _Broken("hash differs from the checkpoint recorded earlier (the chain was rewritten)")
    return ChainHead(seq, digest)


def _body(stored: StoredEvent) -> dict[str, Any]:
    try:
        body = msgspec.json.decode(stored.body)
    except msgspec.DecodeError:
        raise _Broken("the stored event is not valid JSON") from None
    if not isinstance(body, dict):
        raise _Broken("the stored event is not a JSON object")
    return body


def _event_id(stored: StoredEvent) -> str | None:
    if stored.columns is not None and stored.columns.get("id") is not None:
        return str(stored.columns["id"])
    try:
        body = msgspec.json.decode(stored.body)
    except msgspec.DecodeError:
        return None
    return str(body["id"]) if isinstance(body, dict) and "id" in body else None


def _unchained(stored: StoredEvent, body: dict[str, Any]) -> bool:
    columns = stored.columns or {}
    return body.get("seq") is None and columns.get("seq") is None


def verify_chain(
    events: Iterable[StoredEvent], anchor: ChainHead | None = None, checkpoint: ChainHead | None = None
) -> VerifyReport:
    """Verify ``events`` (in storage order) from ``anchor`` (default: the genesis).

    Args:
        events: The stored events, oldest first.
        anchor: The last event of an archived prefix; the first event must follow it.
        checkpoint: A ``(seq, hash)`` recorded elsewhere earlier; the chain must still contain it
            (this catches deleted newest events).
    """
    start = anchor or EMPTY_CHAIN
    head, verified, unchained = start, 0, 0
    broken: ChainBreak | None = None
    for stored in events:
        try:
            body = _body(stored)
            if head == EMPTY_CHAIN and _unchained(stored, body):
                unchained += 1
                continue
            head = _check(stored, body, head, checkpoint)
        except _Broken as failure:
            broken = ChainBreak(seq=head.seq + 1, event_id=_event_id(stored), reason=failure.reason)
            break
        verified += 1
    if broken is None and checkpoint is not None and head.seq < checkpoint.seq:
        reason = f"the chain ends at seq {head.seq}, before the checkpoint (events deleted)"
        broken = ChainBreak(seq=head.seq + 1, event_id=None, reason=reason)
    return VerifyReport(
        ok=broken is None, verified=verified, unchained=unchained, start=start, head=head, broken=broken
    )
