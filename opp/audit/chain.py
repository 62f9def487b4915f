"""The audit hash chain (SPEC §9): ``hash = SHA-256(JCS(event without hash))``, ``prev_hash`` included.

Every appended event gets the next ``seq`` and the ``hash`` of its predecessor as ``prev_hash``
(:data:`GENESIS_HASH` for ``seq`` 1), then its own ``hash``. Stores seal events inside the write
transaction that inserts them, after reading the chain head under the same write lock, so workers
sharing one database extend one chain.

The hashed value is the event's JSON object exactly as stored — the event encoded with
``msgspec.json`` and decoded again, minus the ``hash`` member — so a verifier that only has the
stored JSON recomputes the same bytes (a NaN stored as ``null`` is hashed as ``null``).

This module imports nothing from :mod:`opp.store` at run time: the stores import it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from opp.writes.jcs import canonical_bytes

if TYPE_CHECKING:
    from opp.store.records import AuditEvent

__all__ = [
    "EMPTY_CHAIN",
    "GENESIS_HASH",
    "ChainHead",
    "event_hash",
    "head_of",
    "seal",
    "seal_after",
    "stored_value",
]

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first event of a chain."""

_encoder = msgspec.json.Encoder()


class ChainHead(NamedTuple):
    """The last sealed event: its ``seq`` and ``hash`` (``(0, GENESIS_HASH)`` for an empty chain)."""

    seq: int
    hash: str


EMPTY_CHAIN = ChainHead(0, GENESIS_HASH)


def stored_value(event: AuditEvent) -> dict[str, Any]:
    """The event's JSON object as stored, without its ``hash`` member."""
    value: dict[str, Any] = msgspec.json.decode(_encoder.encode(event))
    value.pop("hash", None)
    return value


def event_hash(value: dict[str, Any]) -> str:
    """Hex SHA-256 of the canonical form of an event's JSON object; a ``hash`` member is ignored."""
    if "hash" in value:
        value = {name: item for name, item in value.items() if name != "hash"}
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def seal(event: AuditEvent, seq: int, prev_hash: str) -> AuditEvent:
    """``event`` at position ``seq`` after an event hashed ``prev_hash``, with its own ``hash``."""
    linked = msgspec.structs.replace(event, seq=seq, prev_hash=prev_hash, hash=None)
    return msgspec.structs.replace(linked, hash=event_hash(stored_value(linked)))


def head_of(event: AuditEvent) -> ChainHead:
    """The chain head a sealed event makes; ``ValueError`` for an unsealed one."""
    if event.seq is None or event.hash is None:
        raise ValueError(f"audit event {event.id!r} is not sealed")
    return ChainHead(event.seq, event.hash)


def seal_after(head: ChainHead, events: Sequence[AuditEvent]) -> list[AuditEvent]:
    """``events`` sealed in order after ``head``; whatever chain fields they carried are replaced."""
    sealed: list[AuditEvent] = []
    for event in events:
        sealed.append(seal(event, head.seq + 1, head.hash))
        head = head_of(sealed[-1])
    return sealed
