"""Bounds on every client string the gateway stores or logs: a maximum length and a character set.

Each body field that is kept (in a draft, an app, a key, an approval or an audit event) is declared
with one of the aliases below (``Identifier``, ``Name``, ``LongText``, ``RequestId``: msgspec
constraints checked while the body is converted); the ``Idempotency-Key`` header and window
action lists go through
:meth:`TextBound.check`. A refusal is ``400 common.string_too_long`` or
``400 common.string_invalid`` naming the field. ``opp docs`` renders :data:`FIELDS` into
``docs/INPUT_LIMITS.md``. Tool payloads are bounded by each tool's own ``input_schema``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

import msgspec

from opp.codes import ReasonCode
from opp.errors import ValidationFailed

__all__ = [
    "FIELDS",
    "IDENTIFIER",
    "LONG_TEXT",
    "NAME",
    "REQUEST_ID",
    "USER_AGENT_MAX",
    "Identifier",
    "LongText",
    "Name",
    "RequestId",
    "TextBound",
    "refusal",
]


@dataclass(frozen=True)
class TextBound:
    """A maximum length (in characters) and the characters allowed."""

    max_length: int
    characters: str
    """The character set in words (docs and error messages)."""
    pattern: str
    """A regular expression over the whole value (``\\A…\\Z``)."""
    min_length: int = 0

    def meta(self) -> msgspec.Meta:
        """The msgspec constraint of a Struct field carrying this bound (see the aliases below)."""
        return msgspec.Meta(min_length=self.min_length, max_length=self.max_length, pattern=self.pattern)

    def check(self, value: str, path: str) -> str:
        """``value`` if it is within the bound, else a ``ValidationFailed`` with the precise code."""
        if not self.min_length <= len(value) <= self.max_length:
            raise ValidationFailed(
                [
                    {
                        "code": "length",
                        "path": path,
                        "message": f"{self.min_length} to {self.max_length} characters.",
                    }
                ],
                ReasonCode.STRING_TOO_LONG if len(value) > self.max_length else ReasonCode.VALIDATION,
            )
        if re.search(self.pattern, value) is None:  # anchored by \A…\Z, as msgspec applies it
            raise ValidationFailed(
                [{"code": "characters", "path": path, "message": f"Allowed characters: {self.characters}."}],
                ReasonCode.STRING_INVALID,
            )
        return value


IDENTIFIER = TextBound(200, "printable ASCII without spaces (0x21-0x7E)", r"\A[\x21-\x7e]*\Z", min_length=1)
REQUEST_ID = TextBound(128, "ASCII letters, digits and . _ : -", r"\A[A-Za-z0-9._:-]*\Z", min_length=1)
NAME = TextBound(200, "any character except control characters", r"\A[^\x00-\x1f\x7f-\x9f]*\Z", min_length=1)
LONG_TEXT = TextBound(
    4000,
    "any character except control characters other than tab, newline and carriage return",
    r"\A[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*\Z",
)
Identifier = Annotated[str, IDENTIFIER.meta()]
RequestId = Annotated[str, REQUEST_ID.meta()]
Name = Annotated[str, NAME.meta()]
LongText = Annotated[str, LONG_TEXT.meta()]

USER_AGENT_MAX = 512
"""A longer ``User-Agent`` is cut to this many characters before it is logged or audited."""

FIELDS: tuple[tuple[str, str, TextBound], ...] = (
    ("POST /actions", "idempotencyKey, Idempotency-Key header", IDENTIFIER),
    ("POST /actions", "requestId", REQUEST_ID),
    ("POST /actions", "preflightId, preflightHash, stateWitnessHash", IDENTIFIER),
    ("POST /actions, /preflight", "action", IDENTIFIER),
    ("POST /actions", "justification", LONG_TEXT),
    ("POST drafts/{id}/approve, reject", "note", LONG_TEXT),
    ("POST /apps", "name", NAME),
    ("POST /apps", "description", LONG_TEXT),
    ("POST /apps", "org_id, user_id, service_user_id, scopes[]", IDENTIFIER),
    ("POST /apps/{id}/keys", "name", NAME),
    ("PATCH /apps/{id}/auto-execute", "allowed_actions[]", IDENTIFIER),
)
"""Where each bound applies (route, fields, bound), in the order ``docs/INPUT_LIMITS.md`` lists them."""

_BOUNDS = (IDENTIFIER, REQUEST_ID, NAME, LONG_TEXT)


def refusal(message: str) -> tuple[ReasonCode, str]:
    """The reason code and client message of a msgspec validation message.

    A value past a bound's maximum length is ``common.string_too_long``, one with characters
    outside its set ``common.string_invalid`` (the message names the set, not the regex); anything
    else is a plain ``common.validation``.
    """
    if message.startswith("Expected `str` of length <= "):
        return ReasonCode.STRING_TOO_LONG, message.replace(
            "Expected `str` of length <=", "At most"
        ) + " characters."
    if message.startswith("Expected `str` matching regex "):
        for bound in _BOUNDS:
            if repr(bound.pattern) in message:
                return ReasonCode.STRING_INVALID, f"Allowed characters: {bound.characters}."
        return ReasonCode.STRING_INVALID, message
    return ReasonCode.VALIDATION, message
