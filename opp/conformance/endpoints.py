"""Endpoint existence and envelope-shape checks of a conformance profile."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from opp.conformance.probe import Observation, Prober
from opp.conformance.results import CheckResult

__all__ = ["PLACEHOLDER_ID", "check_endpoint", "check_envelope"]

PLACEHOLDER_ID = "opp_conformance_placeholder"
"""Stands in for every ``{param}`` of a templated path; a domain 404 for it proves the route exists."""

ROUTE_NOT_FOUND = "common.not_found"
_PATH_PARAM = re.compile(r"\{[^/{}]+\}")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_SHOWN_OFFENDERS = 3


def check_endpoint(prober: Prober, endpoint: Mapping[str, Any]) -> CheckResult:
    """The route answers for its method: not 404 ``common.not_found``, not 405, not a 5xx.

    Any other answer (200, a 400 for the empty probe body, a 401/403, a domain 404 such as
    ``agent.draft_not_found`` for the placeholder id) shows the gateway serves the route.
    """
    method = str(endpoint["method"]).upper()
    path = str(endpoint["path"])
    check_id = f"endpoint:{method} {path}"
    description = f"{method} {path} is served"
    concrete = _PATH_PARAM.sub(PLACEHOLDER_ID, path)
    seen = prober.send(method, concrete, json_body={} if method in _WITH_BODY else None)
    passed, detail = _route_served(seen)
    return CheckResult(check_id, description, passed, detail)


def _route_served(seen: Observation) -> tuple[bool, str]:
    summary = seen.summary()
    if seen.status is None:
        return False, summary
    if seen.status == 405:
        return False, f"{summary}: the path is not served for this method"
    if seen.status == 404 and seen.code in (ROUTE_NOT_FOUND, None):
        return False, f"{summary}: no such route"
    if seen.status >= 500:
        return False, f"{summary}: server error"
    if seen.status == 404:
        return True, f"{summary} (domain answer for the placeholder id: the route exists)"
    return True, summary


def check_envelope(kind: str, rule: Mapping[str, Any], observations: Iterable[Observation]) -> CheckResult:
    """Every observed answer of ``kind`` (``success``: 2xx, ``error``: 4xx/5xx) has the envelope shape.

    ``rule`` is the profile's ``envelope.<kind>``: ``{"ok": bool, "requiredFields": [...]}``. The
    ``code`` must also be a string. The check fails when no answer of that kind was observed.
    """
    expected_ok = bool(rule["ok"])
    required = [str(field) for field in rule["requiredFields"]]
    description = f"{kind} responses carry {', '.join(required)} with ok={str(expected_ok).lower()}"
    relevant = [seen for seen in observations if seen.status is not None and _is_kind(kind, seen.status)]
    if not relevant:
        return CheckResult(f"envelope:{kind}", description, False, f"no {kind} response was observed")
    offenders = [
        f"{seen.label} (HTTP {seen.status}): {fault}"
        for seen in relevant
        if (fault := _envelope_fault(seen, expected_ok, required)) is not None
    ]
    if offenders:
        shown = "; ".join(offenders[:_SHOWN_OFFENDERS])
        more = len(offenders) - _SHOWN_OFFENDERS
        detail = f"{len(offenders)} of {len(relevant)} {kind} responses malformed: {shown}"
        if more > 0:
            detail += f" (+{more} more)"
        return CheckResult(f"envelope:{kind}", description, False, detail)
    return CheckResult(f"envelope:{kind}", description, True, f"{len(relevant)} {kind} responses conform")


def _is_kind(kind: str, status: int) -> bool:
    return 200 <= status < 300 if kind == "success" else status >= 400


def _envelope_fault(seen: Observation, expected_ok: bool, required: list[str]) -> str | None:
    body = seen.body
    if not isinstance(body, dict):
        return seen.problem or "body is not a JSON object"
    missing = [field for field in required if field not in body]
    if missing:
        return f"missing {', '.join(missing)}"
    if body.get("ok") is not expected_ok:
        return f"ok is {body.get('ok')!r}, expected {expected_ok!r}"
    if "code" in body and not isinstance(body["code"], str):
        return "code is not a string"
    return None
