"""JSON request bodies: framing, size, content type, nesting depth, syntax and shape, each with its
own precise error, all checked before a byte is decoded.

The size limit is ``gateway.max_body_bytes`` (checked while the body streams in, and up front
against ``Content-Length``); the depth limit is ``gateway.max_json_depth``, checked on the raw bytes
so a deeply nested document never reaches a recursive decoder.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from opp.bounds import refusal
from opp.codes import ReasonCode
from opp.errors import OppError, ValidationFailed

__all__ = ["decode_body", "decode_json_body", "json_depth_exceeds", "read_asgi_body", "read_body"]

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
    if len(body.translate(None, _NOT_BRACKETS)) <= limit:
        return False  # fewer brackets than the limit, those in strings included: not too deep
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


def _too_large() -> OppError:
    # The rest of the body is not read: the connection closes after the answer, and says so, so
    # that a client does not send its next request on it (and find it closed: no response at all).
    return OppError(ReasonCode.PAYLOAD_TOO_LARGE, "Request body too large.", headers={"Connection": "close"})


def _cut_short() -> OppError:
    # The server ended the body early: malformed chunked framing, or the client went away.
    return OppError(ReasonCode.BODY_MALFORMED, "The request body could not be read completely.")


async def read_body(request: Request[Any, Any, Any]) -> bytes:
    """The raw body within ``gateway.max_body_bytes``; unreadable framing is a 400, never a 500."""
    try:
        return await request.body()
    except RequestEntityTooLarge:
        raise _too_large() from None
    except InternalServerException:
        raise _cut_short() from None


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case) in an ASGI header list, as Litestar reads it."""
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def read_asgi_body(
    scope: Any, receive: Callable[[], Awaitable[Any]], max_bytes: int
) -> tuple[bytes, str]:
    """The raw body and content type straight from ASGI ``receive``, with :func:`read_body`'s rules.

    For routes served without the framework's request object (:mod:`opp.http.agent_writes`): the
    same limit, up front against ``Content-Length`` and again while the body streams in, and the
    same errors (``413``, or ``400 body_malformed`` when the client goes away mid-body).
    """
    headers = scope["headers"]
    declared = header(headers, b"content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise OppError(ReasonCode.BODY_MALFORMED, f"Invalid Content-Length: {declared[:40]!r}.")
        if int(declared) > max_bytes:
            raise _too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _cut_short()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise _too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), header(headers, b"content-type") or ""


async def decode_body(request: Request[Any, Any, Any], shape: type[T], max_depth: int) -> T:
    """Decode the body into ``shape`` (a strict msgspec Struct); an empty body is ``{}``."""
    body = await read_body(request)
    return decode_json_body(body, request.headers.get("content-type", ""), shape, max_depth)


def decode_json_body(body: bytes, content_type: str, shape: type[T], max_depth: int) -> T:
    """:func:`decode_body` once the bytes are read: content type, depth, syntax, then shape."""
    if not body.strip():
        body = b"{}"
    elif content_type.split(";", maxsplit=1)[0].strip().lower() != "application/json":
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
