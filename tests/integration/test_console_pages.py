"""The console's security rules on the in-process gateway with a frozen clock (no browser).

Sign-in links work once and expire; sessions end after the idle and absolute timeouts; forms need
the CSRF token; high-risk approvals need a recent sign-in; bad input is a 4xx page, never a 5xx;
cookies are HttpOnly, SameSite=Strict and Secure on https.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar.testing import AsyncTestClient

from opp.clock import FrozenClock, IdFactory
from opp.compile import compile_file
from opp.console.sessions import ConsoleSessions
from opp.console.settings import ConsoleSettings
from opp.http.app import create_app
from opp.http.runtime import Runtime
from opp.store.memory import MemoryStore
from opp.store.records import AuditQuery
from tests.integration.conftest import ROOT

MINUTE = dt.timedelta(minutes=1)


class Console:
    def __init__(
        self, client: AsyncTestClient[Any], runtime: Runtime, clock: FrozenClock, token: str
    ) -> None:
        self.client, self.runtime, self.clock, self.token = client, runtime, clock, token
        self.sessions = ConsoleSessions(runtime.store, clock, ConsoleSettings.of(runtime.plan))

    async def link_token(
        self, role: str = "approver", name: str = "alice", next_path: str | None = None
    ) -> str:
        link = await self.sessions.issue_link(name, (role,), next_path)
        return link.split("token=", 1)[1]

    async def sign_in(self, role: str = "approver", name: str = "alice", next_path: str | None = None) -> Any:
        self.client.cookies.clear()
        response = await self.client.post(
            "/console/auth/link",
            data={"token": await self.link_token(role, name, next_path)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return response

    async def csrf(self, path: str = "/console/queue") -> str:
        page = await self.client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)

    async def draft(self, action: str, payload: dict[str, Any]) -> str:
        response = await self.client.post(
            "/api/agent/v1/actions",
            json={"action": action, "payload": payload},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["data"]["draft"]["id"])

    async def events(self, **filters: Any) -> list[Any]:
        await self.runtime.audit.flush()
        return await self.runtime.store.audit.list(AuditQuery(limit=200, **filters))


def _config(tmp_path: Path, overrides: dict[str, Any]) -> Path:
    document = yaml.safe_load((ROOT / "examples" / "ledger" / "gateway.yaml").read_text(encoding="utf-8"))
    document.update(overrides)
    target = tmp_path / "gateway.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return target


@pytest.fixture
def overrides() -> dict[str, Any]:
    return {"oauth": {"step_up": {"max_age": "5m"}}}


@pytest.fixture
async def console(tmp_path: Path, overrides: dict[str, Any]) -> AsyncIterator[Console]:
    plan = compile_file(str(_config(tmp_path, overrides)))
    clock = FrozenClock(dt.datetime.now(dt.UTC))
    runtime = Runtime(plan, store=MemoryStore(), clock=clock, ids=IdFactory())
    async with AsyncTestClient(app=create_app(plan, runtime)) as client:
        await runtime.integrations.bootstrap()
        _, token = await runtime.integrations.add_key("app_demo", "test key")
        yield Console(client, runtime, clock, token)


async def test_a_sign_in_link_works_once_sets_a_strict_cookie_and_is_audited(console: Console) -> None:
    token = await console.link_token(next_path="/console/apps")
    page = await console.client.get(f"/console/auth/link?token={token}")
    assert page.status_code == 200 and 'name="token"' in page.text  # GET only shows the button
    signed = await console.client.post("/console/auth/link", data={"token": token}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/console/apps"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("opp_console=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/console" in cookie and "Secure" not in cookie
    console.client.cookies.clear()
    again = await console.client.post("/console/auth/link", data={"token": token}, follow_redirects=False)
    assert again.status_code == 401 and "console.sign_in_failed" in again.text
    assert "content-security-policy" in again.headers
    events = await console.events(action="console.sign_in")
    assert [(e.status, e.code) for e in reversed(events)] == [
        ("success", "common.success"),
        ("denied", "console.sign_in_failed"),
    ]


async def test_an_expired_or_unknown_link_and_an_open_redirect_are_refused(console: Console) -> None:
    token = await console.link_token(next_path="https://evil.example/")
    console.clock.advance(11 * MINUTE)  # console.link_ttl is 10m
    expired = await console.client.post("/console/auth/link", data={"token": token})
    assert expired.status_code == 401 and "console.sign_in_failed" in expired.text
    unknown = await console.client.post("/console/auth/link", data={"token": "x" * 43})
    assert unknown.status_code == 401
    fresh = await console.link_token(next_path="//evil.example/console")
    signed = await console.client.post("/console/auth/link", data={"token": fresh}, follow_redirects=False)
    assert signed.headers["location"] == "/console"


async def test_sessions_end_after_the_idle_and_the_absolute_timeout(console: Console) -> None:
    await console.sign_in()
    console.clock.advance(29 * MINUTE)
    assert (await console.client.get("/console/queue")).status_code == 200
    console.clock.advance(31 * MINUTE)  # idle 30m
    idle = await console.client.get("/console/queue", follow_redirects=False)
    assert idle.status_code == 303 and idle.headers["location"] == "/console/login?next=/console/queue"
    await console.sign_in()
    for _ in range(12 * 3 - 1):  # active every 20 minutes for 11h40m
        console.clock.advance(20 * MINUTE)
        assert (await console.client.get("/console/queue")).status_code == 200
    console.clock.advance(21 * MINUTE)  # past session_max (12h) since sign-in
    assert (await console.client.get("/console/queue", follow_redirects=False)).status_code == 303


async def test_sign_out_ends_the_session(console: Console) -> None:
    await console.sign_in()
    csrf = await console.csrf()
    out = await console.client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    assert (await console.client.get("/console/queue", follow_redirects=False)).status_code == 303


async def test_forms_need_the_csrf_token_and_refusals_are_audited(console: Console) -> None:
    draft_id = await console.draft("transaction.update", {"transactionId": "txn_1", "amount": 5})
    await console.sign_in()
    url = f"/console/drafts/{draft_id}/approve"
    missing = await console.client.post(url, data={"note": "x"})
    assert missing.status_code == 403 and "console.csrf_invalid" in missing.text
    wrong = await console.client.post(url, data={"csrf": "y" * 43})
    assert wrong.status_code == 403
    csrf = await console.csrf(f"/console/drafts/{draft_id}")
    cross = await console.client.post(url, data={"csrf": csrf}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    events = await console.events(action="agent_admin.draft.approve")
    assert [(e.status, e.code, e.principal) for e in events] == [
        ("denied", "console.csrf_invalid", {"kind": "console", "name": "alice"})
    ] * 3
    approved = await console.client.post(url, data={"csrf": csrf, "note": "fine"})
    assert approved.status_code == 200 and "Approved and executed" in approved.text
    draft = await console.runtime.store.writes.get_draft(draft_id)
    assert draft is not None and draft.status == "confirmed" and draft.confirmed_by_user_id == "alice"


async def test_high_risk_approval_needs_a_recent_sign_in(console: Console) -> None:
    draft_id = await console.draft("transaction.delete", {"transactionId": "txn_2"})
    await console.sign_in()
    csrf = await console.csrf(f"/console/drafts/{draft_id}")
    console.clock.advance(6 * MINUTE)  # oauth.step_up.max_age is 5m
    stale = await console.client.post(f"/console/drafts/{draft_id}/approve", data={"csrf": csrf})
    assert stale.status_code == 401 and "agent.step_up_required" in stale.text
    assert f"--next /console/drafts/{draft_id}" in stale.text
    await console.sign_in(next_path=f"/console/drafts/{draft_id}")
    csrf = await console.csrf(f"/console/drafts/{draft_id}")
    fresh = await console.client.post(f"/console/drafts/{draft_id}/approve", data={"csrf": csrf})
    assert fresh.status_code == 200 and "Approved and executed" in fresh.text


async def test_roles_are_the_admin_planes(console: Console) -> None:
    draft_id = await console.draft("transaction.update", {"transactionId": "txn_1", "amount": 6})
    await console.sign_in("auditor", "carol")
    page = await console.client.get(f"/console/drafts/{draft_id}")
    assert page.status_code == 200 and ">Approve<" not in page.text
    csrf = await console.csrf()
    refused = await console.client.post(f"/console/drafts/{draft_id}/approve", data={"csrf": csrf})
    assert refused.status_code == 403 and "admin.forbidden" in refused.text
    await console.sign_in("approver", "alice")
    assert (await console.client.get("/console/apps")).status_code == 403


@pytest.mark.parametrize(
    ("path", "form", "status", "code"),
    [
        ("/console/apps", {"name": ""}, 400, "common.validation"),
        ("/console/apps", {"name": "x", "scope": "galaxy"}, 400, "common.validation"),
        ("/console/apps", {"name": "x", "org_id": "org_demo", "scopes": "no.such"}, 400, "common.validation"),
        ("/console/apps/app_demo/policy", {"data": "{not json"}, 400, "common.validation"),
        ("/console/apps/app_demo/policy", {"data": '{"max_days": "many"}'}, 400, "common.validation"),
        (
            "/console/apps/app_demo/policy",
            {"data": "{}", "allowed_ips": "300.1.1.1/8"},
            400,
            "common.validation",
        ),
        (
            "/console/apps/app_demo/auto-execute",
            {"window": "writes", "open": "1", "minutes": "soon"},
            400,
            "common.validation",
        ),
        (
            "/console/apps/app_demo/auto-execute",
            {"window": "writes", "open": "1", "minutes": "99999"},
            400,
            "common.validation",
        ),
        ("/console/apps/app_demo/auto-execute", {"window": "all"}, 400, "common.validation"),
        ("/console/apps/app_nope/keys", {}, 404, "agent.not_found"),
        ("/console/keys/key_nope/revoke", {}, 404, "agent.not_found"),
        ("/console/drafts/drf_nope/approve", {}, 404, "agent.draft_not_found"),
    ],
)
async def test_bad_input_is_a_clear_error_page(
    console: Console, path: str, form: dict[str, str], status: int, code: str
) -> None:
    await console.sign_in("admin", "root")
    csrf = await console.csrf()
    response = await console.client.post(path, data={"csrf": csrf, **form})
    assert response.status_code == status, response.text
    assert code in response.text and response.headers["content-type"].startswith("text/html")


async def test_unreadable_forms_and_queries_are_4xx_pages(console: Console) -> None:
    await console.sign_in("admin", "root")
    bad_json = await console.client.post(
        "/console/apps", content=b'{"name": "x"}', headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 415
    bad_bytes = await console.client.post(
        "/console/apps",
        content=b"name=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert bad_bytes.status_code == 400 and "common.body_malformed" in bad_bytes.text
    for query in ("since=yesterday", "until=9999-12-31T23:59:59-23:59", "appId=x&since=2026-13-01"):
        response = await console.client.get(f"/console/audit?{query}")
        assert response.status_code == 400, (query, response.text)
    assert (await console.client.get("/console/audit/export?format=xml")).status_code == 400
    assert (await console.client.get("/console/static/../../etc/passwd")).status_code == 404
    assert (await console.client.get("/console/static/nope.js")).status_code == 404


@pytest.mark.parametrize("overrides", [{"gateway": {"public_url": "https://opp.example.com"}}])
async def test_cookies_are_secure_on_https(console: Console) -> None:
    response = await console.client.post(
        "/console/auth/link",
        data={"token": await console.link_token()},
        headers={"Origin": "https://opp.example.com"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Secure-opp_console=") and "Secure" in cookie and "HttpOnly" in cookie


async def test_console_actions_are_audited_like_their_admin_api_twins(console: Console) -> None:
    await console.sign_in("admin", "root")
    csrf = await console.csrf()
    await console.client.post("/console/apps/app_demo/keys", data={"csrf": csrf, "name": "console key"})
    await console.client.post(
        "/console/apps/app_demo/auto-execute",
        data={"csrf": csrf, "window": "writes", "open": "1", "minutes": "30"},
    )
    await console.client.post("/console/apps/app_demo/revoke", data={"csrf": csrf})
    await console.client.get("/console/audit")
    seen = [
        (e.action, e.status, e.app_id, (e.principal or {}).get("kind"))
        for e in reversed(await console.events())
    ]
    for expected in [
        ("agent_key.create", "success", "app_demo", "console"),
        ("agent_app.auto_execute.update", "success", "app_demo", "console"),
        ("agent_app.revoke", "success", "app_demo", "console"),
        ("agent_admin.audit.read", "success", None, "console"),
    ]:
        assert expected in seen
    app = await console.runtime.store.apps.get("app_demo")
    assert app is not None and app.status == "revoked" and app.auto_execute["writes"]["enabled"] is True
