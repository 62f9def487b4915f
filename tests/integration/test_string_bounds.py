"""Client strings that are stored or logged are bounded (issue 11 item 6, docs/INPUT_LIMITS.md)."""

from __future__ import annotations

from typing import Any

import pytest

from opp.bounds import FIELDS, IDENTIFIER, LONG_TEXT, NAME
from tests.integration.conftest import Gateway
from tests.integration.writes_support import ACTIONS, ADMIN, act, create_payload


def _refused(response: Any, code: str, path: str) -> None:
    assert (response.status_code, response.json()["code"]) == (400, code), response.text
    assert response.json()["details"]["issues"][0]["path"] == path


async def _drafts(gateway: Gateway) -> int:
    return len(await gateway.runtime.store.writes.list_drafts(_all_drafts()))


def _all_drafts() -> Any:
    from opp.store.write_records import DraftQuery

    return DraftQuery(limit=200)


AGENT_CASES = {
    "idempotencyKey": ("x" * 300_000, "common.string_too_long"),
    "requestId": ("r" * 129, "common.string_too_long"),
    "justification": ("j" * (LONG_TEXT.max_length + 1), "common.string_too_long"),
    "preflightHash": ("h" * 201, "common.string_too_long"),
}
CHARACTER_CASES = {
    "idempotencyKey": "key with spaces",
    "requestId": "req/1",
    "justification": "bell \x07",
    "stateWitnessHash": "caf\u00e9",
}


@pytest.mark.parametrize("field", sorted(AGENT_CASES))
async def test_too_long_agent_strings_are_refused_and_not_stored(gateway: Gateway, field: str) -> None:
    value, code = AGENT_CASES[field]
    body = {"action": "transaction.create", "payload": create_payload(), field: value}
    _refused(await act(gateway, body), code, field)
    assert await _drafts(gateway) == 0


@pytest.mark.parametrize("field", sorted(CHARACTER_CASES))
async def test_agent_strings_outside_their_character_set_are_refused(gateway: Gateway, field: str) -> None:
    body = {"action": "transaction.create", "payload": create_payload(), field: CHARACTER_CASES[field]}
    response = await act(gateway, body)
    _refused(response, "common.string_invalid", field)
    assert "regex" not in response.json()["message"]
    assert await _drafts(gateway) == 0


async def test_the_idempotency_key_header_is_bounded_too(gateway: Gateway) -> None:
    body = {"action": "transaction.create", "payload": create_payload()}
    long = await act(gateway, body, **{"Idempotency-Key": "k" * 201})
    _refused(long, "common.string_too_long", "Idempotency-Key")
    spaced = await act(gateway, body, **{"Idempotency-Key": "two words"})
    _refused(spaced, "common.string_invalid", "Idempotency-Key")
    events = await gateway.events(action="agent.action.submit")
    assert sorted(e.code for e in events) == ["common.string_invalid", "common.string_too_long"]
    assert await _drafts(gateway) == 0


async def test_strings_at_their_bounds_are_accepted(gateway: Gateway) -> None:
    body = {
        "action": "transaction.create",
        "payload": create_payload(),
        "idempotencyKey": "k" * IDENTIFIER.max_length,
        "justification": "line one\nline\ttwo " + "é" * (LONG_TEXT.max_length - 19),
        "requestId": "r" * 128,
    }
    response = await act(gateway, body)
    assert response.status_code == 200, response.text


ADMIN_CASES = {
    "name": ("n" * (NAME.max_length + 1), "common.string_too_long"),
    "description": ("d" * (LONG_TEXT.max_length + 1), "common.string_too_long"),
    "org_id": ("org demo", "common.string_invalid"),
    "user_id": ("u" * 201, "common.string_too_long"),
}


@pytest.mark.parametrize("field", sorted(ADMIN_CASES))
async def test_admin_app_strings_are_bounded(gateway: Gateway, field: str) -> None:
    value, code = ADMIN_CASES[field]
    body = {"name": "bounded", "org_id": "org_demo", field: value}
    response = await gateway.client.post(f"{ADMIN}/apps", json=body, headers=gateway.admin_auth())
    _refused(response, code, field)
    assert [a.name for a in await gateway.runtime.store.apps.list()] == ["Demo workspace agent"]


async def test_admin_scope_names_and_key_names_are_bounded(gateway: Gateway) -> None:
    body = {"name": "bounded", "org_id": "org_demo", "scopes": ["ledger.read", "s" * 201]}
    response = await gateway.client.post(f"{ADMIN}/apps", json=body, headers=gateway.admin_auth())
    _refused(response, "common.string_too_long", "scopes[1]")
    key = await gateway.client.post(
        f"{ADMIN}/apps/app_demo/keys", json={"name": "bad\x00name"}, headers=gateway.admin_auth()
    )
    _refused(key, "common.string_invalid", "name")


async def test_approval_notes_and_window_actions_are_bounded(gateway: Gateway) -> None:
    draft = (await act(gateway, {"action": "transaction.create", "payload": create_payload()})).json()
    draft_id = draft["data"]["draft"]["id"]
    note = await gateway.client.post(
        f"{ADMIN}/drafts/{draft_id}/reject", json={"note": "n" * 4001}, headers=gateway.admin_auth()
    )
    _refused(note, "common.string_too_long", "note")
    window = {"writes": {"enabled": False, "allowed_actions": ["a" * 201]}}
    response = await gateway.client.patch(
        f"{ADMIN}/apps/app_demo/auto-execute", json=window, headers=gateway.admin_auth()
    )
    _refused(response, "common.string_too_long", "writes.allowed_actions[0]")


async def test_a_long_user_agent_is_cut_before_it_is_audited(gateway: Gateway) -> None:
    headers = {**gateway.auth(), "User-Agent": "u" * 10_000}
    response = await gateway.client.post(
        ACTIONS, json={"action": "nope.nope", "payload": {}}, headers=headers
    )
    assert response.status_code == 400
    events = await gateway.events(action="agent.action.submit")
    assert events[0].user_agent == "u" * 512


def test_every_bound_is_documented() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "INPUT_LIMITS.md").read_text()
    for _, fields, bound in FIELDS:
        assert f"{bound.min_length}..{bound.max_length}" in text and fields.split(", ")[0] in text


async def test_demo_payload_ids_are_bounded_by_their_input_schema(gateway: Gateway) -> None:
    """Tool payloads are bounded by each tool's input_schema; the demo's ids are at most 100 long."""
    body = {"action": "transaction.update", "payload": {"transactionId": "t" * 101, "amount": 3}}
    response = await act(gateway, body)
    _refused(response, "agent.action_invalid", "transactionId")
    listed = await gateway.client.get(
        "/api/agent/v1/transactions", params={"ledgerId": "l" * 101}, headers=gateway.auth()
    )
    _refused(listed, "common.validation", "ledgerId")
