"""The OPP envelope (SPEC §3) and the one place reason codes become HTTP statuses."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response

from opp.clock import iso
from opp.codes import ReasonCode
from opp.errors import OppError

__all__ = ["JSON", "error_body", "error_response", "success_body", "success_response"]

JSON = "application/json"
_encoder = msgspec.json.Encoder(enc_hook=lambda value: iso(value) if hasattr(value, "tzinfo") else str(value))


class _Success(msgspec.Struct):
    ok: bool
    code: str
    data: Any


def success_body(data: Any) -> bytes:
    return _encoder.encode(_Success(ok=True, code=ReasonCode.SUCCESS.value, data=data))


def success_response(data: Any, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(success_body(data), status_code=200, media_type=JSON, headers=headers)


def error_body(code: ReasonCode, message: str, details: dict[str, Any] | None = None) -> bytes:
    payload: dict[str, Any] = {"ok": False, "code": code.value, "message": message}
    if details:
        payload["details"] = details
    return _encoder.encode(payload)


def error_response(error: OppError, headers: dict[str, str] | None = None) -> Response[bytes]:
    merged = {**(error.headers or {}), **(headers or {})}
    return Response(
        error_body(error.code, error.message, error.details),
        status_code=error.status,
        media_type=JSON,
        headers=merged or None,
    )
