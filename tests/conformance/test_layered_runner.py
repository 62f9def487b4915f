"""The layered runner judges what it sees: against httpx mocks of a conforming and of non-conforming
gateways, the same checks pass and fail; skips, the baseline, the reports and the exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from opp.cli import conformance as cli
from opp.cli.main import build_parser
from opp.conformance.matching import MISSING, lookup, match, substitute
from opp.conformance.model import load_named_profiles, parse_profile
from opp.conformance.outcomes import CheckOutcome
from opp.conformance.reports import apply_baseline, exit_status, junit_xml
from opp.conformance.runner import Credentials, run_profiles

AGENT = "op_agent"
ADMIN = "opa_admin"
HASHES = {
    "transaction.create": "ceee42315fdba4bd2bcdc496ace75672b7aca4f805b81787b9762dfc37b84f9b",
    "transactions.export_csv": "af3c2939c4d579063606e74acdfb68c2938f492e20482e7e1c30c943a6375222",
}
Handler = Callable[[httpx.Request], httpx.Response]


def _error(status: int, code: str, **extra: Any) -> httpx.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="test"'} if status == 401 else {}
    return httpx.Response(status, headers=headers, json={"ok": False, "code": code, "message": "no", **extra})


def _ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"ok": True, "code": "common.success", "data": data})


class CoreGateway:
    """A small in-memory gateway that conforms to the core profile; tests break one thing at a time."""

    def __init__(self) -> None:
        self.drafts: dict[str, dict[str, Any]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {AGENT}":
            return _error(401, "agent.token_invalid")
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        if path == "/api/agent/v1/manifest":
            app = {"id": "app_demo", "orgId": "org_demo"}
            return _ok({"app": app, "tools": [{"name": "ledger.list"}]})
        if path == "/api/agent/v1/ledgers":
            return _ok({"items": [{"id": "ledger_main"}, {"id": "ledger_ops"}]})
        if path == "/api/agent/v1/transactions":
            if "ledgerId" not in request.url.params:
                return _error(400, "common.validation", details={"issues": [{"code": "required"}]})
            return _ok({"items": []})
        if path == "/api/agent/v1/preflight":
            action = body["action"]
            return _ok(
                {
                    "impactHash": HASHES.get(action, "ab" * 32),
                    "preflightId": "pfl_1",
                    "risk": "high" if action == "transaction.delete" else "medium",
                    "stateWitnessHash": "cd" * 32,
                }
            )
        if path == "/api/agent/v1/actions":
            if body["action"] != "transaction.create":
                return _error(400, "agent.action_unknown")
            draft = {"id": f"drf_{len(self.drafts)}", "status": "draft"}
            self.drafts[draft["id"]] = draft
            return _ok({"status": "draft", "draft": draft, "autoExecuteDeniedCode": None})
        if path.startswith("/api/agent/v1/drafts/"):
            found = self.drafts.get(path.rsplit("/", 1)[1])
            return _ok({"draft": found, "execution": None}) if found else _error(404, "agent.draft_not_found")
        return _error(404, "common.not_found")


def _run(
    handler: Handler, profiles: list[str], credentials: Credentials | None = None
) -> dict[str, CheckOutcome]:
    outcomes = run_profiles(
        "http://gateway.test",
        load_named_profiles(profiles),
        credentials or Credentials(agent=AGENT),
        transport=httpx.MockTransport(handler),
    )
    return {outcome.id: outcome for outcome in outcomes}


def test_a_conforming_gateway_passes_the_core_profile() -> None:
    outcomes = _run(CoreGateway(), ["core"])
    assert {o.status for o in outcomes.values()} == {"passed"}, [o.reason for o in outcomes.values()]


def test_a_manifest_served_without_a_credential_fails() -> None:
    gateway = CoreGateway()

    def open_manifest(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/agent/v1/manifest":
            return _ok({"app": {"id": "app_demo"}, "tools": []})
        return gateway(request)

    outcomes = _run(open_manifest, ["core"])
    assert outcomes["core.manifest-requires-credential"].status == "failed"
    assert "HTTP 200" in outcomes["core.manifest-requires-credential"].reason
    assert outcomes["core.reference-runner"].status == "failed"
    assert outcomes["core.manifest"].status == "failed"  # tools: [] is not a non-empty list


def test_a_wrong_impact_hash_or_a_lost_draft_fails() -> None:
    gateway = CoreGateway()

    def broken(request: httpx.Request) -> httpx.Response:
        response = gateway(request)
        if request.url.path == "/api/agent/v1/preflight":
            return _ok({**response.json()["data"], "impactHash": "00" * 32})
        if request.url.path.startswith("/api/agent/v1/drafts/"):
            return _error(404, "agent.draft_not_found")
        return response

    outcomes = _run(broken, ["core"])
    assert outcomes["core.impact-hash-vectors"].status == "failed"
    assert "ceee4231" in outcomes["core.impact-hash-vectors"].reason
    assert outcomes["core.reference-runner"].status == "failed"
    assert "expected HTTP 200" in outcomes["core.reference-runner"].reason
    assert outcomes["core.manifest"].status == "passed"


def test_a_500_instead_of_a_validation_envelope_fails() -> None:
    gateway = CoreGateway()

    def crashing(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/agent/v1/transactions" and "ledgerId" not in request.url.params:
            return httpx.Response(500, text="Traceback (most recent call last)")
        return gateway(request)

    assert _run(crashing, ["core"])["core.error-envelope"].status == "failed"


def test_checks_without_their_credentials_are_skipped_not_failed() -> None:
    outcomes = _run(CoreGateway(), ["authz"])
    assert outcomes["authz.revoked-key"].status == "skipped"
    assert "admin" in outcomes["authz.revoked-key"].reason
    assert exit_status(list(outcomes.values())) == 1  # cross-tenant check fails on this mock
    skipped_only = [o for o in outcomes.values() if o.status == "skipped"]
    assert exit_status(skipped_only) == 0
    assert exit_status(skipped_only, require_all=True) == 1


AUDIT_PROFILE = {
    "profile": "demo",
    "checks": [
        {
            "id": "demo.audited",
            "layer": "demo",
            "spec": "§9",
            "title": "one event",
            "steps": [
                {"name": "read", "method": "GET", "path": "/api/agent/v1/ledgers", "expect": {"status": 200}},
                {
                    "audit": {
                        "request": "read",
                        "events": [{"action": "agent.ledger.list.read", "status": "success"}],
                    }
                },
            ],
        }
    ],
}


def _audited_gateway(extra_events: int) -> Handler:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/agent/v1/ledgers":
            seen.append(request.headers["x-request-id"])
            return _ok({"items": []})
        if request.url.path == "/api/agent-admin/v1/audit":
            assert request.headers["authorization"] == f"Bearer {ADMIN}"
            events = [
                {"action": "agent.ledger.list.read", "status": "success", "request_id": rid}
                for rid in seen
                for _ in range(1 + extra_events)
            ]
            events.append(
                {"action": "agent.manifest.read", "status": "success", "request_id": "someone-else"}
            )
            return _ok({"items": events, "nextCursor": None})
        return _error(404, "common.not_found")

    return handler


@pytest.mark.parametrize(("extra", "status"), [(0, "passed"), (1, "failed")])
def test_audit_assertions_require_exactly_the_expected_events(extra: int, status: str) -> None:
    profile = parse_profile(AUDIT_PROFILE, "demo.yaml")
    outcomes = run_profiles(
        "http://gateway.test",
        [profile],
        Credentials(agent=AGENT, admin=ADMIN),
        transport=httpx.MockTransport(_audited_gateway(extra)),
        variables={"tenant": "org_demo"},
        audit_deadline=0.5,
    )
    assert outcomes[0].status == status, outcomes[0].reason
    if status == "failed":
        assert "2 event(s)" in outcomes[0].reason


def test_a_gateway_that_accepts_replayed_dpop_proofs_fails() -> None:
    def lax(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            assert request.headers["authorization"].startswith("Basic ") and "DPoP" in request.headers
            return httpx.Response(200, json={"access_token": "at_1", "token_type": "DPoP"})
        if request.url.path == "/api/agent/v1/ledgers":
            return _ok({"items": []})
        return _error(404, "common.not_found")

    credentials = Credentials(agent=AGENT, admin=ADMIN, oauth_client_id="app_1", oauth_client_secret="op_s")
    outcome = _run(lax, ["dpop"], credentials)["dpop.bound-token"]
    assert outcome.status == "failed"
    assert "step 4" in outcome.reason and "expected HTTP 401" in outcome.reason


def test_baseline_marks_expected_failures_and_reports_unexpected_passes() -> None:
    outcomes = [
        CheckOutcome("a.one", "a", "§1", "t", "failed", "broke"),
        CheckOutcome("a.two", "a", "§1", "t", "passed"),
        CheckOutcome("b.three", "b", "§2", "t", "skipped", "needs admin"),
    ]
    judged = apply_baseline(outcomes, {"a.one": "known", "a.two": "fixed since?"})
    assert [o.status for o in judged] == ["expected-failure", "unexpected-pass", "skipped"]
    assert exit_status(judged) == 0
    suites = ElementTree.fromstring(junit_xml(judged))
    assert [suite.get("name") for suite in suites] == ["a", "b"]
    cases = {case.get("name"): case for case in suites.iter("testcase")}
    assert cases["a.one"].get("classname") == "a" and cases["a.one"].find("skipped") is not None
    assert cases["b.three"].find("skipped") is not None


def test_junit_lists_failures_with_their_reason() -> None:
    xml = junit_xml(
        [CheckOutcome("a.one", "a", "§1", "t", "failed", "step 2: HTTP 500", ["GET /x -> HTTP 500"])]
    )
    failure = ElementTree.fromstring(xml).find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "step 2: HTTP 500"


def _cli(*args: str) -> int:
    parsed = build_parser().parse_args(["conformance", *args])
    return cli.run(parsed)


def test_cli_exit_codes_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = httpx.Client

    def mocked(*args: Any, **kwargs: Any) -> httpx.Client:
        kwargs["transport"] = httpx.MockTransport(CoreGateway())
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "Client", mocked)
    junit, report = tmp_path / "j.xml", tmp_path / "r.json"
    base = ["--base-url", "http://gateway.test", "--token", AGENT]
    assert _cli(*base, "--profile", "core", "--junit", str(junit), "--json", str(report)) == 0
    names = [case.get("name") for case in ElementTree.parse(junit).iter("testcase")]
    assert names == [check.id for check in load_named_profiles(["core"])[0].checks]
    assert json.loads(report.read_text())["passed"] is True
    assert _cli(*base, "--profile", "core", "--profile", "writes") == 0  # writes needs admin: skipped
    assert _cli(*base, "--profile", "writes", "--require-all") == 1
    assert _cli(*base, "--profile", "authz") == 1
    assert _cli(*base, "--profile", "nope") == 2
    baseline = tmp_path / "baseline.yaml"
    outcomes = [o for o in _run(CoreGateway(), ["authz"]).values() if o.status == "failed"]
    baseline.write_text(
        "expected_failures:\n" + "".join(f"  - {{id: {o.id}, reason: mock}}\n" for o in outcomes)
    )
    assert _cli(*base, "--profile", "authz", "--baseline", str(baseline)) == 0
    baseline.write_text("not: a baseline\n")
    assert _cli(*base, "--profile", "authz", "--baseline", str(baseline)) == 2


def test_paths_matchers_and_variables() -> None:
    document = {"data": {"items": [{"id": "a"}, {"id": "b"}], "flag": True, "n": 1}}
    assert lookup(document, "data.items.1.id") == "b"
    assert lookup(document, "data.items.#") == 2
    assert lookup(document, "data.items.*.id") == ["a", "b"]
    assert lookup(document, "data.nothing") is MISSING
    assert match(lookup(document, "data.items.*.id"), {"same_items": ["b", "a"]}) is None
    assert match(lookup(document, "data.items.*.id"), {"excludes": "a"}) is not None
    assert match(True, 1) is not None  # a boolean is not the number 1
    assert match(1, True) is not None
    assert match(MISSING, {"present": False}) is None
    assert match("x", {"present": False}) is not None
    assert match("abc", {"matches": "^a", "type": "string"}) is None
    assert match(None, {"type": "string"}) is not None
    assert substitute({"k": "{n}", "s": "id-{n}"}, {"n": 3}) == {"k": 3, "s": "id-3"}
    with pytest.raises(KeyError):
        substitute("{unset}", {})
