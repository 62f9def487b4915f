"""The credential is verified before the body is parsed; refusals after it are audited (issue 11 item 3)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Gateway
from tests.integration.writes_support import ACTIONS, ADMIN, PREFLIGHT, create_payload

JSON = {"Content-Type": "application/json"}
BODIES: dict[str, tuple[bytes, dict[str, str]]] = {
    "malformed": (b"{not json", JSON),
    "depth bomb": (b"[" * 5000 + b"]" * 5000, JSON),
    "unknown field": (b'{"action": "transaction.create", "bogus": 1}', JSON),
    "wrong content type": (b'{"action": "transaction.create"}', {"Content-Type": "text/plain"}),
    "oversize": (b'{"action": "' + b"x" * 1_100_000 + b'"}', JSON),
    "invalid utf-8": (b'{"action": "\xff"}', JSON),
}
REFUSED_AFTER_AUTH = {
    "malformed": (400, "common.validation"),
    "depth bomb": (400, "common.json_too_deep"),
    "unknown field": (400, "common.validation"),
    "wrong content type": (415, "common.unsupported_media_type"),
    "oversize": (413, "common.payload_too_large"),
    "invalid utf-8": (400, "common.validation"),
}
CREDENTIALS = {
    "none": {},
    "unknown key": {"Authorization": "Bearer op_" + "A" * 43},
    "malformed": {"Authorization": "Basic Zm9vOmJhcg=="},
}


def _code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


@pytest.mark.parametrize("path", [ACTIONS, PREFLIGHT])
@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
async def test_no_valid_credential_is_401_whatever_the_body(
    gateway: Gateway, path: str, body: str, credential: str
) -> None:
    content, headers = BODIES[body]
    response = await gateway.client.post(
        path, content=content, headers={**headers, **CREDENTIALS[credential]}
    )
    assert _code(response) == (401, "agent.token_invalid"), response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", [f"{ADMIN}/apps", f"{ADMIN}/drafts/drf_x/approve"])
@pytest.mark.parametrize("body", sorted(BODIES))
async def test_admin_routes_without_credential_are_401_whatever_the_body(
    gateway: Gateway, path: str, body: str
) -> None:
    content, headers = BODIES[body]
    response = await gateway.client.post(path, content=content, headers=headers)
    assert _code(response) == (401, "admin.unauthorized"), response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")


@pytest.mark.parametrize(
    ("path", "action"), [(ACTIONS, "agent.action.submit"), (PREFLIGHT, "agent.action.preflight")]
)
@pytest.mark.parametrize("body", sorted(BODIES))
async def test_refusals_after_authentication_are_one_audit_event_each(
    gateway: Gateway, path: str, action: str, body: str
) -> None:
    content, headers = BODIES[body]
    response = await gateway.client.post(path, content=content, headers={**headers, **gateway.auth()})
    assert _code(response) == REFUSED_AFTER_AUTH[body], response.text
    events = await gateway.events(action=action)
    assert [(e.status, e.code, e.app_id) for e in events] == [
        ("denied", REFUSED_AFTER_AUTH[body][1], "app_demo")
    ]


@pytest.mark.parametrize("body", sorted(BODIES))
async def test_admin_refusals_after_authentication_are_audited(gateway: Gateway, body: str) -> None:
    content, headers = BODIES[body]
    response = await gateway.client.post(
        f"{ADMIN}/apps", content=content, headers={**headers, **gateway.admin_auth()}
    )
    assert _code(response) == REFUSED_AFTER_AUTH[body], response.text
    events = await gateway.events(action="agent_app.create")
    assert [(e.status, e.code) for e in events] == [("denied", REFUSED_AFTER_AUTH[body][1])]


async def test_a_valid_request_still_works_and_is_audited_once(gateway: Gateway) -> None:
    body = {"action": "transaction.create", "payload": create_payload()}
    response = await gateway.client.post(ACTIONS, json=body, headers=gateway.auth())
    assert response.status_code == 200, response.text
    events = await gateway.events(action="agent.action.submit")
    assert events == [], "a stored draft is audited as agent.action.draft.created, not as a refusal"
    created = await gateway.events(action="agent.action.draft.created")
    assert len(created) == 1 and created[0].tool == "transaction.create"
