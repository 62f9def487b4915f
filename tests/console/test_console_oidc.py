"""Console sign-in with OpenID Connect against a real OpenID Provider (panva's oidc-provider).

``tests/interop/node/op.mjs`` serves the authorization code flow with PKCE and its development
login pages; the browser goes console → provider → console, and the gateway validates the ID token
(signature from the provider's JWKS, issuer, audience, nonce) and maps its ``roles`` claim through
``oauth.admin.roles``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.console.conftest import CHROMIUM_ARGS, STEP_UP_MAX_AGE_S
from tests.support.interop import NODE_DIR, _background, require_peers
from tests.support.servers import RunningServer, demo_config, free_port, running_server

CLIENT_ID = "opp-console"


@pytest.fixture(scope="module")
def oidc_console(
    chromium: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, Any]]:
    require_peers("node")
    directory = tmp_path_factory.mktemp("console-oidc")
    op_port, gateway_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{op_port}"
    env = {
        "PORT": str(op_port),
        "CLIENT_ID": CLIENT_ID,
        "REDIRECT_URI": f"http://127.0.0.1:{gateway_port}/console/auth/callback",
        "ROLES": json.dumps({"eve": ["visitor"]}),
    }
    with _background(f"op-{op_port}", ["node", "op.mjs"], cwd=NODE_DIR, logs=directory, env=env) as op:
        op.wait_until(lambda: '"ready":true' in op.stdout_path.read_text(encoding="utf-8"))
        overrides = {
            "console": {"oidc": {"issuer": issuer, "client_id": CLIENT_ID, "scopes": ["openid", "roles"]}},
            "oauth": {
                "admin": {"roles": {"approver": "approver", "auditor": "auditor"}},
                "step_up": {"max_age": f"{STEP_UP_MAX_AGE_S}s"},
            },
        }
        config = demo_config(directory, overrides)
        with (
            running_server(config, port=gateway_port) as server,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                yield server, browser
            finally:
                browser.close()


def _provider_login(page: Page, base: str, login: str) -> list[str]:
    """Sign in at the provider's development pages; returns the callback URLs the browser opened."""
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/console/auth/callback" in r.url else None)
    page.goto(f"{base}/console/login")
    page.get_by_role("link", name="Sign in with your identity provider").click()
    _provider_pages(page, login)
    return callbacks


def _provider_pages(page: Page, login: str) -> None:
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any")
    page.locator("button[type=submit]").click()
    consent = page.get_by_role("button", name="Continue")  # the consent page (first login only)
    consent.or_(page.get_by_text(f"{login} (approver)")).first.wait_for()
    if consent.count():
        consent.click()


def test_sign_in_with_the_provider_and_the_callback_works_once(
    oidc_console: tuple[RunningServer, Any],
) -> None:
    server, browser = oidc_console
    page = browser.new_context().new_page()
    callbacks = _provider_login(page, server.base_url, "dana")
    expect(page.get_by_text("dana (approver)")).to_be_visible()
    expect(page).to_have_url(f"{server.base_url}/console/queue")
    assert callbacks and "code=" in callbacks[0] and "state=" in callbacks[0]

    replay = browser.new_context().new_page()
    replay.goto(callbacks[0])
    expect(replay.locator("[role=alert]")).to_contain_text("unknown, expired or already used")
    forged = browser.new_context().new_page()
    forged.goto(re.sub(r"state=[^&]+", "state=forged", callbacks[0]))
    expect(forged.locator("main")).to_contain_text("console.sign_in_failed")

    admin = {"Authorization": f"Bearer {server.admin_token()}"}
    events = httpx.get(
        f"{server.base_url}/api/agent-admin/v1/audit", params={"action": "console.sign_in"}, headers=admin
    ).json()["data"]["items"]
    outcomes = [(e["status"], e["code"], e["details"]["method"], e["performed_by_user_id"]) for e in events]
    assert ("success", "common.success", "oidc", "dana") in outcomes
    assert outcomes.count(("denied", "console.sign_in_failed", "oidc", None)) == 2


def test_an_account_without_a_console_role_is_refused(oidc_console: tuple[RunningServer, Any]) -> None:
    server, browser = oidc_console
    page = browser.new_context().new_page()
    _provider_login(page, server.base_url, "eve")
    expect(page.locator("[role=alert]")).to_contain_text("no console role")
    expect(page.locator("main")).to_contain_text("admin.forbidden")
    page.goto(f"{server.base_url}/console/queue")
    expect(page).to_have_url(re.compile(r"/console/login\?next="))


def test_step_up_signs_in_again_at_the_provider_then_the_high_risk_draft_executes(
    oidc_console: tuple[RunningServer, Any],
) -> None:
    server, browser = oidc_console
    token = server.token()
    response = httpx.post(
        f"{server.base_url}/api/agent/v1/actions",
        json={"action": "transaction.delete", "payload": {"transactionId": "txn_2"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    draft_id = response.json()["data"]["draft"]["id"]
    page = browser.new_context().new_page()
    _provider_login(page, server.base_url, "dana")
    signed_in = time.monotonic()
    expect(page.get_by_text("dana (approver)")).to_be_visible()
    page.goto(f"{server.base_url}/console/drafts/{draft_id}")
    page.wait_for_timeout(max(0.0, STEP_UP_MAX_AGE_S + 1.5 - (time.monotonic() - signed_in)) * 1000)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Sign in again to approve")).to_be_visible()
    page.get_by_role("link", name="Sign in again with your provider").click()
    _provider_pages(page, "dana")  # prompt=login: the provider asks again although its session lives
    expect(page).to_have_url(f"{server.base_url}/console/drafts/{draft_id}")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="Approved and executed")).to_be_visible()
    expect(page.locator(".notice .exec-status")).to_have_text("success")
