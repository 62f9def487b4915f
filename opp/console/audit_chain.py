"""The audit chain as the console reads it: every stored event in chain order, and its verification.

The same readers and verifier as ``opp audit verify`` / ``opp audit export`` (:mod:`opp.audit`).
SQLite gives the stored rows (columns beside the body, the archive anchor); other stores give the
chain through :meth:`~opp.store.protocols.AuditLog.read_chain`.
"""

from __future__ import annotations

import msgspec

from opp.audit.sources import sqlite_events
from opp.audit.verify import StoredEvent, VerifyReport, verify_chain
from opp.store.protocols import AuditLog
from opp.store.sqlite.audit import SqliteAuditLog

__all__ = ["stored_events", "verify_stored"]

_BATCH = 1000


async def stored_events(log: AuditLog) -> list[StoredEvent]:
    if isinstance(log, SqliteAuditLog):
        return list(sqlite_events(log))
    events: list[StoredEvent] = []
    after = 0
    while batch := await log.read_chain(after, _BATCH):
        events += [StoredEvent(msgspec.json.encode(event).decode()) for event in batch]
        after = batch[-1].seq or after + len(batch)
    return events


async def verify_stored(log: AuditLog) -> VerifyReport:
    anchor = log.anchor() if isinstance(log, SqliteAuditLog) else None
    return verify_chain(await stored_events(log), anchor)
