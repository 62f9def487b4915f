"""The audit hash chain (SPEC §9): ``hash = SHA-256(JCS(event without hash))``, ``prev_hash`` included.

Every appended event gets the next ``seq`` and the ``hash`` of its predecessor as ``prev_hash``
(:data:`GENESIS_HASH` for ``seq`` 1), then its own ``hash``. Stores seal events inside the write
transaction that inserts them, after reading the chain head under the same write lock, so workers
sharing one database extend one chain.

The hashed value is the event's JSON object exactly as stored — the event encoded with
``msgspec.json`` and decoded again, minus the ``hash`` member — so a verifier that only has the
stored JSON recomputes the same bytes (a NaN stored as ``null`` is hashed as ``null``).

Sealing takes a shortcut when it can (:func:`_direct_canonical`): the event's fields, except
``hash``, encoded straight from the struct with sorted keys — the same bytes as the stored object
canonicalised, whenever its free-form members (``principal``, ``policy``, ``details``) are plain
JSON that the fast canonical form takes as it is; otherwise the stored object is built and
canonicalised. ``tests/unit/audit/test_chain.py`` checks both give the same hash.

This module imports nothing from :mod:`opp.store` at import time: the stores import it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from opp.writes.jcs import canonical_bytes, is_fast_path

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
_sorted = msgspec.json.Encoder(order="sorted")


@functools.cache
def _unhashed() -> type[msgspec.Struct]:
    """An :class:`AuditEvent` without ``hash`` (its last field), built positionally from its fields."""
    from opp.store.records import AuditEvent  # noqa: PLC0415 - the stores import this module

    fields = msgspec.structs.fields(AuditEvent)
    assert fields[-1].name == "hash", "the shortcut drops the last field"
    return msgspec.defstruct("UnhashedAuditEvent", [(field.name, field.type) for field in fields[:-1]])


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
    canonical = _direct_canonical(linked)
    digest = hashlib.sha256(canonical).hexdigest() if canonical else event_hash(stored_value(linked))
    return msgspec.structs.replace(linked, hash=digest)


def _direct_canonical(event: AuditEvent) -> bytes | None:
    """The canonical bytes of ``event`` without ``hash`` encoded from the struct, or None when its
    free-form members need the stored object (floats outside the fixed range, datetimes, …)."""
    if not (is_fast_path(event.details) and is_fast_path(event.principal) and is_fast_path(event.policy)):
        return None
    try:
        return _sorted.encode(_unhashed()(*msgspec.structs.astuple(event)[:-1]))
    except UnicodeEncodeError:  # a lone surrogate in a string field: the reference reports it
        return None


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
