"""The first steps of an explanation: who is calling (credential, then app, actor and tenant).

A token goes through the gateway's own :class:`~opp.auth.keys.KeyAuthenticator` against the
configured store; ``--app`` reads the app from the store (or from ``gateway.yaml`` when it is
declared there but not yet stored); with neither, a hypothetical app stands for the caller.
"""

from __future__ import annotations

from typing import Any

import msgspec

from opp.auth.keys import KeyAuthenticator
from opp.auth.principal import Principal
from opp.auth.tokens import AGENT_TOKEN_PREFIX, hash_token, is_opaque_token
from opp.clock import Clock, IdFactory
from opp.codes import ReasonCode
from opp.compile.plan import Plan
from opp.errors import OppError
from opp.explain.model import ExplainError, Step, Subject
from opp.integrations.service import IntegrationService
from opp.store.protocols import Store
from opp.store.records import AppRecord, KeyRecord

__all__ = ["HYPOTHETICAL_APP_ID", "resolve_caller"]

HYPOTHETICAL_APP_ID = "app_hypothetical"


def _key_details(key: KeyRecord) -> dict[str, Any]:
    return {
        "keyId": key.id,
        "appId": key.app_id,
        "tokenPrefix": key.token_prefix,
        "revokedAt": key.revoked_at,
        "expiresAt": key.expires_at,
    }


async def _credential(store: Store, clock: Clock, token: str) -> tuple[Step, Principal | None]:
    found = await store.keys.find_by_hash(hash_token(token))
    details = _key_details(found[0]) if found else {"found": False}
    try:
        if not is_opaque_token(token, AGENT_TOKEN_PREFIX):
            raise OppError(ReasonCode.TOKEN_INVALID, "Malformed credential.")
        principal = await KeyAuthenticator(store, clock).authenticate_token(token)
    except OppError as error:
        if error.code is ReasonCode.FORBIDDEN:  # the key is fine; its app has no actor
            return Step(
                name="credential", status="passed", summary="Key found and active.", details=details
            ), None
        summary = error.message if found else f"{error.message} (no key with this token in the store)"
        return Step(
            name="credential", status="failed", summary=summary, code=error.code, details=details
        ), None
    return Step(
        name="credential", status="passed", summary="Key found and active.", details=details
    ), principal


class _Apps:
    def __init__(self, plan: Plan, store: Store, clock: Clock) -> None:
        self._plan = plan
        self._store = store
        self._integrations = IntegrationService(plan, store, clock, IdFactory())
        self._now = clock.now()

    async def stored_or_declared(self, app_id: str) -> AppRecord:
        app = await self._store.apps.get(app_id) or self._integrations.declared_app(app_id)
        if app is None:
            raise ExplainError(f"app {app_id!r} is neither in the store nor declared in {self._plan.source}")
        return app

    def hypothetical(self, subject: Subject) -> AppRecord:
        return AppRecord(
            id=HYPOTHETICAL_APP_ID,
            name="Hypothetical caller",
            scope="workspace" if subject.tenant else "personal",
            org_id=subject.tenant,
            user_id=None if subject.tenant else "usr_hypothetical",
            scopes=tuple(subject.scopes or ()),
            policy=self._integrations.normalise_policy({}),
            created_at=self._now,
            updated_at=self._now,
        )

    def with_overrides(self, app: AppRecord, subject: Subject) -> AppRecord:
        changes: dict[str, Any] = {}
        if subject.scopes is not None:
            changes["scopes"] = subject.scopes
        if subject.tenant is not None:
            changes["org_id"] = subject.tenant
        if subject.policy_data is not None:
            try:
                policy = self._integrations.normalise_policy({**app.policy, "data": subject.policy_data})
            except OppError as error:
                raise ExplainError(f"--policy-data: {error.message}") from None
            changes["policy"] = policy
        return msgspec.structs.replace(app, **changes) if changes else app


def _app_step(principal: Principal, overridden: bool) -> Step:
    app = principal.app
    what = "hypothetical caller" if app.id == HYPOTHETICAL_APP_ID else f"app {app.id} ({app.name})"
    details = {
        "appId": app.id,
        "appStatus": app.status,
        "scope": app.scope,
        "actor": principal.actor_user_id,
        "tenant": principal.tenant,
    }
    if overridden:
        details["overridden"] = "scopes, tenant or data policy given on the command line"
    summary = f"{what}, acting as {principal.actor_user_id} in tenant {principal.tenant or '(none)'}"
    return Step(name="app", status="passed", summary=summary, details=details)


async def resolve_caller(
    plan: Plan, store: Store, clock: Clock, subject: Subject
) -> tuple[list[Step], Principal | None]:
    """The credential and app steps, and the principal when one could be resolved."""
    apps = _Apps(plan, store, clock)
    overridden = subject.scopes is not None or subject.tenant is not None or subject.policy_data is not None
    key: KeyRecord | None = None
    if subject.token is not None:
        step, authenticated = await _credential(store, clock, subject.token)
        if step.status == "failed":
            return [step, Step(name="app", status="skipped", summary="No valid credential.")], None
        if authenticated is not None:
            app, key = authenticated.app, authenticated.key
        else:
            app = await apps.stored_or_declared(str(step.details["appId"]))
    else:
        summary = "No credential: explaining for a principal description (any key of the app)."
        step = Step(name="credential", status="skipped", summary=summary)
        app = await apps.stored_or_declared(subject.app_id) if subject.app_id else apps.hypothetical(subject)
        if app.status != "active":
            failed = Step(name="app", status="failed", summary="App revoked.", code=ReasonCode.TOKEN_INVALID)
            return [step, failed], None
    app = apps.with_overrides(app, subject)
    try:
        principal = Principal.of_app(app, key)
    except OppError as error:
        details = {"appId": app.id}
        failed = Step(name="app", status="failed", summary=error.message, code=error.code, details=details)
        return [step, failed], None
    return [step, _app_step(principal, overridden)], principal
