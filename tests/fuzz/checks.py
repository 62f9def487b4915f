"""What every fuzzed response must satisfy."""

from __future__ import annotations

from typing import Any

import jsonschema

from opp.codes import ReasonCode

from .conftest import FuzzGateway
from .operations import Operation, response_schema
from .strategies import FuzzRequest

__all__ = ["send_and_check"]

_CODES = {code.value for code in ReasonCode}


_VALIDATORS: dict[tuple[int, str, int], Any] = {}


def _validator(document: dict[str, Any], operation: Operation, status: int) -> Any:
    """A validator for the documented body of ``status`` (None when the document has no schema)."""
    key = (id(document), operation.operation_id, status)
    if key not in _VALIDATORS:
        schema = response_schema(document, operation, status)
        _VALIDATORS[key] = None if schema is None else jsonschema.Draft202012Validator(schema)
    return _VALIDATORS[key]


def _documented(gateway: FuzzGateway, request: FuzzRequest) -> Operation | None:
    """The operation the request's method and path template name, if the document has one."""
    for operation in gateway.operations:
        if operation.path == request.operation.path and operation.method == request.method:
            return operation
    return None


def _check_envelope(status: int, body: Any, where: str) -> None:
    assert isinstance(body, dict), where
    if 200 <= status < 300:
        assert body.get("ok") is True and isinstance(body.get("code"), str) and "data" in body, where
    else:
        assert body.get("ok") is False, where
        assert body.get("code") in _CODES, where
        assert isinstance(body.get("message"), str) and body["message"], where


def send_and_check(gateway: FuzzGateway, request: FuzzRequest) -> int:
    """Send ``request``; assert no 5xx, the envelope, the documented status and schema, and no
    state change when it was rejected (4xx). Returns the status."""
    before = gateway.probe.snapshot()
    response = gateway.client.request(
        request.method, request.url, headers=request.headers, content=request.content
    )
    status = response.status_code
    where = f"{request.describe()} -> {status} {response.text[:300]}"
    gateway.sent += 1
    gateway.hit.add(request.operation.operation_id)
    gateway.by_operation[request.operation.operation_id] += 1
    gateway.outcomes[(request.operation.operation_id, status)] += 1
    gateway.statuses[status] += 1
    assert status < 500, where
    assert response.headers.get("content-type", "").startswith("application/json"), where
    body = response.json()
    _check_envelope(status, body, where)
    operation = _documented(gateway, request)
    if operation is None:
        assert status in (404, 405), where
    else:
        assert str(status) in operation.responses, f"undocumented status: {where}"
        validator = _validator(gateway.document, operation, status)
        if validator is not None:
            errors = sorted(validator.iter_errors(body), key=str)
            assert not errors, f"{where}\nschema: {errors[0].message}"
    if 400 <= status < 500:
        assert gateway.probe.snapshot() == before, f"rejected request changed state: {where}"
    return status
