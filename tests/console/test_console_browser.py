"""The reviewer console in a real browser (system Chromium) against a real ``opp serve`` (2 workers).

One server and one browser for the module; each test signs its people in with one-time links
(``opp console-link``) and makes its own drafts over the agent API.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import STEP_UP_MAX_AGE_S, Console, screenshot
from tests.console.receiver import verdict

DEADLINE_S = 20.0
SERIOUS = ("serious", "critical")


def _sign_in(
    console: Console, role: str, name: str, next_path: str | None = None, *, cli: bool = False
) -> Page:
    context = console.browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(console.cli_link(role, name) if cli else console.link(role, name, next_path))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"{name} ({role})")).to_be_visible()
    return page


def _draft(console: Console, token: str, action: str, payload: dict[str, Any], **extra: Any) -> str:
    response = httpx.post(
        f"{console.base}/api/agent/v1/actions",
        json={"action": action, "payload": payload, **extra},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["status"] in ("draft", "executed"), data
    return str(data["draft"]["id"])


def _create(console: Console, token: str, title: str) -> str:
    payload = {
        "ledgerId": "ledger_main",
        "kind": "expense",
        "amount": 12.5,
        "title": title,
        "occurredOn": dt.date.today().isoformat(),
    }
    return _draft(console, token, "transaction.create", payload, justification=f"Book {title}")


def _axe(console: Console, page: Page) -> list[Any]:
    """Serious and critical axe-core violations of the page (axe evaluated through the DevTools
    protocol: the page's CSP forbids injected scripts, as it should)."""
    if page.evaluate("typeof axe") == "undefined":
        page.evaluate(console.axe)
    violations = page.evaluate(
        "async () => (await axe.run()).violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.html).slice(0, 3)}))"
    )
    return [v for v in violations if v["impact"] in SERIOUS]


def _poll(check: Any, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _admin(console: Console) -> dict[str, str]:
    return {"Authorization": f"Bearer {console.admin_token}"}


def test_live_queue_impact_and_a_changed_state_warning(console: Console) -> None:
    token = console.agent_token
    alice = _sign_in(console, "approver", "alice", cli=True)
    response = alice.goto(f"{console.base}/console/queue")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"

    draft_id = _draft(
        console,
        token,
        "transaction.update",
        {"transactionId": "txn_1", "amount": 1300},
        justification="Correct the consulting invoice",
    )
    row = alice.get_by_role("link", name=draft_id)
    expect(row).to_be_visible(timeout=DEADLINE_S * 1000)  # arrived by the live refresh, no reload
    expect(alice.locator("tr", has=row)).to_contain_text("transaction.update")
    screenshot(alice, "queue")
    assert _axe(console, alice) == []

    row.click()
    expect(alice.get_by_text("Update transaction txn_1 of ledger ledger_main")).to_be_visible()
    expect(alice.get_by_text("Correct the consulting invoice")).to_be_visible()
    expect(alice.locator("[data-witness=match]")).to_be_visible()
    assert re.search(r"impactHash [0-9a-f]{64}", alice.inner_text("main"))
    impact = alice.locator("table.fields")
    expect(impact).to_contain_text("previousAmount")
    expect(impact).to_contain_text("1300")
    expect(alice.locator("#policy-h + p")).to_contain_text("allowed")

    # Another action changes the transaction: bob opens an auto-execute window for updates in the
    # console, the agent's update executes at once, bob closes the window again.
    bob = _sign_in(console, "admin", "bob")
    bob.goto(f"{console.base}/console/apps/app_demo")
    writes = bob.locator("tr", has=bob.get_by_role("rowheader", name="writes"))
    writes.get_by_label("Minutes").fill("5")
    writes.get_by_label("Actions (empty: all)").fill("transaction.update")
    writes.get_by_role("button", name="Open writes").click()
    expect(bob.locator("tr", has=bob.get_by_role("rowheader", name="writes"))).to_contain_text("open")
    _draft(console, token, "transaction.update", {"transactionId": "txn_1", "notes": "paid"}, execute=True)
    bob.locator("tr", has=bob.get_by_role("rowheader", name="writes")).get_by_role(
        "button", name="Close writes"
    ).click()
    expect(bob.locator("tr", has=bob.get_by_role("rowheader", name="writes"))).to_contain_text("closed")

    alice.reload()
    warning = alice.locator("[data-witness=changed]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("the state changed since this draft was prepared")
    expect(warning.locator("table.diff")).to_contain_text("updatedAt")
    screenshot(alice, "draft-changed")
    assert _axe(console, alice) == []


def test_high_risk_approval_asks_for_step_up_and_then_executes(console: Console) -> None:
    token = console.agent_token
    draft_id = _draft(
        console, token, "transaction.delete", {"transactionId": "txn_2"}, justification="Duplicate"
    )
    alice = _sign_in(console, "approver", "alice")
    signed_in = time.monotonic()
    alice.goto(f"{console.base}/console/drafts/{draft_id}")
    expect(alice.get_by_text("High risk: approving needs a recent sign-in (step-up).")).to_be_visible()
    # The session has to be older than oauth.step_up.max_age: wait out the rest of it.
    alice.wait_for_timeout(max(0.0, STEP_UP_MAX_AGE_S + 1.5 - (time.monotonic() - signed_in)) * 1000)
    alice.get_by_role("button", name="Approve").click()
    expect(alice.get_by_role("heading", name="Sign in again to approve")).to_be_visible()
    expect(alice.locator("main")).to_contain_text("agent.step_up_required")
    expect(alice.locator("main")).to_contain_text(f"--next /console/drafts/{draft_id}")
    screenshot(alice, "step-up")

    fresh = _sign_in(console, "approver", "alice", f"/console/drafts/{draft_id}")
    expect(fresh).to_have_url(f"{console.base}/console/drafts/{draft_id}")
    fresh.get_by_label("Note (optional)").fill("checked the duplicate")
    fresh.get_by_role("button", name="Approve").click()
    expect(fresh.get_by_role("heading", name="Approved and executed")).to_be_visible()
    expect(fresh.locator(".notice .exec-status")).to_have_text("success")
    screenshot(fresh, "draft-executed")

    events = httpx.get(
        f"{console.base}/api/agent-admin/v1/audit",
        params={"action": "agent_admin.draft.approve"},
        headers=_admin(console),
    ).json()["data"]["items"]
    outcomes = {(e["status"], e["code"], e["principal"]["kind"], e["principal"]["name"]) for e in events}
    assert ("denied", "agent.step_up_required", "console", "alice") in outcomes
    assert ("success", "common.success", "console", "alice") in outcomes


def test_keyboard_only_approval(console: Console) -> None:
    draft_id = _create(console, console.agent_token, "Keyboard coffee")
    alice = _sign_in(console, "approver", "alice")
    alice.goto(f"{console.base}/console/drafts/{draft_id}")
    for _ in range(80):
        alice.keyboard.press("Tab")
        if alice.evaluate("document.activeElement.textContent.trim()") == "Approve":
            break
    else:
        raise AssertionError("Tab never reached the Approve button")
    alice.keyboard.press("Enter")
    expect(alice.get_by_role("heading", name="Approved and executed")).to_be_visible()
    expect(alice.locator(".notice .exec-status")).to_have_text("success")


def test_reject_webhook_signatures_retries_and_replay(console: Console) -> None:
    token = console.agent_token
    draft_id = _create(console, token, "Rejected lunch")
    alice = _sign_in(console, "approver", "alice")
    created = _poll(lambda: console.receiver.for_draft(draft_id, "draft.created"), "draft.created")
    assert created[0].verdict == "ok" and created[0].answered == 200
    body = created[0].json
    assert body["type"] == "draft.created" and body["draft"]["tool"] == "transaction.create"
    assert body["draft"]["justification"] == "Book Rejected lunch"
    slack = _poll(lambda: console.receiver.for_draft(draft_id, path="/slack"), "the Slack message")
    assert (
        slack[0].verdict == "ok"
        and f"/console/drafts/{draft_id}|Open in the opp console" in slack[0].json["text"]
    )

    # The notification's link opens the draft behind sign-in; following it changes nothing.
    anonymous = console.browser.new_context().new_page()
    anonymous.goto(body["draft"]["url"])
    expect(anonymous).to_have_url(re.compile(r"/console/login\?next="))

    alice.goto(body["draft"]["url"])
    expect(alice.locator(".status-draft")).to_be_visible()
    alice.get_by_label("Reason (optional)").fill("not a business expense")
    alice.get_by_role("button", name="Reject").click()
    expect(alice.get_by_role("heading", name="Rejected")).to_be_visible()
    expect(alice.locator("main")).to_contain_text("not a business expense")

    decided = _poll(
        lambda: [r for r in console.receiver.for_draft(draft_id, "draft.decided") if r.answered == 200],
        "the retried draft.decided",
    )
    attempts = console.receiver.for_draft(draft_id, "draft.decided")
    assert [r.answered for r in attempts[:2]] == [503, 200]  # the receiver failed the first attempt
    assert {r.headers["x-opp-delivery"] for r in attempts} == {f"ops:draft.decided:{draft_id}"}
    assert attempts[0].headers["x-opp-timestamp"] <= attempts[1].headers["x-opp-timestamp"]
    assert all(r.verdict == "ok" for r in attempts[:2])
    assert decided[0].json["draft"]["status"] == "canceled"
    assert decided[0].json["draft"]["note"] == "not a business expense"

    replayed = decided[0]
    now = time.time()
    assert (
        verdict(console.receiver.secret, replayed.headers, replayed.body, console.receiver.accepted, now)
        == "replay"
    )
    forged_time = {**replayed.headers, "x-opp-timestamp": str(int(replayed.headers["x-opp-timestamp"]) + 7)}
    assert verdict(console.receiver.secret, forged_time, replayed.body, set(), now) == "bad_signature"
    stale = {**replayed.headers, "x-opp-timestamp": str(int(now) - 3600)}
    assert verdict(console.receiver.secret, stale, replayed.body, set(), now) == "stale"

    log = _sign_in(console, "auditor", "carol")
    log.goto(f"{console.base}/console/webhooks")
    row = log.locator("tr", has=log.get_by_role("link", name=draft_id)).filter(has_text="draft.decided")
    expect(row).to_contain_text("delivered")
    expect(row.locator("td").nth(5)).to_have_text("2")
    screenshot(log, "webhooks")


def test_refusals_self_approval_roles_and_forged_posts(console: Console) -> None:
    bob = _sign_in(console, "admin", "bob")
    bob.goto(f"{console.base}/console/apps")
    assert _axe(console, bob) == []
    bob.get_by_label("Name", exact=True).fill("Bob's agent")
    bob.get_by_label("Workspace (org_id)").fill("org_demo")
    bob.get_by_label(re.compile(r"^Scopes")).fill("transaction.write\ntransaction.read")
    bob.get_by_role("button", name="Create app and first key").click()
    expect(bob.get_by_text("shown only once")).to_be_visible()
    token = bob.locator("[data-token]").inner_text().strip()
    assert token.startswith("op_")
    app_id = re.search(r"/console/apps/(app_[0-9a-f]+)/", bob.content())
    assert app_id is not None
    bob.goto(f"{console.base}/console/apps/{app_id.group(1)}")  # the key is not shown again
    expect(bob.get_by_role("heading", name=re.compile("Bob's agent"))).to_be_visible()
    expect(bob.locator("[data-token]")).to_have_count(0)
    screenshot(bob, "app")
    assert _axe(console, bob) == []

    draft_id = _create(console, token, "Bob's own expense")
    bob.goto(f"{console.base}/console/drafts/{draft_id}")
    bob.get_by_role("button", name="Approve").click()
    expect(bob.locator("[role=alert]")).to_contain_text(
        "You may not approve a draft of your own app or agent."
    )
    expect(bob.locator("main")).to_contain_text("agent.approval_forbidden")
    assert _axe(console, bob) == []

    carol = _sign_in(console, "auditor", "carol")
    carol.goto(f"{console.base}/console/drafts/{draft_id}")
    expect(carol.get_by_role("button", name="Approve")).to_have_count(0)
    csrf = carol.locator("input[name=csrf]").first.get_attribute("value")
    answer = carol.request.post(
        f"{console.base}/console/drafts/{draft_id}/approve", form={"csrf": csrf or "", "note": "x"}
    )
    assert answer.status == 403 and "admin.forbidden" in answer.text()

    alice = _sign_in(console, "approver", "alice")
    alice.goto(f"{console.base}/console/drafts/{draft_id}")
    good_csrf = alice.locator("input[name=csrf]").first.get_attribute("value") or ""
    url = f"{console.base}/console/drafts/{draft_id}/approve"
    no_token = alice.request.post(url, form={"note": "forged"})
    assert no_token.status == 403 and "console.csrf_invalid" in no_token.text()
    wrong_token = alice.request.post(url, form={"csrf": "0" * 43, "note": "forged"})
    assert wrong_token.status == 403 and "console.csrf_invalid" in wrong_token.text()
    cross_site = alice.request.post(
        url, form={"csrf": good_csrf, "note": "forged"}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status == 403 and "console.csrf_invalid" in cross_site.text()
    no_cookie = httpx.post(url, data={"csrf": good_csrf})
    assert no_cookie.status_code == 401
    alice.reload()
    expect(alice.locator(".status-draft")).to_be_visible()  # nothing was approved

    events = httpx.get(
        f"{console.base}/api/agent-admin/v1/audit",
        params={"action": "agent_admin.draft.approve", "code": "console.csrf_invalid"},
        headers=_admin(console),
    ).json()["data"]["items"]
    assert len(events) >= 3 and {e["principal"]["name"] for e in events} == {"alice"}


def test_audit_page_chain_verification_and_export(console: Console) -> None:
    carol = _sign_in(console, "auditor", "carol")
    carol.goto(f"{console.base}/console/audit?action=console.sign_in")
    expect(carol.locator("table.audit tbody tr").first).to_contain_text("console.sign_in")
    screenshot(carol, "audit")
    assert _axe(console, carol) == []
    carol.goto(f"{console.base}/console/audit/verify")
    expect(carol.locator("[data-chain=ok]")).to_contain_text("The chain verifies")
    with carol.expect_download() as download:
        carol.evaluate(
            "() => { const a = document.createElement('a'); a.href = '/console/audit/export?format=jsonl';"
            " a.download = ''; document.body.appendChild(a); a.click(); }"
        )
    exported = download.value.path().read_text(encoding="utf-8")
    lines = [json.loads(line) for line in exported.splitlines() if line.strip()]
    actions = {(e["action"], (e.get("principal") or {}).get("kind")) for e in lines}
    assert ("console.sign_in", "console") in actions
    assert ("agent_admin.drafts.read", "console") in actions
    ocsf = carol.request.get(f"{console.base}/console/audit/export?format=ocsf")
    assert ocsf.status == 200 and all("class_uid" in json.loads(x) for x in ocsf.text().splitlines())
    bad = carol.request.get(f"{console.base}/console/audit?since=yesterday")
    assert bad.status == 400 and "since" in bad.text()
