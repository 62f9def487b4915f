"""Our responses against the reference runtime's OpenAPI contract, and our /openapi.json against it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.openapi_contract import ReferenceContract, translate_nullable
from tests.integration.conftest import Gateway

AGENT = "/api/agent/v1"
READ_ROUTES = {
    f"{AGENT}/manifest": {},
    f"{AGENT}/ledgers": {},
    f"{AGENT}/transactions": {"ledgerId": "ledger_main"},
}
ROUTE_ABSENT = {"common.not_found", "common.method_not_allowed"}


@pytest.fixture(scope="module")
def contract() -> ReferenceContract:
    return ReferenceContract.load()


@pytest.mark.parametrize("path", sorted(READ_ROUTES))
async def test_read_route_body_matches_the_documented_200_schema(
    gateway: Gateway, contract: ReferenceContract, path: str
) -> None:
    response = await gateway.client.get(path, params=READ_ROUTES[path], headers=gateway.auth())
    assert response.status_code == 200
    body = response.json()
    assert contract.errors(contract.success_schema("GET", path), body) == []


async def test_manifest_tools_match_the_tool_schema(gateway: Gateway, contract: ReferenceContract) -> None:
    body = (await gateway.client.get(f"{AGENT}/manifest", headers=gateway.auth())).json()
    assert body["data"]["tools"], "the demo app sees tools"
    for tool in body["data"]["tools"]:
        assert contract.errors(contract.component("Tool"), tool) == []


async def test_transactions_page_fields_are_typed_as_documented(
    gateway: Gateway, contract: ReferenceContract
) -> None:
    params = {"ledgerId": "ledger_main", "page": "1", "pageSize": "1"}
    body = (await gateway.client.get(f"{AGENT}/transactions", params=params, headers=gateway.auth())).json()
    assert set(body["data"]) >= {"items", "total", "page", "pageSize", "hasMore"}
    assert body["data"]["hasMore"] is True
    assert contract.errors(contract.success_schema("GET", f"{AGENT}/transactions"), body) == []


@pytest.mark.parametrize(
    ("path", "params", "authenticated", "status"),
    [
        (f"{AGENT}/manifest", {}, False, 401),
        (f"{AGENT}/transactions", {}, True, 400),
        (f"{AGENT}/transactions", {"ledgerId": "ledger_foreign"}, True, 403),
        (f"{AGENT}/nope", {}, True, 404),
    ],
)
async def test_error_bodies_match_error_response(
    gateway: Gateway,
    contract: ReferenceContract,
    path: str,
    params: dict[str, str],
    authenticated: bool,
    status: int,
) -> None:
    headers = gateway.auth() if authenticated else {}
    response = await gateway.client.get(path, params=params, headers=headers)
    assert response.status_code == status
    assert contract.errors(contract.component("ErrorResponse"), response.json()) == []


def test_the_validator_rejects_bodies_that_break_the_contract(contract: ReferenceContract) -> None:
    schema = contract.success_schema("GET", f"{AGENT}/transactions")
    assert contract.errors(schema, {"ok": True, "code": "common.success", "data": {"total": "2"}})
    assert contract.errors(schema, {"ok": False, "code": "common.success", "data": {}})
    tool = {
        "name": "x",
        "description": "y",
        "requiredScopes": [],
        "risk": "extreme",
        "requiresConfirmation": False,
    }
    assert contract.errors(contract.component("Tool"), tool)
    assert contract.errors(contract.component("ErrorResponse"), {"ok": False, "code": "x"})


def test_nullable_becomes_a_type_union(contract: ReferenceContract) -> None:
    preflight = contract.success_schema("POST", f"{AGENT}/preflight")
    body = {
        "ok": True,
        "code": "common.success",
        "data": {"stateWitness": None, "stateWitnessHash": None, "impactHash": "ab"},
    }
    assert contract.errors(preflight, body) == []
    assert contract.errors(preflight, {**body, "data": {"stateWitnessHash": 5}})
    assert translate_nullable({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert translate_nullable({"$ref": "#/x", "nullable": True}) == {
        "anyOf": [{"$ref": "#/x"}, {"type": "null"}]
    }


async def _implemented(gateway: Gateway, method: str, path: str) -> bool:
    concrete = path.replace("{id}", "opp_contract_placeholder")
    response = await gateway.client.request(
        method.upper(), concrete, headers=gateway.auth(), json={} if method == "post" else None
    )
    return response.json().get("code") not in ROUTE_ABSENT


async def test_our_openapi_documents_every_reference_route_we_serve(
    gateway: Gateway, contract: ReferenceContract
) -> None:
    ours: dict[str, Any] = (await gateway.client.get("/openapi.json")).json()
    served = [
        (method, path)
        for path, item in contract.document["paths"].items()
        for method in item
        if await _implemented(gateway, method, path)
    ]
    assert {path for _, path in served} >= set(READ_ROUTES), "the read routes are served"
    for method, path in served:
        assert method in ours["paths"].get(path, {}), f"{method.upper()} {path} is not in /openapi.json"


async def test_transactions_query_parameters_match_the_reference(
    gateway: Gateway, contract: ReferenceContract
) -> None:
    ours: dict[str, Any] = (await gateway.client.get("/openapi.json")).json()
    path = f"{AGENT}/transactions"

    def query(operation: dict[str, Any]) -> dict[str, bool]:
        return {p["name"]: bool(p.get("required")) for p in operation["parameters"] if p["in"] == "query"}

    assert query(ours["paths"][path]["get"]) == query(contract.operation("GET", path))
