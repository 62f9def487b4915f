"""Store protocols: the only way domain code touches durable state.

Each backend (``opp/store/memory`` for tests, ``opp/store/sqlite`` embedded on one host,
``opp/store/postgres`` shared by replicas) implements :class:`Store`. Methods are async so a
network database fits behind them. Every backend passes the same contract suite
(``tests/unit/store/test_store_contract.py`` and ``test_write_store_contract.py``).
"""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Any, Protocol

from opp.store.console_protocols import ConsoleStore
from opp.store.records import AdminTokenRecord, AppRecord, AuditEvent, AuditQuery, KeyRecord, OAuthKeyRecord
from opp.store.write_protocols import WriteStore

__all__ = ["AdminTokenStore", "AppStore", "AuditLog", "KeyStore", "OAuthKeyStore", "Store"]


class AppStore(Protocol):
    async def get(self, app_id: str) -> AppRecord | None: ...

    async def list(self) -> list[AppRecord]:
        """Every app, oldest first (by ``created_at``, then ``id``)."""
        ...

    async def create(self, app: AppRecord) -> None:
        """Insert; raises ``KeyError`` if the id exists."""
        ...

    async def upsert_declared(self, app: AppRecord) -> None:
        """Insert or update an app declared in config (GitOps), keeping its status and created_at.

        Also kept: ``auto_execute`` and ``created_by``. The overwritten fields are
        ``opp.store.rules.APP_DECLARED_FIELDS``.
        """
        ...

    async def set_status(self, app_id: str, status: str, at: dt.datetime) -> bool:
        """Set status and ``updated_at``; False if unknown; ``ValueError`` for an invalid status."""
        ...

    async def set_policy(self, app_id: str, policy: dict[str, Any], at: dt.datetime) -> bool:
        """Replace the policy and set ``updated_at``; False if the app is unknown."""
        ...

    async def set_auto_execute(
        self,
        app_id: str,
        auto_execute: dict[str, Any],
        at: dt.datetime,
        events: builtins.list[AuditEvent] | None = None,
    ) -> bool:
        """Replace the auto-execute settings and set ``updated_at``, committing ``events`` in the same
        transaction; False (and nothing written) if the app is unknown."""
        ...

    async def delete(self, app_id: str) -> bool:
        """Delete the app and its keys."""
        ...

    async def count(self) -> int: ...


class KeyStore(Protocol):
    async def create(self, key: KeyRecord) -> None:
        """Insert; raises ``KeyError`` if the id or token hash exists or the app does not."""
        ...

    async def upsert_declared(self, key: KeyRecord) -> None:
        """Insert or update a key declared in config, keeping revoked_at/last_used_at.

        The overwritten fields are ``opp.store.rules.KEY_DECLARED_FIELDS``. Raises ``KeyError`` if
        the app does not exist or another key has the same token hash.
        """
        ...

    async def get(self, key_id: str) -> KeyRecord | None: ...

    async def find_by_hash(self, token_hash: str) -> tuple[KeyRecord, AppRecord] | None:
        """The key with this SHA-256 and its app, in one round trip (the hot path).

        Revoked or expired keys and revoked apps are returned too: the caller decides.
        """
        ...

    async def list_for_app(self, app_id: str) -> list[KeyRecord]:
        """The app's keys, revoked ones included, oldest first (by ``created_at``, then ``id``)."""
        ...

    async def revoke(self, key_id: str, at: dt.datetime) -> bool:
        """Revoke one key; False if unknown or already revoked."""
        ...

    async def revoke_all_for_app(self, app_id: str, at: dt.datetime) -> int:
        """Revoke the app's unrevoked keys; returns how many were revoked by this call."""
        ...

    async def touch(self, last_used: dict[str, dt.datetime]) -> None:
        """Record ``last_used_at`` for many keys at once (batched off the hot path).

        One transaction; unknown ids are ignored; a value older than the stored one is ignored,
        so flushes from several workers may arrive in any order.
        """
        ...


class AdminTokenStore(Protocol):
    async def create(self, token: AdminTokenRecord) -> None:
        """Insert; raises ``KeyError`` if the id or token hash exists."""
        ...

    async def find_by_hash(self, token_hash: str) -> AdminTokenRecord | None:
        """The token with this SHA-256, revoked or not (the caller decides)."""
        ...

    async def revoke(self, token_id: str, at: dt.datetime) -> bool:
        """Revoke one admin token; False if unknown or already revoked."""
        ...


class OAuthKeyStore(Protocol):
    """Secrets of the development authorization server, shared by every worker process."""

    async def add(self, record: OAuthKeyRecord) -> None:
        """Insert; a record whose ``kid`` exists is ignored (the stored one is kept)."""
        ...

    async def active(self, use: str) -> list[OAuthKeyRecord]:
        """The unretired records of this ``use``, oldest first (by ``created_at``, then ``kid``)."""
        ...

    async def retire(self, kid: str, at: dt.datetime) -> bool:
        """Set ``retired_at``; False if the kid is unknown or already retired."""
        ...


class AuditLog(Protocol):
    async def append(self, events: list[AuditEvent]) -> None:
        """Durably append events, in order, in one transaction, sealing them onto the hash chain.

        The store sets ``seq``, ``prev_hash`` and ``hash`` (:mod:`opp.audit.chain`) under its write
        lock; values the caller put there are replaced.

        Raises ``KeyError`` (and appends nothing) if an event id already exists.
        """
        ...

    async def read_chain(self, after_seq: int, limit: int) -> list[AuditEvent]:
        """Up to ``limit`` events of the hash chain with ``seq > after_seq``, in ``seq`` order."""
        ...

    async def list(self, query: AuditQuery) -> list[AuditEvent]:
        """Newest first, filtered; ``query.cursor`` is the id of the last event of the previous page.

        "Newest" is insertion order, not ``created_at``. At most ``opp.store.rules.MAX_AUDIT_PAGE``
        events are returned; an unknown cursor gives an empty page.
        """
        ...


class Store(Protocol):
    apps: AppStore
    keys: KeyStore
    admin_tokens: AdminTokenStore
    oauth_keys: OAuthKeyStore
    audit: AuditLog
    writes: WriteStore
    console: ConsoleStore
    """Reviewer-console sessions, sign-in grants and webhook deliveries."""

    async def open(self) -> None:
        """Connect and apply pending schema migrations."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the store is unusable (for ``/readyz``)."""
        ...
