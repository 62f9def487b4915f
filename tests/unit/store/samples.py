"""Record builders shared by the store tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from typing import Any

from opp.store import AdminTokenRecord, AppRecord, AuditEvent, KeyRecord

__all__ = ["T0", "Samples", "token_hash"]

T0 = dt.datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
