"""Run layered conformance profiles against any OPP gateway, knowing only its URL and credentials.

Before the checks, the runner learns two facts through the protocol itself: the agent app's id and
workspace (``GET /api/agent/v1/manifest`` → ``{agent_app_id}``, ``{tenant}``) and, with an admin
token, the app's service user (``GET /api/agent-admin/v1/apps/{id}`` → ``{actor}``), so that checks
can create apps of their own in the same workspace. Other variables: ``{base_url}``, ``{run}`` (a
unique id of this run), ``{expires_1h}`` (now + 1 hour, RFC 3339), ``{run_started}``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from opp.conformance.model import Check, Profile
from opp.conformance.outcomes import CheckOutcome
from opp.conformance.steps import AUDIT_DEADLINE_S, CheckFailed, Session

__all__ = ["Credentials", "run_profiles"]

AGENT_MANIFEST = "/api/agent/v1/manifest"
ADMIN_APPS = "/api/agent-admin/v1/apps"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the runner may present. A check that needs a credential not given is skipped."""

    agent: str | None = None
    admin: str | None = None
    approver: str | None = None
    auditor: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None

    def tokens(self) -> dict[str, str]:
        named = {"agent": self.agent, "admin": self.admin, "approver": self.approver, "auditor": self.auditor}
        return {name: token for name, token in named.items() if token}

    def available(self) -> set[str]:
        """Named credentials present, plus ``audit`` when the audit API can be read."""
        names = set(self.tokens())
        if self.auditor or self.admin:
            names.add("audit")
        return names

    def preset(self) -> dict[str, str]:
        """Variables given on the command line."""
        given = {"oauth_client_id": self.oauth_client_id, "oauth_client_secret": self.oauth_client_secret}
        return {name: value for name, value in given.items() if value}


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _discover(client: httpx.Client, credentials: Credentials) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if credentials.agent:
        response = client.get(AGENT_MANIFEST, headers={"Authorization": f"Bearer {credentials.agent}"})
        app = _data(response).get("app") or {}
        if isinstance(app, dict):
            found.update({"agent_app_id": app.get("id"), "tenant": app.get("orgId")})
    if credentials.admin and found.get("agent_app_id"):
        response = client.get(
            f"{ADMIN_APPS}/{found['agent_app_id']}", headers={"Authorization": f"Bearer {credentials.admin}"}
        )
        app = _data(response).get("app") or {}
        if isinstance(app, dict):
            found["actor"] = app.get("service_user_id") or app.get("user_id")
    return {name: value for name, value in found.items() if value}


def _data(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    data = body.get("data") if isinstance(body, dict) and response.status_code == 200 else None
    return data if isinstance(data, dict) else {}


def _run_check(session: Session, check: Check, available: set[str]) -> CheckOutcome:
    outcome = CheckOutcome(check.id, check.layer, check.spec, check.title, "passed")
    missing = sorted(check.credentials(set(session.preset)) - available)
    if missing:
        outcome.status, outcome.reason = "skipped", f"needs credential(s) not given: {', '.join(missing)}"
        return outcome
    session.variables.update(expires_1h=_rfc3339(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)))
    for number, step in enumerate(check.steps, 1):
        try:
            session.run_step(check.id, step, outcome.log)
        except CheckFailed as failure:
            outcome.status, outcome.reason = "failed", f"step {number}: {failure}"
            return outcome
    return outcome


def run_profiles(
    base_url: str,
    profiles: Iterable[Profile],
    credentials: Credentials,
    *,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
    variables: Mapping[str, Any] | None = None,
    audit_deadline: float = AUDIT_DEADLINE_S,
) -> list[CheckOutcome]:
    """Run every check of ``profiles`` in order against the gateway at ``base_url``.

    Args:
        base_url: The gateway's origin, e.g. ``http://127.0.0.1:8080`` (its public URL: DPoP ``htu``).
        profiles: The profiles to run (:func:`opp.conformance.model.load_named_profiles`).
        credentials: The tokens given; checks needing others are skipped.
        timeout: Seconds per request.
        transport: An httpx transport instead of the network (tests of the runner).
        variables: Extra variables (override the discovered ones).
        audit_deadline: Seconds an audit assertion waits for its events to appear.

    Returns:
        One outcome per check, in profile order.
    """
    base = base_url.rstrip("/")
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    with httpx.Client(base_url=base, timeout=timeout, transport=transport, trust_env=False) as client:
        preset = credentials.preset()
        values: dict[str, Any] = {
            "base_url": base,
            "run": f"conf{secrets.token_hex(4)}",
            "run_started": started.isoformat().replace("+00:00", "Z"),
            **_discover(client, credentials),
            **preset,
            **(variables or {}),
        }
        session = Session(
            client,
            credentials.tokens(),
            values,
            str(values["run"]),
            preset=frozenset(preset),
            audit_deadline=audit_deadline,
        )
        available = credentials.available()
        return [_run_check(session, check, available) for profile in profiles for check in profile.checks]
