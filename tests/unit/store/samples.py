"""Record builders shared by the store tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from typing import Any

import msgspec

from opp.store import (
    AdminTokenRecord,
    AppRecord,
    ApprovalRecord,
    AuditEvent,
    DraftRecord,
    ExecutionRecord,
    IdempotencyRecord,
    KeyRecord,
    PreflightRecord,
)

__all__ = ["T0", "Samples", "stored_key", "token_hash", "unsealed"]

TTL = dt.timedelta(minutes=10)

T0 = dt.datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def unsealed(events: list[AuditEvent]) -> list[AuditEvent]:
    """``events`` without the hash-chain fields the store adds (tested in tests/unit/audit)."""
    return [msgspec.structs.replace(event, seq=None, prev_hash=None, hash=None) for event in events]


class Samples:
    """Builds valid records with unique ids; keyword arguments override any field."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def _next(self) -> int:
        return next(self._counter)

    def app(self, **fields: Any) -> AppRecord:
        n = self._next()
        values: dict[str, Any] = {
            "id": f"app_{n}",
            "name": f"App {n}",
            "scope": "workspace",
            "org_id": "org_1",
            "scopes": ("ledger.read", "transaction.write"),
            "policy": {"network": {"allowed_ips": ["10.0.0.0/8"]}, "data": {"ledger_ids": [1, 2]}},
            "auto_execute": {"enabled": False},
            "created_by": "user_admin",
            "created_at": T0 + dt.timedelta(seconds=n),
            "updated_at": T0 + dt.timedelta(seconds=n),
        }
        return AppRecord(**(values | fields))

    def key(self, app_id: str, **fields: Any) -> KeyRecord:
        n = self._next()
        token = f"op_token_{n}"
        values: dict[str, Any] = {
            "id": f"key_{n}",
            "app_id": app_id,
            "name": f"Key {n}",
            "token_prefix": token[:12],
            "token_hash": token_hash(token),
            "created_at": T0 + dt.timedelta(seconds=n),
        }
        return KeyRecord(**(values | fields))

    def admin_token(self, **fields: Any) -> AdminTokenRecord:
        n = self._next()
        values: dict[str, Any] = {
            "id": f"adm_{n}",
            "name": f"Admin {n}",
            "roles": ("admin", "auditor"),
            "token_hash": token_hash(f"opa_token_{n}"),
            "token_prefix": f"opa_token_{n}"[:12],
            "created_at": T0,
        }
        return AdminTokenRecord(**(values | fields))

    def event(self, **fields: Any) -> AuditEvent:
        n = self._next()
        values: dict[str, Any] = {
            "id": f"aud_{n}",
            "action": "agent.ledger.list.read",
            "status": "success",
            "code": "common.success",
            "created_at": T0 + dt.timedelta(seconds=n),
        }
        return AuditEvent(**(values | fields))

    def preflight(self, **fields: Any) -> PreflightRecord:
        n = self._next()
        values: dict[str, Any] = {
            "id": f"pre_{n}",
            "app_id": "app_1",
            "key_id": "key_1",
            "actor_user_id": "user_1",
            "action": "transaction.create",
            "payload": {"amount": n, "memo": "rent"},
            "impact": {"balance_after": 100 - n},
            "impact_hash": f"{n:064x}",
            "created_at": T0,
            "expires_at": T0 + TTL,
        }
        return PreflightRecord(**(values | fields))

    def draft(self, **fields: Any) -> DraftRecord:
        n = self._next()
        values: dict[str, Any] = {
            "id": f"drf_{n}",
            "app_id": "app_1",
            "key_id": "key_1",
            "actor_user_id": "user_1",
            "action": "transaction.create",
            "risk": "medium",
            "payload": {"amount": n, "tags": ["a", "b"]},
            "status": "draft",
            "policy_snapshot": {"matched": ["rule_1"]},
            "created_at": T0 + dt.timedelta(seconds=n),
            "updated_at": T0 + dt.timedelta(seconds=n),
            "expires_at": T0 + dt.timedelta(seconds=n) + TTL,
        }
        return DraftRecord(**(values | fields))

    def approval(self, draft_id: str, approver: str, **fields: Any) -> ApprovalRecord:
        values: dict[str, Any] = {
            "draft_id": draft_id,
            "approver": approver,
            "decision": "approve",
            "created_at": T0 + dt.timedelta(seconds=self._next()),
        }
        return ApprovalRecord(**(values | fields))

    def execution(self, draft_id: str, **fields: Any) -> ExecutionRecord:
        n = self._next()
        values: dict[str, Any] = {
            "id": f"exe_{n}",
            "draft_id": draft_id,
            "app_id": "app_1",
            "status": "started",
            "created_at": T0 + dt.timedelta(seconds=n),
        }
        return ExecutionRecord(**(values | fields))

    def idempotency(self, draft_id: str, **fields: Any) -> IdempotencyRecord:
        values: dict[str, Any] = {
            "app_id": "app_1",
            "key": "idem-1",
            "fingerprint": "f" * 64,
            "draft_id": draft_id,
            "created_at": T0,
            "expires_at": T0 + dt.timedelta(hours=24),
        }
        return IdempotencyRecord(**(values | fields))


async def stored_key(store: Any, samples: Samples) -> tuple[AppRecord, KeyRecord]:
    """A new app and one key of it, created in ``store``."""
    app = samples.app()
    key = samples.key(app.id)
    await store.apps.create(app)
    await store.keys.create(key)
    return app, key
