"""JSON request bodies: framing, size, content type, nesting depth, syntax and shape, each with its
own precise error, all checked before a byte is decoded.

The size limit is ``gateway.max_body_bytes`` (checked while the body streams in, and up front
against ``Content-Length``); the depth limit is ``gateway.max_json_depth``, checked on the raw bytes
so a deeply nested document never reaches a recursive decoder.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from opp.bounds import refusal
from opp.codes import ReasonCode
from opp.errors import OppError, ValidationFailed

__all__ = ["decode_body", "json_depth_exceeds", "read_body"]

T = TypeVar("T")
_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = frozenset(b"[{")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether the JSON text ``body`` nests arrays/objects deeper than ``limit``.

    Strings are removed first (brackets inside them do not nest); what is left is counted. Works
    on malformed input too (an unterminated string only makes the count more conservative).
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return False
    depth = 0
    for byte in brackets:
        if byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


async def read_body(request: Request[Any, Any, Any]) -> bytes:
    """The raw body within ``gateway.max_body_bytes``; unreadable framing is a 400, never a 500."""
    try:
        return await request.body()
    except RequestEntityTooLarge:
        raise OppError(ReasonCode.PAYLOAD_TOO_LARGE, "Request body too large.") from None
    except InternalServerException:
        # The server ended the body early: malformed chunked framing, or the client went away.
        raise OppError(ReasonCode.BODY_MALFORMED, "The request body could not be read completely.") from None


async def decode_body(request: Request[Any, Any, Any], shape: type[T], max_depth: int) -> T:
    """Decode the body into ``shape`` (a strict msgspec Struct); an empty body is ``{}``."""
    body = await read_body(request)
    if not body.strip():
        body = b"{}"
    else:
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise OppError(ReasonCode.UNSUPPORTED_MEDIA_TYPE, "Send the body as application/json.")
    if json_depth_exceeds(body, max_depth):
        raise OppError(
            ReasonCode.JSON_TOO_DEEP,
            f"JSON nested deeper than {max_depth} levels (gateway.max_json_depth).",
            {"maxDepth": max_depth},
        )
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise OppError(ReasonCode.VALIDATION, "Malformed JSON body.") from None
    if not isinstance(raw, dict):
        raise ValidationFailed([{"code": "type", "path": "", "message": "Expected a JSON object."}])
    try:
        return msgspec.convert(raw, shape)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.search(text)
        path = match.group("path") if match else ""
        code, message = refusal(_PATH.sub("", text))
        raise ValidationFailed([{"code": "invalid", "path": path, "message": message}], code) from None
