"""Enumerated hostile inputs (issue 11): the classes random generation rarely reaches.

Depth bombs, Unicode digits, extreme and overflowing timestamps, huge numbers, invalid UTF-8 and
over-long strings — in every query and path parameter of every documented operation (each varied
alone, the others valid), in every top-level body field, in every input property of every action
tool (through ``/preflight`` and ``/actions``, the rest of the payload valid), and as whole bodies.
Deterministic: the same requests every run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from .operations import Operation
from .strategies import FuzzRequest, Pools

__all__ = ["BASE_PAYLOADS", "RAW_VALUES", "TEXT_VALUES", "hostile_requests"]

UNICODE_DIGITS = ("²", "٣", "１２", "߀", "𝟗", "Ⅻ")  # noqa: RUF001 - look-alike digits, on purpose
EXTREME_TIMES = (
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "-0001-01-01",
    "2024-02-30",
    "2024-01-01T24:00:00Z",
    "٢٠٢٤-٠١-٠١",  # noqa: RUF001
)
NUMBERS = ("99999999999999999999999", "-9223372036854775809", "1e400", "NaN", "-0", "0x10")
TEXT_VALUES: tuple[str, ...] = (*UNICODE_DIGITS, *EXTREME_TIMES, *NUMBERS, "x" * 2000, "\x00", "a\u202eb")
"""Values sent as strings (query, path, JSON string fields); URLs stay under the server's 8 KiB."""
RAW_VALUES: tuple[bytes, ...] = (
    b"1e400",
    b"-1e400",
    b"123456789012345678901234567890123456789",
    b"[" * 200 + b"]" * 200,
    b'"' + b"y" * 300_000 + b'"',
    b'"\\u0000"',
)
"""JSON texts put in place of a body field's value."""
INVALID_UTF8 = ("%FF%FE", "%C3%28", "%ED%A0%80", "%F4%90%80%80")
"""Percent-encoded byte sequences that are not UTF-8 (URLs)."""
WHOLE_BODIES: tuple[bytes, ...] = (
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' + b"{" * 5_000 + b"}" * 5_000 + b"}",
    b'{"a":"\xff\xfe"}',
    b'{"a":"\xc3\x28"}',
    b"\xef\xbb\xbf{}",
    b'{"action":"transaction.create","payload":{"title":"\xed\xa0\x80"}}',
)
BASE_PAYLOADS: Mapping[str, dict[str, Any]] = {
    "transaction.create": {
        "ledgerId": "ledger_main",
        "kind": "expense",
        "amount": 3,
        "title": "t",
        "occurredOn": "2030-01-01",
    },
    "transaction.update": {"transactionId": "txn_1", "amount": 7},
    "transaction.delete": {"transactionId": "txn_2"},
    "transaction.hard_delete": {"transactionId": "txn_2"},
}
"""A valid payload per action tool of the demo: one property at a time is replaced."""
_AGENT_WRITES = ("/api/agent/v1/preflight", "/api/agent/v1/actions")


def _credential(operation: Operation, pools: Pools, mode: str) -> list[tuple[str, str]]:
    if mode == "none":
        return []
    name = ("admin" if operation.admin else "agent") if mode == "valid" else mode
    return [("authorization", f"Bearer {pools.credentials[name]}")]


def _base_params(operation: Operation, pools: Pools) -> dict[str, str]:
    """A valid value for each required parameter (a known id where there is one)."""
    params = {}
    for parameter in operation.parameters:
        if parameter.required and parameter.location in ("path", "query"):
            known = pools.ids.get(parameter.name)
            params[parameter.name] = known[0] if known else "x"
    return params


def _url(operation: Operation, path_values: Mapping[str, str], query: str) -> str:
    path = operation.path
    for name, value in path_values.items():
        path = path.replace("{" + name + "}", value)
    return path + ("?" + query if query else "")


def _encoded(values: Mapping[str, str]) -> dict[str, str]:
    return {name: quote(value, safe="") for name, value in values.items()}


def _parameter_cases(operation: Operation, pools: Pools) -> Iterator[FuzzRequest]:
    base = _base_params(operation, pools)
    headers = _credential(operation, pools, "valid")
    for parameter in operation.parameters:
        if parameter.location not in ("path", "query"):
            continue
        encoded_values = [quote(v, safe="") for v in TEXT_VALUES] + list(INVALID_UTF8)
        for encoded in encoded_values:
            path_values = _encoded({k: v for k, v in base.items() if _in(operation, k) == "path"})
            query_values = {k: v for k, v in base.items() if _in(operation, k) == "query"}
            if parameter.location == "path":
                path_values[parameter.name] = encoded
                query = urlencode(query_values)
            else:
                query_values.pop(parameter.name, None)
                query = "&".join(filter(None, [urlencode(query_values), f"{parameter.name}={encoded}"]))
            url = _url(operation, path_values, query)
            yield FuzzRequest(operation, operation.method, url, headers, None, "valid")


def _in(operation: Operation, name: str) -> str:
    return next(p.location for p in operation.parameters if p.name == name)


def _body_properties(operation: Operation) -> list[str]:
    schema = operation.body_schema or {}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = schema["components"]["schemas"][name]
    return sorted(schema.get("properties", {}))


def _json_with(base: Mapping[str, Any], name: str, raw: bytes) -> bytes:
    """``base`` as JSON with ``name`` set to the JSON text ``raw`` (which may be invalid JSON)."""
    rest = json.dumps({k: v for k, v in base.items() if k != name}).encode()
    field = json.dumps(name).encode() + b":" + raw
    return b"{" + field + (b"," + rest[1:] if rest != b"{}" else b"}")


def _raw_values() -> Iterator[bytes]:
    yield from RAW_VALUES
    for text in TEXT_VALUES:
        yield json.dumps(text).encode()


def _body_cases(operation: Operation, pools: Pools) -> Iterator[FuzzRequest]:
    base = _base_params(operation, pools)
    url = _url(operation, _encoded({k: v for k, v in base.items() if _in(operation, k) == "path"}), "")
    json_type = [("content-type", "application/json")]
    for mode in ("none", "valid"):
        headers = _credential(operation, pools, mode) + json_type
        for body in WHOLE_BODIES:
            yield FuzzRequest(operation, operation.method, url, headers, body, mode)
    headers = _credential(operation, pools, "valid") + json_type
    seed = {"action": "transaction.update"} if operation.path in _AGENT_WRITES else {}
    for name in _body_properties(operation):
        for raw in _raw_values():
            yield FuzzRequest(operation, operation.method, url, headers, _json_with(seed, name, raw), "valid")


def _payload_cases(operation: Operation, pools: Pools) -> Iterator[FuzzRequest]:
    """Every input property of every action tool, the rest of its payload valid."""
    headers = [*_credential(operation, pools, "valid"), ("content-type", "application/json")]
    for action, base in BASE_PAYLOADS.items():
        for name in sorted(base):
            for raw in _raw_values():
                payload = _json_with(base, name, raw)
                body = b'{"action":' + json.dumps(action).encode() + b',"payload":' + payload + b"}"
                yield FuzzRequest(operation, operation.method, operation.path, headers, body, "valid")


_STRAY_QUERY = "x=%FF%FE&limit=%C2%B2&since=9999-12-31T23%3A59%3A59-23%3A59&page=1e400&%ED%A0%80=1"


def _stray_cases(operation: Operation, pools: Pools) -> Iterator[FuzzRequest]:
    """Undocumented hostile parameters on every operation, with and without a credential."""
    base = _base_params(operation, pools)
    path_values = _encoded({k: v for k, v in base.items() if _in(operation, k) == "path"})
    query = "&".join(
        filter(
            None, [urlencode({k: v for k, v in base.items() if _in(operation, k) == "query"}), _STRAY_QUERY]
        )
    )
    for mode in ("none", "valid"):
        yield FuzzRequest(
            operation,
            operation.method,
            _url(operation, path_values, query),
            _credential(operation, pools, mode),
            None,
            mode,
        )


def hostile_requests(operations: Sequence[Operation], pools: Pools) -> Iterator[FuzzRequest]:
    """Every hostile case for every operation of the document."""
    for operation in operations:
        yield from _stray_cases(operation, pools)
        yield from _parameter_cases(operation, pools)
        if operation.body_schema is not None:
            yield from _body_cases(operation, pools)
        if operation.path in _AGENT_WRITES:
            yield from _payload_cases(operation, pools)
