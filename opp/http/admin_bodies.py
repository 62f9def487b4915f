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
    expires_at_camel: dt.datetime | None = msgspec.field(default=None, name="expiresAt")
    """The reference runtime's spelling of ``expires_at``; either may be sent, not both."""

    @property
    def expiry(self) -> dt.datetime | None:
        return self.expires_at or self.expires_at_camel


class PolicyBody(_Body):
    network: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
