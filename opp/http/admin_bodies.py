"""Request bodies of the admin plane, as strict Structs (unknown fields are 400s; stored strings
are bounded, ``opp/bounds.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

from opp.bounds import Identifier, LongText, Name

__all__ = ["CreateAppBody", "CreateKeyBody", "PolicyBody"]


class _Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class CreateAppBody(_Body):
    name: Name
    scope: Literal["personal", "workspace"] = "workspace"
    description: LongText = ""
    org_id: Identifier | None = None
    user_id: Identifier | None = None
    service_user_id: Identifier | None = None
    scopes: list[Identifier] = []
    policy: dict[str, Any] = {}


class CreateKeyBody(_Body):
    name: Name = "Key"
    expires_at: dt.datetime | None = None


class PolicyBody(_Body):
    network: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
