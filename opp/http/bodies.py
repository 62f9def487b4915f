"""JSON request bodies: content type, size, syntax and shape, each with its own precise error."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request

from opp.codes import ReasonCode
from opp.errors import OppError, ValidationFailed

__all__ = ["decode_body"]

T = TypeVar("T")
_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


async def decode_body(request: Request[Any, Any, Any], shape: type[T]) -> T:
    """Decode the body into ``shape`` (a strict msgspec Struct); an empty body is ``{}``."""
    body = await request.body()
    if not body.strip():
        body = b"{}"
    else:
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise OppError(ReasonCode.UNSUPPORTED_MEDIA_TYPE, "Send the body as application/json.")
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
        message = _PATH.sub("", text)
        raise ValidationFailed([{"code": "invalid", "path": path, "message": message}]) from None
