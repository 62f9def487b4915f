"""Hostile input classes on every documented route, in process (issue 11 item 2; see hostile.py).

Every response: no 5xx, the envelope, a documented status and schema, no state change when
refused (the checks of ``checks.send_and_check``). A body sent without a valid credential is
always the 401 challenge, whatever it holds.
"""

from __future__ import annotations

from typing import Any

from opp.codes import ReasonCode

from .checks import send_and_check
from .conftest import FuzzGateway
from .hostile import hostile_requests

MINIMUM = 1500
CODES = {code.value for code in ReasonCode}


def test_hostile_inputs_on_every_route(fuzz_gateway: FuzzGateway) -> None:
    for request in hostile_requests(fuzz_gateway.operations, fuzz_gateway.pools):
        status = send_and_check(fuzz_gateway, request)
        if (
            request.credential == "none"
            and request.content is not None
            and request.operation.path != "/healthz"
        ):
            assert status == 401, request.describe()
    assert set(fuzz_gateway.by_operation) == {op.operation_id for op in fuzz_gateway.operations}
    assert fuzz_gateway.sent >= MINIMUM
    statuses = dict(sorted(fuzz_gateway.statuses.items()))
    print(f"fuzz hostile: {fuzz_gateway.sent} requests, statuses {statuses}")


OAUTH_GETS = (
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-authorization-server",
    "/oauth/jwks",
)
FORM = "application/x-www-form-urlencoded"
TOKEN_BODIES: tuple[tuple[bytes, str], ...] = (
    (b"grant_type=client_credentials&client_id=%FF%FE", FORM),
    (b"grant_type=\xff\xfe", FORM),
    (b"grant_type=client_credentials&scope=\xc3\x28", FORM),
    (b"grant_type=%C2%B2&client_id=app_demo", FORM),
    (b"grant_type=client_credentials&grant_type=client_credentials", FORM),
    (b"=&&==&%", FORM),
    (b"grant_type=client_credentials&client_assertion=" + b"a." * 50_000, FORM),
    (b"[" * 50_000 + b"]" * 50_000, "application/json"),
    (b'{"grant_type": "client_credentials"}', "application/json"),
    (b"grant_type=client_credentials", "application/x-www-form-urlencoded; charset=latin-1"),
    (b"x" * 1_100_000, FORM),
)
TOKEN_HEADERS: tuple[dict[str, str], ...] = (
    {},
    {"authorization": "Basic %%%"},
    {"authorization": "Basic " + "QQ==" * 3},
    {"authorization": "Basic w6g6w6g="},  # "è:è" in UTF-8
    {"dpop": "a.b.c"},
    {"dpop": "x" * 9000},
)


def _oauth_envelope(method: str, path: str, response: Any) -> None:
    where = f"{method} {path} -> {response.status_code} {response.text[:200]}"
    assert response.status_code < 500, where
    assert response.headers["content-type"].startswith("application/json"), where
    body = response.json()
    if response.status_code >= 400:
        assert body["ok"] is False and body["code"] in CODES and body["message"], where


def test_hostile_inputs_on_the_oauth_endpoints(fuzz_gateway: FuzzGateway) -> None:
    client, sent = fuzz_gateway.client, 0
    for path in OAUTH_GETS:
        for query in ("", "?" + "x=%FF&limit=%C2%B2", "?" + "a" * 2000):
            for method in ("GET", "POST", "DELETE"):
                _oauth_envelope(method, path + query, client.request(method, path + query))
                sent += 1
    for body, content_type in TOKEN_BODIES:
        for headers in TOKEN_HEADERS:
            response = client.post(
                "/oauth/token", content=body, headers={"content-type": content_type, **headers}
            )
            _oauth_envelope("POST", f"/oauth/token {body[:40]!r} {headers}", response)
            sent += 1
    print(f"fuzz oauth: {sent} requests")
