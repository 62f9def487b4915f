"""Bodies of the agent write routes (SPEC §2), as strict Structs."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["ActionBody", "PreflightBody"]


class _Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="camel"):
    pass


class PreflightBody(_Body):
    action: str
    payload: dict[str, Any] | None = None


class ActionBody(_Body):
    action: str
    payload: dict[str, Any] | None = None
    preflight_id: str | None = None
    execute: bool = False
    force_draft: bool = False
    request_id: str | None = None
    idempotency_key: str | None = None
    justification: str | None = None
    preflight_hash: str | None = None
    state_witness_hash: str | None = None
