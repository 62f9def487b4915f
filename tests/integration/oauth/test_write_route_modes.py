"""Write routes name their tool in the body, which is read after the credential (issue 11 item 3):
the credential and proof are checked first under the loosest mode of the action tools, then the
tool's own DPoP mode applies once the body names it."""

from __future__ import annotations

from tests.integration.oauth.conftest import GatewayFactory, expect_ok, expect_refused

ACTIONS = "/api/agent/v1/actions"
CREATE = {"ledgerId": "ledger_main", "kind": "expense", "amount": 3, "title": "t", "occurredOn": "2030-01-01"}


async def test_a_dpop_required_action_refuses_bearer_after_the_body_names_it(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(tools={"transaction.create": {"dpop": "required"}}) as gw:
        body = {"action": "transaction.create", "payload": CREATE}
        opaque = await gw.client.post(ACTIONS, json=body, headers={"Authorization": f"Bearer {gw.opaque}"})
        expect_refused(opaque, 401, "agent.token_invalid", "invalid_token")
        bearer = await gw.client.post(
            ACTIONS, json=body, headers={"Authorization": f"Bearer {gw.bearer_token()}"}
        )
        expect_refused(bearer, 401, "agent.token_invalid", "invalid_token")
        bound = await gw.client.post(ACTIONS, json=body, headers=gw.dpop("POST", ACTIONS, gw.token()))
        assert expect_ok(bound)["status"] == "draft"
        other = {"action": "transaction.update", "payload": {"transactionId": "txn_1", "amount": 4}}
        allowed = await gw.client.post(ACTIONS, json=other, headers={"Authorization": f"Bearer {gw.opaque}"})
        assert expect_ok(allowed)["status"] == "draft"
        refused = [e for e in await gw.events() if e.action == "agent.action.submit"]
        assert [(e.code, e.tool) for e in refused] == [("agent.token_invalid", "transaction.create")] * 2


async def test_a_dpop_disabled_action_refuses_dpop_after_the_body_names_it(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(tools={"transaction.create": {"dpop": "disabled"}}) as gw:
        body = {"action": "transaction.create", "payload": CREATE}
        bound = await gw.client.post(ACTIONS, json=body, headers=gw.dpop("POST", ACTIONS, gw.token()))
        expect_refused(bound, 401, "agent.dpop_invalid", "invalid_dpop_proof")
        opaque = await gw.client.post(ACTIONS, json=body, headers={"Authorization": f"Bearer {gw.opaque}"})
        assert expect_ok(opaque)["status"] == "draft"


async def test_without_credential_the_challenge_comes_before_the_body(make_gateway: GatewayFactory) -> None:
    async with make_gateway(tools={"transaction.create": {"dpop": "required"}}) as gw:
        response = await gw.client.post(
            ACTIONS, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        expect_refused(response, 401, "agent.token_invalid", None)
