"""Run the steps of one check against a gateway: requests, expectations, captures, audit queries."""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from opp.conformance.dpop_proofs import ProofKeys
from opp.conformance.matching import MISSING, lookup, match, substitute
from opp.conformance.model import Step

__all__ = ["ADMIN_AUDIT_PATH", "AUDIT_DEADLINE_S", "CheckFailed", "Session"]

ADMIN_AUDIT_PATH = "/api/agent-admin/v1/audit"
AUDIT_PAGE = 200
AUDIT_PAGES = 25
AUDIT_DEADLINE_S = 5.0
AUDIT_SETTLE_S = 0.3
"""An audit query passes only once the events it expects have been seen this long (late extras fail)."""


class CheckFailed(Exception):
    """A step's expectation did not hold (the message says which and what came back)."""


@dataclass
class Session:
    """The state of one run: the HTTP client, credentials, variables, DPoP keys, request ids."""

    client: httpx.Client
    tokens: Mapping[str, str]
    variables: dict[str, Any]
    run_id: str
    preset: frozenset[str] = frozenset()
    audit_deadline: float = AUDIT_DEADLINE_S
    """Seconds an audit assertion waits for the expected events before it fails."""
    """Variables given on the command line (steps with ``skip_if_set`` naming one are skipped)."""
    keys: ProofKeys = field(default_factory=ProofKeys)
    sleep: Callable[[float], None] = time.sleep

    def run_step(self, check_id: str, step: Step, log: list[str]) -> None:
        """Send the step (or run its audit query) and check its expectations.

        Raises:
            CheckFailed: an expectation failed, a variable was unset, or no response came back.
        """
        raw = step.raw
        if raw.get("skip_if_set") in self.preset:
            log.append(f"skipped (given: {raw['skip_if_set']})")
            return
        if "wait" in raw:
            self.sleep(float(raw["wait"]))
            return
        if "audit" in raw:
            self._audit(check_id, raw["audit"], log)
            return
        try:
            request = self._build(check_id, step)
        except KeyError as error:
            raise CheckFailed(f"variable {error} is not set (an earlier step did not capture it)") from None
        response = self._send(request, step, log)
        self._expect(step, response)

    # Requests.

    def _build(self, check_id: str, step: Step) -> httpx.Request:
        raw = step.raw
        if step.name:
            request_id = f"{self.run_id}-{check_id}-{step.name}"
            self.variables[f"req.{step.name}"] = request_id
        else:
            request_id = f"{self.run_id}-{check_id}-{time.monotonic_ns()}"
        method = str(raw["method"]).upper()
        path = str(substitute(raw["path"], self.variables))
        headers = {"X-Request-Id": request_id, **substitute(raw.get("headers") or {}, self.variables)}
        token = self._authorize(step, headers)
        payload: dict[str, Any] = {}
        if "json" in raw:
            payload["json"] = substitute(raw["json"], self.variables)
        elif "form" in raw:
            payload["data"] = substitute(raw["form"], self.variables)
        elif "body" in raw:
            payload["content"] = _body(substitute(raw["body"], self.variables))
            headers.setdefault("Content-Type", str(raw.get("content_type", "application/json")))
        request = self.client.build_request(
            method, path, params=substitute(raw.get("query"), self.variables), headers=headers, **payload
        )
        if "dpop" in raw:
            request.headers["DPoP"] = self._proof(raw["dpop"], request, token)
        return request

    def _authorize(self, step: Step, headers: dict[str, Any]) -> str | None:
        auth = substitute(step.auth, self.variables)
        if isinstance(auth, str):
            if auth == "none":
                return None
            token = self.tokens[auth]
            headers["Authorization"] = f"Bearer {token}"
            return token
        if "basic" in auth:
            user, password = (str(part) for part in auth["basic"])
            encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {encoded}"
            return None
        token = str(auth["token"])
        headers["Authorization"] = f"{auth.get('scheme', 'Bearer')} {token}"
        return token

    def _proof(self, spec: Mapping[str, Any], request: httpx.Request, token: str | None) -> str:
        spec = substitute(dict(spec), self.variables)
        if "reuse" in spec:
            return self.keys.saved[str(spec["reuse"])]
        htu = str(spec.get("htu") or str(request.url.copy_with(query=None, fragment=None)))
        proof = self.keys.proof(
            str(spec.get("key", "default")),
            htm=str(spec.get("htm", request.method)),
            htu=htu,
            access_token=token if spec.get("bind_token", True) else None,
        )
        if "save" in spec:
            self.keys.saved[str(spec["save"])] = proof
        return proof

    def _send(self, request: httpx.Request, step: Step, log: list[str]) -> httpx.Response:
        repeat = step.raw.get("repeat") or {}
        until = repeat.get("until_status")
        attempts = int(repeat.get("max", 1)) if until is not None else 1
        label = f"{request.method} {request.url.raw_path.decode()}"
        response: httpx.Response | None = None
        for attempt in range(1, attempts + 1):
            try:
                response = self.client.send(request)
                response.read()
            except httpx.HTTPError as error:
                raise CheckFailed(f"{label}: no response ({type(error).__name__}: {error})") from None
            if until is None or response.status_code == int(until):
                break
            if attempt < attempts:
                request = _fresh_copy(request)
        assert response is not None
        body = _json(response)
        code = body.get("code") if isinstance(body, dict) else None
        times = f" after {attempt} request(s)" if until is not None else ""
        log.append(f"{label} -> HTTP {response.status_code} {code or ''}{times}".rstrip())
        return response

    # Expectations.

    def _expect(self, step: Step, response: httpx.Response) -> None:
        expect = step.expect
        body = _json(response)
        label = f"{response.request.method} {response.request.url.path}"
        seen = f"HTTP {response.status_code}"
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            seen += f" {body['code']}"
        if "status" in expect and response.status_code != int(expect["status"]):
            raise CheckFailed(f"{label}: {seen}, expected HTTP {expect['status']}")
        if "code" in expect:
            wanted = substitute(expect["code"], self.variables)
            if not isinstance(body, dict) or body.get("code") != wanted:
                raise CheckFailed(f"{label}: {seen}, expected code {wanted}")
        for name, wanted in (expect.get("headers") or {}).items():
            value = response.headers.get(str(name))
            if wanted is True and value is None:
                raise CheckFailed(f"{label}: {seen} without the {name} header")
            if wanted is False and value is not None:
                raise CheckFailed(f"{label}: {seen} with an unexpected {name} header")
            if isinstance(wanted, str) and (value is None or wanted not in value):
                raise CheckFailed(f"{label}: {seen}, header {name} {value!r} lacks {wanted!r}")
        for path, matcher in (expect.get("fields") or {}).items():
            try:
                wanted = substitute(matcher, self.variables)
            except KeyError as error:
                raise CheckFailed(f"variable {error} is not set") from None
            fault = match(lookup(body, str(path)), wanted)
            if fault is not None:
                raise CheckFailed(f"{label}: {seen}, {path} {fault}")
        for name, path in (expect.get("capture") or {}).items():
            value = lookup(body, str(path))
            if value is MISSING:
                raise CheckFailed(f"{label}: {seen}, nothing at {path} to capture as {name}")
            self.variables[str(name)] = value

    # Audit.

    def _audit(self, check_id: str, spec: Mapping[str, Any], log: list[str]) -> None:
        try:
            spec = substitute(dict(spec), self.variables)
            request_id = str(self.variables[f"req.{spec['request']}"])
        except KeyError as error:
            raise CheckFailed(f"audit: variable {error} is not set") from None
        wanted = [dict(event) for event in spec["events"]] if "events" in spec else None
        forbidden = {str(action) for action in spec.get("none_of") or []}
        deadline = time.monotonic() + self.audit_deadline
        matched_since: float | None = None
        while True:
            events = self._audit_events(request_id, spec.get("app"))
            fault = _compare_events(events, wanted, forbidden)
            now = time.monotonic()
            if fault is None:
                matched_since = matched_since or now
                if now - matched_since >= AUDIT_SETTLE_S:
                    log.append(f"audit {spec['request']}: {_event_list(events) or 'no event'}")
                    return
            else:
                matched_since = None
                if now > deadline:
                    raise CheckFailed(f"audit of request {spec['request']} ({request_id}): {fault}")
            self.sleep(0.1)

    def _audit_events(self, request_id: str, app_id: Any) -> list[dict[str, Any]]:
        token = self.tokens.get("auditor") or self.tokens["admin"]
        params: dict[str, Any] = {"limit": AUDIT_PAGE, "since": self.variables["run_started"]}
        if app_id:
            params["appId"] = str(app_id)
        found: list[dict[str, Any]] = []
        for _ in range(AUDIT_PAGES):
            response = self.client.get(
                ADMIN_AUDIT_PATH, params=params, headers={"Authorization": f"Bearer {token}"}
            )
            data = (_json(response) or {}).get("data") if response.status_code == 200 else None
            if not isinstance(data, dict):
                raise CheckFailed(f"audit API: HTTP {response.status_code}")
            found += [
                e
                for e in data.get("items") or []
                if isinstance(e, dict) and e.get("request_id") == request_id
            ]
            cursor = data.get("nextCursor")
            if not cursor:
                break
            params["cursor"] = cursor
        return found


def _compare_events(
    events: list[dict[str, Any]], wanted: list[dict[str, Any]] | None, forbidden: set[str]
) -> str | None:
    present = sorted({str(e.get("action")) for e in events} & forbidden)
    if present:
        return f"unexpected event(s) {', '.join(present)}"
    if wanted is None:
        return None
    if len(events) != len(wanted):
        return (
            f"{len(events)} event(s) [{_event_list(events)}], expected {len(wanted)} [{_event_list(wanted)}]"
        )
    remaining = list(events)
    for expected in wanted:
        hit = next((e for e in remaining if all(e.get(k) == v for k, v in expected.items())), None)
        if hit is None:
            return f"no event like {expected} among [{_event_list(events)}]"
        remaining.remove(hit)
    return None


def _event_list(events: list[dict[str, Any]]) -> str:
    names = Counter(f"{e.get('action')}/{e.get('status', '-')}/{e.get('code', '-')}" for e in events)
    return ", ".join(f"{name}" + (f" x{count}" if count > 1 else "") for name, count in names.items())


def _body(spec: Any) -> bytes:
    """A raw body: text as is, ``{padded_bytes: N}`` (a JSON object of about N bytes) or
    ``{nested_depth: N}`` (N nested JSON arrays)."""
    if isinstance(spec, dict) and "padded_bytes" in spec:
        return b'{"action": "' + b"a" * int(spec["padded_bytes"]) + b'"}'
    if isinstance(spec, dict) and "nested_depth" in spec:
        depth = int(spec["nested_depth"])
        return b"[" * depth + b"]" * depth
    return str(spec).encode()


def _fresh_copy(request: httpx.Request) -> httpx.Request:
    return httpx.Request(request.method, request.url, headers=request.headers, content=request.content)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
