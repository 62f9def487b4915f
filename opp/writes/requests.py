"""Bodies of the agent write routes (SPEC §2), as strict Structs; stored strings are bounded
(``opp/bounds.py``)."""

from __future__ import annotations

from typing import Any

import msgspec

from opp.bounds import Identifier, LongText, RequestId

__all__ = ["ActionBody", "PreflightBody"]


class _Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, rename="camel"):
    pass


class PreflightBody(_Body):
    action: Identifier
    payload: dict[str, Any] | None = None


class ActionBody(_Body):
    action: Identifier
    payload: dict[str, Any] | None = None
    preflight_id: Identifier | None = None
    execute: bool = False
    force_draft: bool = False
    request_id: RequestId | None = None
    idempotency_key: Identifier | None = None
    justification: LongText | None = None
    preflight_hash: Identifier | None = None
    state_witness_hash: Identifier | None = None
