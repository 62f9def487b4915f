"""Translate an ASGI scope into the engine's framework-free :class:`IncomingRequest`.

The agent plane reads the raw scope (header list, query bytes) instead of building framework
request objects: the governed hot path pays only for what it uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from opp.bounds import USER_AGENT_MAX
from opp.clock import Clock, IdFactory
from opp.engine.request import IncomingRequest
from opp.observability.context import REQUEST_ID
from opp.parsing import ascii_int, ascii_number

__all__ = ["coerce_query", "header_values", "incoming", "query_pairs"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_WANTED = {
    b"authorization",
    b"x-forwarded-for",
    b"user-agent",
    b"x-request-id",
    b"dpop",
    b"client-cert",
    b"x-ssl-client-cert",
}


def header_values(scope: Mapping[str, Any]) -> dict[bytes, list[str]]:
    """The headers the pipeline reads, lower-cased names, every value kept (duplicates matter)."""
    found: dict[bytes, list[str]] = {}
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered in _WANTED:
            found.setdefault(lowered, []).append(value.decode("latin-1"))
    return found


def query_pairs(scope: Mapping[str, Any]) -> list[tuple[str, str]]:
    raw: bytes = scope.get("query_string", b"")
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True) if raw else []


def incoming(
    scope: dict[str, Any] | Any, clock: Clock, ids: IdFactory, query: list[tuple[str, str]] | None = None
) -> IncomingRequest:
    headers = header_values(scope)
    supplied = headers.get(b"x-request-id", [None])[-1]
    request_id = supplied if supplied and _REQUEST_ID.match(supplied) else ids.new("req")
    scope.setdefault("state", {})["request_id"] = request_id
    REQUEST_ID.set(request_id)  # for log records of this request's task
    client = scope.get("client")
    pairs = query if query is not None else query_pairs(scope)
    return IncomingRequest(
        request_id=request_id,
        method=scope["method"],
        path=scope["path"],
        peer=client[0] if client else None,
        authorization=headers.get(b"authorization", []),
        forwarded_for=headers.get(b"x-forwarded-for", []),
        user_agent=_user_agent(headers),
        received_at=clock.now(),
        credential_in_query=any(name == "access_token" for name, _ in pairs),
        raw_path=_raw_path(scope),
        dpop=headers.get(b"dpop", []),
        client_cert=headers.get(b"client-cert", []),
        ssl_client_cert=headers.get(b"x-ssl-client-cert", []),
    )


def _user_agent(headers: dict[bytes, list[str]]) -> str | None:
    """The last ``User-Agent``, cut to ``USER_AGENT_MAX`` characters (it is logged and audited)."""
    values = headers.get(b"user-agent")
    return values[-1][:USER_AGENT_MAX] if values else None


def _raw_path(scope: Mapping[str, Any]) -> str:
    """The request target's path as sent (``raw_path``, else the decoded path), without a query."""
    raw: bytes | None = scope.get("raw_path")
    if not raw:
        return str(scope.get("root_path", "")) + str(scope["path"])
    return raw.decode("latin-1").split("?", 1)[0]


def _coerce(value: str, json_type: str) -> Any:
    """ASCII digits only (``opp.parsing``): anything else stays a string for the schema to refuse."""
    if json_type == "integer":
        whole = ascii_int(value)
        return value if whole is None else whole
    if json_type == "number":
        number = ascii_number(value)
        return value if number is None else number
    if json_type == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def coerce_query(pairs: list[tuple[str, str]], types: Mapping[str, str]) -> dict[str, Any]:
    """Query string → tool input, typed by the input schema; bad values are left for validation.

    A repeated parameter that is not an array becomes a list, which the schema then rejects.
    """
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        if name != "access_token":
            grouped.setdefault(name, []).append(value)
    args: dict[str, Any] = {}
    for name, values in grouped.items():
        json_type = types.get(name, "string")
        if json_type == "array":
            args[name] = values
        elif len(values) > 1:
            args[name] = [_coerce(v, json_type) for v in values]
        else:
            args[name] = _coerce(values[0], json_type)
    return args
