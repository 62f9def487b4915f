"""Translate a Litestar request into the engine's framework-free :class:`IncomingRequest`."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

from opp.clock import Clock, IdFactory
from opp.engine.request import IncomingRequest

__all__ = ["coerce_query", "incoming"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_INT = re.compile(r"^[+-]?\d{1,18}$")


def incoming(request: Request[Any, Any, Any], clock: Clock, ids: IdFactory) -> IncomingRequest:
    headers = request.headers
    supplied = headers.get("x-request-id")
    request_id = supplied if supplied and _REQUEST_ID.match(supplied) else ids.new("req")
    request.scope.setdefault("state", {})["request_id"] = request_id
    client = request.scope.get("client")
    return IncomingRequest(
        request_id=request_id,
        method=request.scope["method"],
        path=request.scope["path"],
        peer=client[0] if client else None,
        authorization=headers.getall("authorization", []),
        forwarded_for=headers.getall("x-forwarded-for", []),
        user_agent=headers.get("user-agent"),
        received_at=clock.now(),
        credential_in_query="access_token" in request.query_params,
    )


def _coerce(value: str, json_type: str) -> Any:
    if json_type == "integer" and _INT.match(value):
        return int(value)
    if json_type == "number":
        try:
            return float(value) if not _INT.match(value) else int(value)
        except ValueError:
            return value
    if json_type == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def coerce_query(request: Request[Any, Any, Any], types: dict[str, str] | Any) -> dict[str, Any]:
    """Query string → tool input, typed by the input schema; bad values are left for validation."""
    args: dict[str, Any] = {}
    for name, values in request.query_params.dict().items():
        if name == "access_token":
            continue
        json_type = types.get(name, "string")
        if json_type == "array":
            args[name] = list(values)
        elif len(values) > 1:
            args[name] = [_coerce(v, json_type) for v in values]
        else:
            args[name] = _coerce(values[0], json_type)
    return args
