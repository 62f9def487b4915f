"""Durable state: records, the ``Store`` protocols, and the memory and SQLite backends."""

from __future__ import annotations

from opp.store.factory import STORE_KINDS, open_store
from opp.store.memory import MemoryStore
from opp.store.migrations import SchemaVersionError
from opp.store.protocols import AdminTokenStore, AppStore, AuditLog, KeyStore, Store
from opp.store.records import AdminTokenRecord, AppRecord, AuditEvent, AuditQuery, KeyRecord
from opp.store.rules import MAX_AUDIT_PAGE
from opp.store.sqlite import SqliteStore

__all__ = [
    "MAX_AUDIT_PAGE",
    "STORE_KINDS",
    "AdminTokenRecord",
    "AdminTokenStore",
    "AppRecord",
    "AppStore",
    "AuditEvent",
    "AuditLog",
    "AuditQuery",
    "KeyRecord",
    "KeyStore",
    "MemoryStore",
    "SchemaVersionError",
    "SqliteStore",
    "Store",
    "open_store",
]
