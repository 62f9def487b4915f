"""Request bodies of the admin plane, as strict Structs (unknown fields are 400s)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

__all__ = ["CreateAppBody", "CreateKeyBody", "PolicyBody"]


class _Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class CreateAppBody(_Body):
    name: str
    scope: Literal["personal", "workspace"] = "workspace"
    description: str = ""
    org_id: str | None = None
    user_id: str | None = None
    service_user_id: str | None = None
    scopes: list[str] = []
    policy: dict[str, Any] = {}


class CreateKeyBody(_Body):
    name: str = "Key"
    expires_at: dt.datetime | None = None


class PolicyBody(_Body):
    network: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
