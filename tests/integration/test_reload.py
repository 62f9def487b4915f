"""Live reload in-process: the admin route, SIGHUP, refusals, in-flight requests, audit."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

from opp.compile.plan import Plan
from opp.tools.api import ToolCall
from tests.integration.conftest import ROOT, _admin_token
from tests.integration.live_gateway import ADMIN, Live, config_text, live, sighup, until

__all__ = ["config_text", "live", "sighup"]  # fixtures used here

LEDGERS = "/api/agent/v1/ledgers"
OLD_DESCRIPTION = "List ledgers in the current workspace."
NEW_DESCRIPTION = "List the ledgers of this workspace (reloaded)."

# A backend whose calls wait for the test to open the gate (see test_in_flight_requests…).
GATE: dict[str, asyncio.Event] = {}


async def gated_ledgers(call: ToolCall) -> Any:
    GATE["entered"].set()
    await GATE["open"].wait()
    org = call.context.tenant
    return {"items": [{"id": "ledger_a", "org_id": org}, {"id": "ledger_b", "org_id": org}]}


async def test_the_admin_route_swaps_in_the_edited_plan(live: Live) -> None:
    assert (await live.manifest_descriptions())["ledger.list"] == OLD_DESCRIPTION
    live.edit(OLD_DESCRIPTION, NEW_DESCRIPTION)

    response = await live.reload()

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] == "reloaded" and data["generation"] == 2 and data["allWorkers"] is False
    assert data["tools"] == len(live.app.plan.tools) and len(data["sha256"]) == 64
    assert (await live.manifest_descriptions())["ledger.list"] == NEW_DESCRIPTION
    [event] = await live.reload_events()
    assert (event.status, event.code) == ("success", "common.success")
    assert event.details["trigger"] == "admin" and event.details["generation"] == 2
    assert event.principal == {"kind": "admin", "name": "test-admin"}


async def test_a_broken_config_is_refused_with_diagnostics_and_the_old_plan_keeps_serving(
    live: Live,
) -> None:
    live.edit("    kind: read\n    risk: low\n    required_scopes: [ledger.read]", "    kind: reed")

    response = await live.reload()

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "common.validation" and "unchanged" in body["message"]
    [diagnostic] = body["details"]["diagnostics"]
    assert diagnostic["file"] == str(live.config)
    assert diagnostic["code"].startswith("config.") and diagnostic["line"] > 0 and diagnostic["col"] > 0
    assert set(diagnostic) == {"file", "line", "col", "code", "message", "hint"}
    assert live.app.generation == 1
    assert (await live.manifest_descriptions())["ledger.list"] == OLD_DESCRIPTION
    ledgers = await live.client.get(LEDGERS, headers=live.auth())
    assert ledgers.status_code == 200
    [event] = await live.reload_events()
    assert (event.status, event.code) == ("denied", "common.validation")
    assert event.details["outcome"] == "refused" and event.details["diagnostics"] == 1


async def test_a_semantic_error_is_refused_too(live: Live) -> None:
    live.edit("required_scopes: [ledger.read]", "required_scopes: [ledger.reed]")

    response = await live.reload()

    assert response.status_code == 400
    codes = {d["code"] for d in response.json()["details"]["diagnostics"]}
    assert codes == {"scope.unknown"}, codes
    assert live.app.generation == 1


async def test_reload_needs_the_admin_role(live: Live) -> None:
    auditor = await _admin_token(live.root, "auditor")
    live.edit(OLD_DESCRIPTION, NEW_DESCRIPTION)

    forbidden = await live.reload(auditor)
    anonymous = await live.client.post(f"{ADMIN}/reload")
    agent = await live.reload(live.token)

    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "admin.forbidden")
    assert (anonymous.status_code, agent.status_code) == (401, 401)
    assert live.app.generation == 1
    assert (await live.manifest_descriptions())["ledger.list"] == OLD_DESCRIPTION
    assert [e.code for e in await live.reload_events()] == ["admin.unauthorized"] * 2 + ["admin.forbidden"]


def _closed(plan: Plan) -> bool:
    """Whether the plan's demo backend was torn down (its state is gone)."""
    try:
        plan.runtimes["demo"].state()  # type: ignore[attr-defined]
    except RuntimeError:
        return True
    return False


async def test_the_old_plan_backends_close_once_replaced(live: Live) -> None:
    old_plan = live.app.plan
    assert not _closed(old_plan)

    assert (await live.reload()).status_code == 200

    await until(lambda: _closed(old_plan))
    live.app.plan.runtimes["demo"].state()  # type: ignore[attr-defined]  # the new one is started
    ledgers = await live.client.get(LEDGERS, headers=live.auth())
    assert [item["id"] for item in ledgers.json()["data"]["items"]] == ["ledger_main", "ledger_ops"]


def _gated(keep: str) -> str:
    text = (ROOT / "examples" / "ledger" / "gateway.yaml").read_text()
    text = text.replace(
        "    backend: {backend: demo, call: list_ledgers}",
        '    backend: {function: "tests.integration.test_reload:gated_ledgers"}',
    )
    return text.replace(
        "keep: app.policy.allowed_ledger_ids == null || item.id in app.policy.allowed_ledger_ids",
        f"keep: {keep}",
    )


@pytest.mark.parametrize("config_text", [_gated('item.id == "ledger_a"')], indirect=True)
async def test_in_flight_requests_finish_on_the_plan_they_started_with(live: Live) -> None:
    GATE.update(entered=asyncio.Event(), open=asyncio.Event())
    old_plan: Plan = live.app.plan
    headers = live.auth()
    in_flight = asyncio.create_task(live.client.get(LEDGERS, headers=headers))
    await GATE["entered"].wait()
    live.edit('keep: item.id == "ledger_a"', 'keep: item.id == "ledger_b"')

    assert (await live.reload()).status_code == 200
    assert live.app.plan is not old_plan
    await asyncio.sleep(0.05)  # let the retiring generation try to close: it must wait
    old_plan.runtimes["demo"].state()  # type: ignore[attr-defined]  # still open while in flight

    GATE["open"].set()
    started_before = await in_flight
    started_after = await live.client.get(LEDGERS, headers=headers)
    assert [item["id"] for item in started_before.json()["data"]["items"]] == ["ledger_a"]
    assert [item["id"] for item in started_after.json()["data"]["items"]] == ["ledger_b"]
    await until(lambda: _closed(old_plan))


@pytest.mark.parametrize("sighup", [True], indirect=True)
async def test_sighup_reloads_and_is_audited(live: Live) -> None:
    live.edit(OLD_DESCRIPTION, NEW_DESCRIPTION)

    os.kill(os.getpid(), signal.SIGHUP)

    await until(lambda: live.app.generation == 2)
    assert (await live.manifest_descriptions())["ledger.list"] == NEW_DESCRIPTION

    async def audited() -> list[Any]:
        for _ in range(2000):
            events = await live.reload_events()
            if events:
                return events
            await asyncio.sleep(0.005)
        raise AssertionError("no reload event")

    [event] = await audited()
    assert (event.status, event.code) == ("success", "common.success")
    assert event.principal == {"kind": "signal", "name": "SIGHUP"}
    assert event.details["trigger"] == "signal" and event.details["pid"] == os.getpid()


async def test_a_signal_for_an_unchanged_file_does_nothing(live: Live) -> None:
    outcome = await live.app.reload("signal")

    assert (outcome.status, outcome.generation) == ("unchanged", 1)
    assert live.app.generation == 1
    explicit = await live.app.reload("admin")
    assert (explicit.status, explicit.generation) == ("success", 2)


async def test_a_plan_whose_backends_cannot_start_is_not_swapped_in(live: Live) -> None:
    live.edit(OLD_DESCRIPTION, NEW_DESCRIPTION)
    live.edit(
        "    module: opp.demo.ledger",
        "    module: opp.demo.ledger\n    options: {path: gateway.yaml/not-a-directory.db}",
    )

    response = await live.reload()

    assert (response.status_code, response.json()["code"]) == (500, "common.internal_error")
    assert live.app.generation == 1
    assert (await live.manifest_descriptions())["ledger.list"] == OLD_DESCRIPTION
    [event] = await live.reload_events()
    assert (event.status, event.details["outcome"]) == ("failed", "failed")
