"""The authenticated caller, as every later step of the pipeline sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opp.store.records import AppRecord, KeyRecord

__all__ = ["Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An integration app acting through one credential, with its resolved actor and tenant."""

    app: AppRecord
    key: KeyRecord | None
    actor_user_id: str
    tenant: str | None
    scopes: frozenset[str]
    sub: str
    client_id: str
    claims: dict[str, Any]

    @property
    def key_id(self) -> str | None:
        return self.key.id if self.key else None

    def audit_view(self) -> dict[str, Any]:
        """Who called, for the audit event (never the credential itself)."""
        return {"sub": self.sub, "client_id": self.client_id, "kind": "opaque_key"}
