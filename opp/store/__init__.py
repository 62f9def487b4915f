"""Durable state: records, the ``Store`` protocols, and the memory, SQLite and PostgreSQL backends."""

from __future__ import annotations

from opp.store.factory import STORE_KINDS, open_store
from opp.store.memory import MemoryStore
from opp.store.migrations import SchemaVersionError
from opp.store.protocols import AdminTokenStore, AppStore, AuditLog, KeyStore, Store
from opp.store.records import AdminTokenRecord, AppRecord, AuditEvent, AuditQuery, KeyRecord
from opp.store.rules import MAX_AUDIT_PAGE
from opp.store.sqlite import SqliteStore
from opp.store.write_protocols import WriteStore
from opp.store.write_records import (
    ApprovalRecord,
    DraftQuery,
    DraftRecord,
    DraftStatus,
    ExecutionRecord,
    IdempotencyRecord,
    PreflightRecord,
)
from opp.store.write_rules import MAX_WRITE_PAGE

__all__ = [
    "MAX_AUDIT_PAGE",
    "MAX_WRITE_PAGE",
    "STORE_KINDS",
    "AdminTokenRecord",
    "AdminTokenStore",
    "AppRecord",
    "AppStore",
    "ApprovalRecord",
    "AuditEvent",
    "AuditLog",
    "AuditQuery",
    "DraftQuery",
    "DraftRecord",
    "DraftStatus",
    "ExecutionRecord",
    "IdempotencyRecord",
    "KeyRecord",
    "KeyStore",
    "MemoryStore",
    "PreflightRecord",
    "SchemaVersionError",
    "SqliteStore",
    "Store",
    "WriteStore",
    "open_store",
]
